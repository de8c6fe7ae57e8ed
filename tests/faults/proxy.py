"""A TCP proxy on loopback that a test can cut, restore or slow down while traffic flows.

It runs its own event loop in a daemon thread, so it keeps forwarding whatever the test's loop or
the server's loop is doing. Every method is called from the test's thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

_CHUNK = 64 * 1024


class TcpProxy:
    """Forwards ``127.0.0.1:<port>`` to ``upstream_host:upstream_port``.

    ``cut()`` stops listening and aborts every connection, so clients see a dropped connection and
    then "connection refused"; ``restore()`` listens again on the same port. ``cut_after(n)`` cuts
    once ``n`` more bytes have gone from clients to the upstream (mid-transaction, say);
    ``cut_at(pattern)`` when a client sends given bytes. ``delay`` holds every chunk that many
    seconds before forwarding it, in both directions.
    """

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self._upstream = (upstream_host, upstream_port)
        self.port = 0
        self.delay = 0.0
        self.bytes_up = 0
        self.bytes_down = 0
        self.connections = 0
        self.cuts = 0
        self._budget: int | None = None
        self._pattern: tuple[bytes, bool] | None = None
        self._mute_replies = False
        self._cut_done = threading.Event()
        self._server: asyncio.Server | None = None
        self._links: set[_Link] = set()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="tcp-proxy", daemon=True
        )
        self._thread.start()

    @property
    def address(self) -> str:
        """``127.0.0.1:port`` clients connect to."""
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        """Listen (on a free port the first time, on the same port afterwards)."""
        self._call(self._listen())

    def restore(self) -> None:
        """Listen again after a cut, on the same port."""
        self._call(self._listen())

    def cut(self) -> None:
        """Stop listening and abort every open connection, both sides."""
        self._call(self._cut())

    def cut_after(self, upstream_bytes: int) -> threading.Event:
        """Cut once ``upstream_bytes`` more bytes have been forwarded to the upstream.

        Returns an event set when the cut happened.
        """
        self._cut_done.clear()
        self._budget = upstream_bytes
        return self._cut_done

    def cut_at(self, pattern: bytes, *, forward: bool) -> threading.Event:
        """Cut when a client sends a chunk holding ``pattern``, after forwarding it or not.

        E.g. ``b"COMMIT"``: not forwarded, a transaction dies with every statement run but not
        committed; forwarded, it commits but its client never hears so.
        """
        self._cut_done.clear()
        self._pattern = (pattern, forward)
        return self._cut_done

    def close(self) -> None:
        """Cut everything and stop the proxy's thread; safe to call twice."""
        if not self._thread.is_alive():
            return
        self._call(self._shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def _call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=10)

    async def _listen(self) -> None:
        if self._server is not None:
            return
        self._server = await asyncio.start_server(
            self._accept, "127.0.0.1", self.port, reuse_address=True
        )
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def _cut(self) -> None:
        self._budget = None
        self._pattern = None
        self.cuts += 1
        if self._server is not None:
            self._server.close()
            self._server = None
        for link in list(self._links):
            link.abort()
        self._mute_replies = False
        self._cut_done.set()

    async def _shutdown(self) -> None:
        await self._cut()
        others = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self._upstream)
        except OSError:
            writer.transport.abort()
            return
        link = _Link(writer, up_writer)
        self._links.add(link)
        self.connections += 1
        pumps = [
            asyncio.create_task(self._pump(reader, up_writer, upward=True)),
            asyncio.create_task(self._pump(up_reader, writer, upward=False)),
        ]
        try:
            await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for pump in pumps:
                pump.cancel()
            await asyncio.gather(*pumps, return_exceptions=True)
            link.abort()
            self._links.discard(link)

    async def _pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, upward: bool
    ) -> None:
        with contextlib.suppress(OSError):
            while data := await reader.read(_CHUNK):
                if self.delay:
                    await asyncio.sleep(self.delay)
                cut_now = False
                if upward:
                    if self._budget is not None:
                        self._budget -= len(data)
                        if self._budget <= 0:
                            await self._cut()  # this chunk never arrives
                            return
                    if self._pattern is not None and self._pattern[0] in data:
                        if not self._pattern[1]:
                            await self._cut()
                            return
                        cut_now = True
                        self._mute_replies = True  # the client must not hear the answer
                    self.bytes_up += len(data)
                elif self._mute_replies:
                    continue
                else:
                    self.bytes_down += len(data)
                writer.write(data)
                await writer.drain()
                if cut_now:
                    await asyncio.sleep(0.2)  # let the upstream read it before its socket dies
                    await self._cut()
                    return


class _Link:
    """One proxied connection: the client's side and the upstream's side."""

    def __init__(self, client: asyncio.StreamWriter, upstream: asyncio.StreamWriter) -> None:
        self._writers = (client, upstream)

    def abort(self) -> None:
        for writer in self._writers:
            writer.transport.abort()

"""Wires the server together: store, cache, servicer, health, reflection, graceful shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from concurrent.futures import ThreadPoolExecutor

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from papersift.core.errors import StoreUnavailable
from papersift.core.store import Store
from papersift.server import startup
from papersift.server.api_keys import load_api_keys
from papersift.server.auth import AuthInterceptor
from papersift.server.cache import RankCache, RedisCache, open_cache
from papersift.server.config import Settings
from papersift.server.content import ContentState
from papersift.server.lists import ListBuilder
from papersift.server.lookup import BoardLookup, ListLookup, RedisLookup
from papersift.server.models import ModelHolder
from papersift.server.observe import ObservingInterceptor
from papersift.server.precompute import Precomputer, PrecomputeSettings
from papersift.server.revisions import MemoryBoard, RedisBoard, RevisionBoard, StoreBoard
from papersift.server.service import RankingService
from papersift.server.servicer import RankerServicer, Readiness, add_to_server
from papersift.v1 import ranker_pb2

logger = logging.getLogger(__name__)

RANKER_SERVICE = ranker_pb2.DESCRIPTOR.services_by_name["Ranker"].full_name
# Big enough for 1,000 papers with long abstracts, and for the largest RankPapersBatch reply
# (limits.MAX_BATCH_RANKED papers); larger requests get RESOURCE_EXHAUSTED from gRPC itself.
MAX_MESSAGE_BYTES = 32 * 1024 * 1024
_STORE_THREADS = 32
# A store that comes up late (a database starting next to the server) is noticed within this.
_READINESS_MAX_BACKOFF = 2.0


class PaperSiftServer:
    """A running papersift gRPC server; ``start`` then ``stop`` (or ``serve_until_signalled``)."""

    def __init__(self, settings: Settings, *, reuse_port: bool = False) -> None:
        """Build the parts; ``reuse_port`` lets several worker processes share the port.

        Raises:
            ApiKeysError: The API keys file is not usable.
            OSError: A TLS file cannot be read.
        """
        self.settings = settings
        self._reuse_port = reuse_port
        self._api_keys = load_api_keys(settings.api_keys_file) if settings.api_keys_file else None
        self._credentials = _server_credentials(settings) if settings.tls else None
        self.port = 0
        self._store = Store(settings.database_url)
        self._cache: RankCache = open_cache(settings.redis_url, prefix=settings.cache_prefix)
        self._board, self._lookup = _revision_board(settings, self._store, self._cache)
        self._readiness = Readiness()
        self._health = health.aio.HealthServicer()
        self._server: grpc.aio.Server | None = None
        self._models = ModelHolder(settings.model_dir)
        self._ready_task: asyncio.Task[None] | None = None
        self._watch_task: asyncio.Task[None] | None = None
        self._content = (
            ContentState(
                self._store,
                lambda: self._models.current,
                community_age=settings.content_refresh_interval,
            )
            if settings.content_model
            else None
        )
        self._content_task: asyncio.Task[None] | None = None
        self.precomputer: Precomputer | None = None
        """The background precompute of known readers' lists (``None`` when off)."""
        self._precompute_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Listen, then migrate and reach the store in the background (health follows it)."""
        # Store calls run in the loop's default executor, which is min(32, CPUs + 4) threads:
        # 6 on two cores, too few for writes queued on SQLite's one writer plus the misses
        # and reads behind them. Waiting threads hold no GIL; more of them cost little.
        executor = ThreadPoolExecutor(_STORE_THREADS, thread_name_prefix="papersift-store")
        asyncio.get_running_loop().set_default_executor(executor)
        # Created here, not in __init__: grpc.aio objects belong to the running event loop.
        self._server = grpc.aio.server(
            # Outermost first: refused calls are timed and logged too.
            interceptors=[
                ObservingInterceptor(),
                *([AuthInterceptor(self._api_keys)] if self._api_keys else []),
            ],
            # Beyond this, calls are refused at once (RESOURCE_EXHAUSTED) instead of queueing:
            # admitted calls keep their latency and the process its memory.
            maximum_concurrent_rpcs=self.settings.max_concurrent_rpcs,
            options=[
                ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
                # Workers share the port on purpose; otherwise a second server on a busy port
                # must fail, not silently share it.
                ("grpc.so_reuseport", 1 if self._reuse_port else 0),
            ],
        )
        try:
            with startup.timed("model load"):
                await self._models.refresh()
        except Exception:  # serve POPULAR rather than not at all; the watch keeps trying
            logger.exception("cannot load a model from %s at start-up", self.settings.model_dir)
        self._watch_task = asyncio.create_task(
            self._models.watch(self.settings.model_poll_interval)
        )
        lists = ListBuilder(self._store, max_list_length=self.settings.max_list_length)
        service = RankingService(
            self._store,
            self._cache,
            self._models,
            max_list_length=self.settings.max_list_length,
            content=self._content,
            board=self._board,
            lookup=self._lookup,
            lists=lists,
        )
        self.precomputer = (
            Precomputer(
                self._store,
                self._cache,
                lists,
                lambda: self._models.current,
                self._board.many,
                PrecomputeSettings(
                    block=self.settings.precompute_block,
                    days=self.settings.precompute_days,
                    block_seconds=self.settings.precompute_block_seconds,
                    poll_interval=self.settings.model_poll_interval,
                ),
            )
            if self.settings.precompute
            else None
        )
        add_to_server(RankerServicer(service, self._readiness), self._server)
        health_pb2_grpc.add_HealthServicer_to_server(self._health, self._server)
        reflection.enable_server_reflection(
            (RANKER_SERVICE, health.SERVICE_NAME, reflection.SERVICE_NAME), self._server
        )
        for name in ("", RANKER_SERVICE):
            await self._health.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
        binding = startup.since_start()
        try:
            if self._credentials is None:
                self.port = self._server.add_insecure_port(self.settings.listen)
            else:
                self.port = self._server.add_secure_port(self.settings.listen, self._credentials)
        except RuntimeError as exc:
            raise RuntimeError(
                f"cannot listen on {self.settings.listen} ({exc}); is another server using it?"
            ) from exc
        await self._server.start()
        startup.log_phase("gRPC bind", startup.since_start() - binding)
        logger.info(
            "papersift-server listening on %s (%s, %s)",
            self.address,
            "TLS" if self._credentials else "plaintext",
            f"{len(self._api_keys.keys)} API keys" if self._api_keys else "no API keys",
        )
        self._ready_task = asyncio.create_task(self._become_ready())

    @property
    def address(self) -> str:
        """``host:port`` the server listens on (the real port when 0 was asked)."""
        host = self.settings.listen.rpartition(":")[0]
        return f"{host}:{self.port}"

    async def wait_until_ready(self) -> None:
        """Wait until the store is migrated and reachable (wrap in ``asyncio.timeout``)."""
        if self._ready_task is not None:
            await asyncio.shield(self._ready_task)

    async def _become_ready(self) -> None:
        began = startup.since_start()
        delay = 0.5
        while True:
            try:
                await asyncio.to_thread(self._store.migrate)
                break
            except StoreUnavailable as exc:
                logger.warning("store not reachable (%s); retrying in %.1f s", exc, delay)
            except Exception:  # e.g. a schema newer than this server: say so, keep trying
                logger.exception("store migration failed; retrying in %.1f s", delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, _READINESS_MAX_BACKOFF)
        startup.log_phase("store connect and migrations", startup.since_start() - began)
        self._readiness.ready = True
        # Only now: the content model reads papers from the migrated store.
        if self._content is not None:
            self._content_task = asyncio.create_task(
                self._content.watch(self.settings.content_refresh_interval)
            )
        if self.precomputer is not None:
            self._precompute_task = asyncio.create_task(self.precomputer.run())
        for name in ("", RANKER_SERVICE):
            await self._health.set(name, health_pb2.HealthCheckResponse.SERVING)
        logger.info("store ready; serving")
        startup.log_phase("total, to serving", startup.since_start())

    async def stop(self, grace: float | None = None) -> None:
        """Refuse new calls, let in-flight ones finish within ``grace`` seconds, release all."""
        await self._health.enter_graceful_shutdown()
        if self._server is not None:
            await self._server.stop(self.settings.grace_period if grace is None else grace)
        for task in (
            self._ready_task,
            self._watch_task,
            self._content_task,
            self._precompute_task,
        ):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self._content is not None:
            self._content.close()
        await self._cache.close()
        self._store.close()
        logger.info("papersift-server stopped")

    async def serve_until_signalled(self) -> None:
        """Run until SIGTERM or SIGINT, then shut down gracefully."""
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await self.start()
        await stop.wait()
        logger.info("signal received; draining for up to %.0f s", self.settings.grace_period)
        await self.stop()


def _revision_board(
    settings: Settings, store: Store, cache: RankCache
) -> tuple[RevisionBoard, ListLookup]:
    """Where hits read revisions: Redis if configured, memory with one worker, else the store."""
    if settings.revision_board == "store":
        board: RevisionBoard = StoreBoard(store)
    elif isinstance(cache, RedisCache):
        redis_board = RedisBoard(store, cache)
        return redis_board, RedisLookup(redis_board, cache)
    elif settings.workers == 1:
        board = MemoryBoard(store)
    else:  # each worker would only see its own writes
        board = StoreBoard(store)
    return board, BoardLookup(board, cache)


def _server_credentials(settings: Settings) -> grpc.ServerCredentials:
    """TLS credentials from the settings' PEM files (client certificates required with a CA)."""
    assert settings.tls_cert_file is not None and settings.tls_key_file is not None
    chain = settings.tls_cert_file.read_bytes()
    key = settings.tls_key_file.read_bytes()
    client_ca = settings.tls_client_ca_file.read_bytes() if settings.tls_client_ca_file else None
    return grpc.ssl_server_credentials(
        [(key, chain)], root_certificates=client_ca, require_client_auth=client_ca is not None
    )

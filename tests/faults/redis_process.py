"""A ``redis-server`` process of the test's own on a free loopback port, to kill and restart."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

REDIS_HOWTO = (
    "the fault tests start their own redis-server processes: install it "
    "(`apt-get install redis-server`) or put it on PATH"
)


def free_port() -> int:
    """A loopback port nothing listens on when asked."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RedisProcess:
    """``redis-server`` on ``127.0.0.1:port`` keeping nothing on disk; only this object stops it."""

    def __init__(self, workdir: Path, *extra_args: str) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail(f"redis-server not found; {REDIS_HOWTO}", pytrace=False)
        self._binary = binary
        self._workdir = workdir
        self._extra_args = extra_args
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start it (again, on the same port) and wait until it answers PING."""
        assert self._process is None, "already running"
        self._process = subprocess.Popen(
            [
                self._binary,
                *("--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no", "--dir", str(self._workdir)),
                *self._extra_args,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        with self.client(timeout=0.5) as client:
            while True:
                try:
                    client.ping()
                    return
                except redis.ConnectionError:
                    if self._process.poll() is not None or time.monotonic() > deadline:
                        self.stop()
                        pytest.fail(f"redis-server did not start on port {self.port}")
                    time.sleep(0.02)

    def client(self, timeout: float = 5.0) -> redis.Redis:
        """A plain synchronous client (a context manager) to inspect or upset the server.

        It never retries, so a timeout shows as one (redis-py retries timeouts by default).
        """
        return redis.Redis(
            host="127.0.0.1",
            port=self.port,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
        )

    def kill(self) -> None:
        """SIGKILL: the server vanishes mid-run without closing anything."""
        self._end(signal.SIGKILL)

    def stop(self) -> None:
        """SIGTERM and wait; safe to call when it is not running."""
        self._end(signal.SIGTERM)

    def _end(self, sig: signal.Signals) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        process.send_signal(sig)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

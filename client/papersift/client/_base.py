"""What ``Client`` and ``AsyncClient`` share: configuration, deadlines and channel options."""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Sequence
from typing import Final

import grpc

from papersift.v1 import ranker_pb2

DEFAULT_PORT: Final = 50051
DEFAULT_TARGET: Final = f"127.0.0.1:{DEFAULT_PORT}"
DEFAULT_TIMEOUT: Final = 10.0

SERVICE_NAME: Final = ranker_pb2.DESCRIPTOR.services_by_name["Ranker"].full_name

# Retried by gRPC itself: every papersift RPC is idempotent (upserts by paper_id, interactions
# by event_id, digests by reader and day), so a repeated attempt never double-counts.
# UNAVAILABLE: the server is down or draining. CANCELLED sent by the server: a server that
# stops cancels the calls it had received but not started (grpc/grpc#41785); a call this
# client cancels itself is never retried.
RETRY_POLICY: Final = {
    "maxAttempts": 4,
    "initialBackoff": "0.1s",
    "maxBackoff": "2s",
    "backoffMultiplier": 2,
    "retryableStatusCodes": ["UNAVAILABLE", "CANCELLED"],
}


# gRPC target schemes (name resolvers) whose addresses are passed through untouched.
_TARGET_SCHEMES = frozenset(
    {"dns", "unix", "unix-abstract", "ipv4", "ipv6", "vsock", "xds", "google-c2p"}
)
_SCHEME = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*):")


def with_default_port(target: str) -> str:
    """``target`` with papersift's port 50051 added when it names a host and no port.

    gRPC itself would dial port 443 for a bare host. ``host`` and ``[::1]`` (or ``::1``) get
    ``:50051``; ``host:port``, ``[::1]:port`` and targets with a scheme (``dns:``, ``unix:``,
    ``ipv4:``, ...) are returned as they are.
    """
    text = target.strip()
    scheme = _SCHEME.match(text)
    if not text or (scheme and (scheme["scheme"] in _TARGET_SCHEMES or "://" in text)):
        return target
    if text.startswith("["):
        return f"{text}:{DEFAULT_PORT}" if text.endswith("]") else target
    if ":" not in text:
        return f"{text}:{DEFAULT_PORT}"
    if text.count(":") > 1:  # an IPv6 address without brackets, e.g. ::1
        try:
            return f"[{ipaddress.IPv6Address(text)}]:{DEFAULT_PORT}"
        except ValueError:
            return target
    return target


class UseClientDefault:
    """Type of ``USE_CLIENT_DEFAULT``: "argument not given, use the client's setting".

    A separate sentinel is needed because ``None`` is itself a meaningful timeout (no deadline).
    """

    def __repr__(self) -> str:
        return "USE_CLIENT_DEFAULT"


USE_CLIENT_DEFAULT: Final = UseClientDefault()

TimeoutTypes = float | None | UseClientDefault
MAX_MESSAGE_BYTES = 32 * 1024 * 1024


def channel_options(*, retry: bool) -> list[tuple[str, str | int]]:
    """The channel arguments of a papersift channel.

    Args:
        retry: Whether gRPC retries calls that failed with UNAVAILABLE (``RETRY_POLICY``).
    """
    # As large as the server sends: a RankPapersBatch reply with long abstracts passes 4 MB.
    sizes: list[tuple[str, str | int]] = [("grpc.max_receive_message_length", MAX_MESSAGE_BYTES)]
    if not retry:
        return [*sizes, ("grpc.enable_retries", 0)]
    service_config = {
        "methodConfig": [{"name": [{"service": SERVICE_NAME}], "retryPolicy": RETRY_POLICY}]
    }
    return [
        *sizes,
        ("grpc.enable_retries", 1),
        ("grpc.service_config", json.dumps(service_config)),
    ]


class BaseClient:
    """Settings shared by the sync and the async client; opens no channel itself."""

    def __init__(
        self,
        target: str,
        *,
        timeout: float | None,
        secure: bool,
        root_certificates: bytes | None,
        private_key: bytes | None,
        certificate_chain: bytes | None,
        api_key: str | None,
        metadata: Sequence[tuple[str, str]],
        retry: bool,
    ) -> None:
        for name, value in (
            ("root_certificates", root_certificates),
            ("private_key", private_key),
            ("certificate_chain", certificate_chain),
        ):
            if value is not None and not secure:
                raise ValueError(f"{name} is only used with secure=True")
        if (private_key is None) != (certificate_chain is None):
            raise ValueError("private_key and certificate_chain go together")
        extra: list[tuple[str, str]] = []
        if api_key is not None:
            if not api_key or any(ch.isspace() or ord(ch) < 32 for ch in api_key):
                raise ValueError("api_key must be non-empty, without spaces or control characters")
            extra.append(("authorization", f"Bearer {api_key}"))
        self._target = with_default_port(target)
        self._timeout = timeout
        self._secure = secure
        self._root_certificates = root_certificates
        self._private_key = private_key
        self._certificate_chain = certificate_chain
        self._metadata = (*((key, value) for key, value in metadata), *extra)
        self._retry = retry
        self._closed = False

    @property
    def target(self) -> str:
        """The server address, e.g. ``127.0.0.1:50051``."""
        return self._target

    @property
    def timeout(self) -> float | None:
        """The default deadline of a call, in seconds; ``None`` means none."""
        return self._timeout

    @property
    def is_closed(self) -> bool:
        """Whether ``close`` was called."""
        return self._closed

    def _credentials(self) -> grpc.ChannelCredentials | None:
        if not self._secure:
            return None
        return grpc.ssl_channel_credentials(
            root_certificates=self._root_certificates,
            private_key=self._private_key,
            certificate_chain=self._certificate_chain,
        )

    def _options(self) -> list[tuple[str, str | int]]:
        return channel_options(retry=self._retry)

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("the client is closed; create a new one")

    def _resolve_timeout(self, timeout: TimeoutTypes) -> float | None:
        return self._timeout if isinstance(timeout, UseClientDefault) else timeout

    def __repr__(self) -> str:
        return f"{type(self).__name__}(target={self._target!r}, timeout={self._timeout!r})"

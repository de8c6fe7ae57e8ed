"""Errors raised by the client library, one class per gRPC status a caller may act on.

PaperSiftError  (every failed call; ``.code`` is the grpc.StatusCode, ``.details`` the message)
├── InvalidArgument     INVALID_ARGUMENT: fix the field named in the message
├── NotFound            NOT_FOUND: e.g. a day with no papers
├── ResourceExhausted   RESOURCE_EXHAUSTED: a batch over the size limit, or rate limiting
├── Unavailable         UNAVAILABLE: server unreachable or store down; safe to try again later
├── DeadlineExceeded    DEADLINE_EXCEEDED: the call took longer than its timeout
├── Unauthenticated     UNAUTHENTICATED
├── PermissionDenied    PERMISSION_DENIED
└── ServerError         any other status (INTERNAL, UNKNOWN, FAILED_PRECONDITION, ...)
"""

from __future__ import annotations

import grpc

__all__ = [
    "DeadlineExceeded",
    "InvalidArgument",
    "NotFound",
    "PaperSiftError",
    "PermissionDenied",
    "ResourceExhausted",
    "ServerError",
    "Unauthenticated",
    "Unavailable",
    "from_rpc_error",
]


class PaperSiftError(Exception):
    """Base class of every error a papersift call raises.

    Attributes:
        code: The gRPC status code the server (or the channel) answered with.
        details: The human-readable message; for a bad request it names the field,
            e.g. ``papers[0].title: must not be empty``.
    """

    def __init__(self, details: str, *, code: grpc.StatusCode) -> None:
        super().__init__(details)
        self.code = code
        self.details = details

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.details!r}, code={self.code.name})"


class InvalidArgument(PaperSiftError):
    """The request was rejected; ``details`` names the offending field and what is allowed."""


class NotFound(PaperSiftError):
    """The thing asked for does not exist, e.g. a listing day with no papers."""


class ResourceExhausted(PaperSiftError):
    """A batch was larger than the server accepts (or the server is rate limiting)."""


class Unavailable(PaperSiftError):
    """The server could not be reached or its store is down; the call may be tried again."""


class DeadlineExceeded(PaperSiftError):
    """The call did not finish within its deadline."""


class Unauthenticated(PaperSiftError):
    """The call carried no valid credentials."""


class PermissionDenied(PaperSiftError):
    """The caller may not do this."""


class ServerError(PaperSiftError):
    """Any other failure, e.g. an internal error of the server."""


_BY_CODE: dict[grpc.StatusCode, type[PaperSiftError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgument,
    grpc.StatusCode.NOT_FOUND: NotFound,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhausted,
    grpc.StatusCode.UNAVAILABLE: Unavailable,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceeded,
    grpc.StatusCode.UNAUTHENTICATED: Unauthenticated,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDenied,
}


def from_rpc_error(exc: grpc.RpcError) -> PaperSiftError:
    """Builds the papersift error for a failed call (sync ``grpc.RpcError`` or ``AioRpcError``).

    Args:
        exc: The error grpc raised; the caller chains it with ``raise ... from exc``.

    Returns:
        An instance of the subclass matching the status code, ``ServerError`` for the rest.
    """
    # A sync RpcError that is not also a Call (it never happens for unary calls, but the type
    # allows it) carries no status; report it as UNKNOWN rather than fail while mapping.
    code = exc.code() if hasattr(exc, "code") else grpc.StatusCode.UNKNOWN
    details = (exc.details() if hasattr(exc, "details") else None) or ""
    if not details:
        details = f"the call failed with status {code.name}"
    return _BY_CODE.get(code, ServerError)(details, code=code)

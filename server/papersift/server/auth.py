"""Who may call what: every Ranker call needs an API key with the RPC's scope.

Keys are sent as the metadata ``authorization: Bearer <key>`` and checked against the keys file
(see ``api_keys.py``). A missing or unknown key is UNAUTHENTICATED; a key without the scope is
PERMISSION_DENIED. Keys are never logged. The health and reflection services need no key
(probes and tooling). Without a keys file every call is allowed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Final

import grpc

from papersift.server.api_keys import METHOD_SCOPES, ApiKeys

_OPEN_SERVICES: Final = ("/grpc.health.v1.Health/", "/grpc.reflection.v1alpha.ServerReflection/")
_RANKER_PREFIX: Final = "/papersift.v1.Ranker/"


def _refuse(code: grpc.StatusCode, message: str) -> grpc.RpcMethodHandler[Any, Any]:
    async def refuse(request: Any, context: Any) -> Any:
        await context.abort(code, message)

    return grpc.unary_unary_rpc_method_handler(refuse)


class AuthInterceptor(grpc.aio.ServerInterceptor):
    """Refuses calls without a known key (UNAUTHENTICATED) or without the scope
    (PERMISSION_DENIED) before they reach the servicer."""

    def __init__(self, keys: ApiKeys) -> None:
        """Check calls against ``keys``."""
        self._keys = keys

    async def intercept_service(
        self,
        continuation: Callable[
            [grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any] | None]
        ],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        """Let the call through, or answer it with the refusal."""
        method = handler_call_details.method
        if method.startswith(_OPEN_SERVICES):
            return await continuation(handler_call_details)
        token = _bearer_token(handler_call_details.invocation_metadata)
        if token is None:
            return _refuse(
                grpc.StatusCode.UNAUTHENTICATED,
                "missing API key: send the metadata 'authorization: Bearer <key>'",
            )
        key = self._keys.find(token)
        if key is None:
            return _refuse(grpc.StatusCode.UNAUTHENTICATED, "unknown API key")
        scope = METHOD_SCOPES.get(method)
        if scope is None or scope not in key.scopes:
            what = method.removeprefix(_RANKER_PREFIX)
            needed = f"the scope {scope!r}" if scope else "a scope no key has"
            return _refuse(
                grpc.StatusCode.PERMISSION_DENIED,
                f"API key {key.name!r} lacks {needed}, which {what} needs",
            )
        return await continuation(handler_call_details)


def _bearer_token(metadata: Any) -> str | None:
    for entry in metadata or ():
        name, value = entry
        if name == "authorization" and isinstance(value, str):
            scheme, _, token = value.partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
    return None

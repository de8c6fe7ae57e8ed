"""Every RPC timed, counted and logged: a grpc.aio server interceptor.

The access log line carries the method, the status code, the duration and the reader's
``user_id`` when the request names one (one reader: ``RankPapers``, ``DeleteUser``, ...); no
other request content, no peer address, no metadata (API keys travel there).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import grpc

from papersift.server import metrics

access_log = logging.getLogger("papersift.access")


def _user_id(request: Any) -> str | None:
    value = getattr(request, "user_id", None)
    return value if isinstance(value, str) and value else None


class ObservingInterceptor(grpc.aio.ServerInterceptor):
    """Times each unary RPC, records it in the metrics and writes one access log line."""

    async def intercept_service(
        self,
        continuation: Callable[
            [grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any] | None]
        ],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        """Wrap the unary-unary handler of the call; other kinds pass through."""
        handler = await continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler
        method = handler_call_details.method.rsplit("/", 1)[-1]
        behavior = handler.unary_unary

        # The stubs type the handler's context as grpc.ServicerContext; under grpc.aio it is
        # grpc.aio.ServicerContext, which is what this code uses.
        async def observed(request: Any, context: Any) -> Any:
            start = time.perf_counter()
            failed = False
            try:
                return await behavior(request, context)
            except grpc.aio.AbortError:  # context.abort: the code is on the context
                raise
            except BaseException:
                failed = True
                raise
            finally:
                seconds = time.perf_counter() - start
                code = _code_name(context, failed)
                metrics.record_rpc(method, code, seconds)
                access_log.info(
                    "%s %s %.1f ms",
                    method,
                    code,
                    seconds * 1000,
                    extra={
                        "rpc": method,
                        "status": code,
                        "duration_ms": round(seconds * 1000, 3),
                        "user_id": _user_id(request),
                    },
                )

        return grpc.unary_unary_rpc_method_handler(
            observed,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


def _code_name(context: Any, failed: bool) -> str:
    """The status the call ended with: the aborted code, OK (none set), or an escape's."""
    if failed:
        return "CANCELLED" if context.cancelled() else grpc.StatusCode.UNKNOWN.name
    code = context.code()
    return code.name if isinstance(code, grpc.StatusCode) else grpc.StatusCode.OK.name

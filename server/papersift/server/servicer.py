"""The gRPC face of the service: validate, convert, call :class:`RankingService`, map errors."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

import grpc
from google.protobuf.message import Message

from papersift.core.errors import InvalidInput, NotFound, StoreUnavailable, TooLarge, Unsupported
from papersift.core.validation import parse_date
from papersift.server import convert
from papersift.server.cache import CacheUnavailable
from papersift.server.encoding import EncodedPapers
from papersift.server.service import RankingService
from papersift.v1 import ranker_pb2 as pb
from papersift.v1 import ranker_pb2_grpc as pb_grpc

logger = logging.getLogger(__name__)

RequestT = TypeVar("RequestT")
ResponseT = TypeVar("ResponseT")

_STATUS_OF_ERROR: tuple[tuple[type[Exception], grpc.StatusCode], ...] = (
    (InvalidInput, grpc.StatusCode.INVALID_ARGUMENT),
    (TooLarge, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (NotFound, grpc.StatusCode.NOT_FOUND),
    (Unsupported, grpc.StatusCode.UNIMPLEMENTED),
    (StoreUnavailable, grpc.StatusCode.UNAVAILABLE),
    (CacheUnavailable, grpc.StatusCode.UNAVAILABLE),
)


class Readiness:
    """Whether the store has been migrated and reached; RPCs are refused until it has."""

    def __init__(self) -> None:
        self.ready = False


class RankerServicer(pb_grpc.RankerServicer):
    """Implements ``papersift.v1.Ranker``; no logic beyond validation and conversion."""

    def __init__(
        self,
        service: RankingService,
        readiness: Readiness,
        encoded: EncodedPapers | None = None,
    ) -> None:
        """Serve ``service`` once ``readiness`` says so; pages are encoded with ``encoded``."""
        self._service = service
        self._readiness = readiness
        self._encoded = encoded if encoded is not None else EncodedPapers()

    async def _answer(
        self,
        context: grpc.aio.ServicerContext[RequestT, ResponseT],
        handler: Callable[[RequestT], Awaitable[ResponseT]],
        request: RequestT,
    ) -> ResponseT:
        """Run ``handler`` and turn papersift's errors into status codes with their message."""
        if not self._readiness.ready:
            await context.abort(
                grpc.StatusCode.UNAVAILABLE, "the store is not ready yet; retry shortly"
            )
        try:
            return await handler(request)
        except tuple(error for error, _ in _STATUS_OF_ERROR) as exc:
            code = next(code for error, code in _STATUS_OF_ERROR if isinstance(exc, error))
            message = str(exc)
            if code is grpc.StatusCode.UNAVAILABLE:
                # Callers learn what failed and what to do; hosts and names stay in our logs.
                logger.warning("request failed: %s", exc)
                message = (
                    # A connection lost after COMMIT reached the database leaves the write
                    # applied; every call is idempotent, so saying "retry" is always right.
                    "the store is unavailable; retry later (a write may or may not have been "
                    "applied; retrying it is safe)"
                    if isinstance(exc, StoreUnavailable)
                    # Only DeleteUser fails on the cache, before it erased anything.
                    else "the ranking cache is unavailable; nothing was changed, retry later"
                )
            await context.abort(code, message)
        except Exception:  # a bug of ours: log it whole, tell the caller no internals
            logger.exception("unexpected error in %s", type(request).__name__)
            await context.abort(
                grpc.StatusCode.INTERNAL, "internal error; it was logged, please report it"
            )

    async def UpsertPapers(
        self,
        request: pb.UpsertPapersRequest,
        context: grpc.aio.ServicerContext[pb.UpsertPapersRequest, pb.UpsertPapersResponse],
    ) -> pb.UpsertPapersResponse:
        return await self._answer(context, self._upsert_papers, request)

    async def RecordInteractions(
        self,
        request: pb.RecordInteractionsRequest,
        context: grpc.aio.ServicerContext[
            pb.RecordInteractionsRequest, pb.RecordInteractionsResponse
        ],
    ) -> pb.RecordInteractionsResponse:
        return await self._answer(context, self._record_interactions, request)

    # The reply goes out already encoded (see ``encoding``); ``add_to_server`` registers a
    # serializer that passes bytes through.
    async def RankPapers(  # type: ignore[override]
        self,
        request: pb.RankPapersRequest,
        context: grpc.aio.ServicerContext[pb.RankPapersRequest, bytes],
    ) -> bytes:
        return await self._answer(context, self._rank_papers, request)

    async def RankPapersBatch(  # type: ignore[override]
        self,
        request: pb.RankPapersBatchRequest,
        context: grpc.aio.ServicerContext[pb.RankPapersBatchRequest, bytes],
    ) -> bytes:
        return await self._answer(context, self._rank_papers_batch, request)

    async def GetModelInfo(
        self,
        request: pb.GetModelInfoRequest,
        context: grpc.aio.ServicerContext[pb.GetModelInfoRequest, pb.GetModelInfoResponse],
    ) -> pb.GetModelInfoResponse:
        service = self._service
        return convert.model_info_to_proto(
            service.model, service.content_model, content_enabled=service.content_enabled
        )

    async def DeleteUser(
        self,
        request: pb.DeleteUserRequest,
        context: grpc.aio.ServicerContext[pb.DeleteUserRequest, pb.DeleteUserResponse],
    ) -> pb.DeleteUserResponse:
        return await self._answer(context, self._delete_user, request)

    async def RecordDigest(
        self,
        request: pb.RecordDigestRequest,
        context: grpc.aio.ServicerContext[pb.RecordDigestRequest, pb.RecordDigestResponse],
    ) -> pb.RecordDigestResponse:
        return await self._answer(context, self._record_digest, request)

    async def ListSentDigests(
        self,
        request: pb.ListSentDigestsRequest,
        context: grpc.aio.ServicerContext[pb.ListSentDigestsRequest, pb.ListSentDigestsResponse],
    ) -> pb.ListSentDigestsResponse:
        return await self._answer(context, self._list_sent_digests, request)

    async def ListDays(
        self,
        request: pb.ListDaysRequest,
        context: grpc.aio.ServicerContext[pb.ListDaysRequest, pb.ListDaysResponse],
    ) -> pb.ListDaysResponse:
        return await self._answer(context, self._list_days, request)

    async def _upsert_papers(self, request: pb.UpsertPapersRequest) -> pb.UpsertPapersResponse:
        result = await self._service.upsert_papers(convert.papers_from_proto(request.papers))
        return pb.UpsertPapersResponse(
            inserted=result.inserted, updated=result.updated, unchanged=result.unchanged
        )

    async def _record_interactions(
        self, request: pb.RecordInteractionsRequest
    ) -> pb.RecordInteractionsResponse:
        now = dt.datetime.now(dt.UTC)
        interactions = convert.interactions_from_proto(request.interactions, now=now)
        result = await self._service.record_interactions(interactions)
        return pb.RecordInteractionsResponse(accepted=result.accepted, duplicates=result.duplicates)

    async def _rank_papers(self, request: pb.RankPapersRequest) -> bytes:
        page = await self._service.rank(convert.rank_query_from_proto(request))
        return self._encoded.page(page)

    async def _rank_papers_batch(self, request: pb.RankPapersBatchRequest) -> bytes:
        queries = convert.batch_queries_from_proto(request)
        pages = await self._service.rank_many(queries)
        return self._encoded.batch(
            [(query.user_id, page) for query, page in zip(queries, pages, strict=True)]
        )

    async def _delete_user(self, request: pb.DeleteUserRequest) -> pb.DeleteUserResponse:
        counts = await self._service.delete_user(convert.user_id_from_proto(request.user_id))
        return pb.DeleteUserResponse(
            interactions_deleted=counts.interactions,
            cached_lists_deleted=counts.cached_lists,
            digests_deleted=counts.digests,
        )

    async def _record_digest(self, request: pb.RecordDigestRequest) -> pb.RecordDigestResponse:
        digest = convert.digest_from_proto(request, now=dt.datetime.now(dt.UTC))
        result = await self._service.record_digest(digest)
        return pb.RecordDigestResponse(recorded=result.recorded, impressions=result.impressions)

    async def _list_sent_digests(
        self, request: pb.ListSentDigestsRequest
    ) -> pb.ListSentDigestsResponse:
        date = parse_date(request.date, "date")
        user_ids = convert.batch_user_ids_from_proto(request.user_ids)
        sent = await self._service.sent_digests(date, user_ids)
        return pb.ListSentDigestsResponse(digests=[convert.sent_digest_to_proto(d) for d in sent])

    async def _list_days(self, request: pb.ListDaysRequest) -> pb.ListDaysResponse:
        query = convert.days_query_from_proto(request)
        listed = await self._service.list_days(query)
        return pb.ListDaysResponse(
            days=[pb.ListedDay(date=day.isoformat(), papers=count) for day, count in listed.days],
            truncated=listed.truncated,
        )


def add_to_server(servicer: RankerServicer, server: grpc.aio.Server) -> None:
    """Register ``servicer`` like the generated ``add_RankerServicer_to_server`` does, with
    one difference: a method may reply with its message already serialized (bytes)."""
    service = pb.DESCRIPTOR.services_by_name["Ranker"]
    handlers = {
        method.name: grpc.unary_unary_rpc_method_handler(
            getattr(servicer, method.name),
            request_deserializer=getattr(pb, method.input_type.name).FromString,
            response_serializer=_serialize,
        )
        for method in service.methods
    }
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(service.full_name, handlers),)
    )
    server.add_registered_method_handlers(service.full_name, handlers)


def _serialize(reply: Message | bytes) -> bytes:
    return reply if isinstance(reply, bytes) else reply.SerializeToString()

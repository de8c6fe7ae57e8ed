"""The synchronous client."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from types import TracebackType
from typing import Self, TypeVar

import grpc

from papersift.client import _convert
from papersift.client._base import (
    DEFAULT_TARGET,
    DEFAULT_TIMEOUT,
    USE_CLIENT_DEFAULT,
    BaseClient,
    TimeoutTypes,
)
from papersift.client._errors import from_rpc_error
from papersift.client._models import (
    DeleteResult,
    DigestRecord,
    Interaction,
    ListedDays,
    ModelInfo,
    Paper,
    RankedPaper,
    RankFilters,
    Ranking,
    RecordResult,
    SentDigest,
    UpsertResult,
)
from papersift.v1 import ranker_pb2, ranker_pb2_grpc

_Request = TypeVar("_Request")
_Response = TypeVar("_Response")


class Client(BaseClient):
    """A blocking client of the papersift ranking service over one long-lived gRPC channel.

    Every call has a deadline: ``timeout`` seconds unless the call passes its own ``timeout``
    (``None`` means no deadline). Calls failing with UNAVAILABLE are retried by gRPC with
    exponential backoff unless ``retry=False``. Failures raise a ``PaperSiftError`` subclass.

    Example:
        >>> with Client("127.0.0.1:50051") as client:  # doctest: +SKIP
        ...     ranking = client.rank_papers("alice", datetime.date(2025, 3, 7), limit=10)

    Args:
        target: Server address, ``host:port``.
        timeout: Default deadline of each call in seconds; ``None`` for none.
        secure: Use TLS.
        root_certificates: PEM root certificates for TLS; ``None`` uses the system's.
        private_key: PEM private key of a client certificate (servers that require one).
        certificate_chain: PEM client certificate chain, with ``private_key``.
        api_key: Sent with every call as ``authorization: Bearer <key>``; never logged.
        metadata: ``(key, value)`` pairs sent with every call, e.g. an authorization header.
        retry: Let gRPC retry calls that failed with UNAVAILABLE.
    """

    def __init__(
        self,
        target: str = DEFAULT_TARGET,
        *,
        timeout: float | None = DEFAULT_TIMEOUT,
        secure: bool = False,
        root_certificates: bytes | None = None,
        private_key: bytes | None = None,
        certificate_chain: bytes | None = None,
        api_key: str | None = None,
        metadata: Sequence[tuple[str, str]] = (),
        retry: bool = True,
    ) -> None:
        super().__init__(
            target,
            timeout=timeout,
            secure=secure,
            root_certificates=root_certificates,
            private_key=private_key,
            certificate_chain=certificate_chain,
            api_key=api_key,
            metadata=metadata,
            retry=retry,
        )
        credentials = self._credentials()
        if credentials is None:
            self._channel = grpc.insecure_channel(self.target, options=self._options())
        else:
            self._channel = grpc.secure_channel(self.target, credentials, options=self._options())
        self._stub = ranker_pb2_grpc.RankerStub(self._channel)

    def _call(
        self,
        method: grpc.UnaryUnaryMultiCallable[_Request, _Response],
        request: _Request,
        timeout: TimeoutTypes,
    ) -> _Response:
        self._check_open()
        try:
            return method(request, timeout=self._resolve_timeout(timeout), metadata=self._metadata)
        except grpc.RpcError as exc:
            raise from_rpc_error(exc) from exc

    def upsert_papers(
        self, papers: Sequence[Paper], *, timeout: TimeoutTypes = USE_CLIENT_DEFAULT
    ) -> UpsertResult:
        """Inserts or updates papers by ``paper_id``; a batch is written whole or not at all.

        Args:
            papers: 1 to 1,000 papers.
            timeout: Deadline of this call in seconds; ``None`` for none.

        Returns:
            How many papers were new, changed and unchanged.

        Raises:
            InvalidArgument: A paper is invalid; ``details`` names it, e.g. ``papers[3].title``.
            ResourceExhausted: More papers than the server accepts in one call.
        """
        request = _convert.upsert_request(papers)
        response = self._call(self._stub.UpsertPapers, request, timeout)
        return _convert.upsert_result_from_proto(response)

    def record_interactions(
        self,
        interactions: Sequence[Interaction],
        *,
        timeout: TimeoutTypes = USE_CLIENT_DEFAULT,
    ) -> RecordResult:
        """Records what readers did with papers; idempotent by ``event_id``.

        Args:
            interactions: 1 to 1,000 events; ``occurred_at`` must be timezone-aware.
            timeout: Deadline of this call in seconds; ``None`` for none.

        Returns:
            Events stored by this call and events already stored before.

        Raises:
            ValueError: An ``occurred_at`` is naive (raised before anything is sent).
            InvalidArgument: An event is invalid, e.g. its paper was never upserted.
            ResourceExhausted: More events than the server accepts in one call.
        """
        request = _convert.record_request(interactions)
        response = self._call(self._stub.RecordInteractions, request, timeout)
        return _convert.record_result_from_proto(response)

    def rank_papers(
        self,
        user_id: str,
        date: dt.date | str,
        *,
        limit: int = 20,
        page_token: str = "",
        filters: RankFilters | None = None,
        explain: bool = False,
        diversity: float = 0.0,
        timeout: TimeoutTypes = USE_CLIENT_DEFAULT,
    ) -> Ranking:
        """Ranks one day's papers for one reader and returns one page of the list.

        Args:
            user_id: The reader; an unknown reader gets the ``POPULAR`` strategy.
            date: The listing day, a date or a ``YYYY-MM-DD`` string.
            limit: Page size, 1 to 100.
            page_token: ``next_page_token`` of the previous page; empty for the first page.
            filters: Rules applied on top of the ranking.
            explain: Attach reasons to each paper.
            diversity: 0 (plain score order) to 1 (most diverse).
            timeout: Deadline of this call in seconds; ``None`` for none.

        Returns:
            The page, with the token of the next one (empty on the last page).

        Raises:
            NotFound: No papers are listed on ``date``.
            InvalidArgument: A bad date, limit, page token or id; ``details`` names the field.
        """
        request = _convert.rank_request(
            user_id,
            date,
            limit=limit,
            page_token=page_token,
            filters=filters,
            explain=explain,
            diversity=diversity,
        )
        response = self._call(self._stub.RankPapers, request, timeout)
        return _convert.ranking_from_proto(response)

    def iter_ranked_papers(
        self,
        user_id: str,
        date: dt.date | str,
        *,
        page_size: int = 20,
        filters: RankFilters | None = None,
        explain: bool = False,
        diversity: float = 0.0,
        timeout: TimeoutTypes = USE_CLIENT_DEFAULT,
    ) -> Iterator[RankedPaper]:
        """Yields a reader's whole ranked list for a day, fetching pages as needed.

        Arguments are those of ``rank_papers``; ``timeout`` applies to each page's call.
        """
        page_token = ""
        while True:
            ranking = self.rank_papers(
                user_id,
                date,
                limit=page_size,
                page_token=page_token,
                filters=filters,
                explain=explain,
                diversity=diversity,
                timeout=timeout,
            )
            yield from ranking.papers
            page_token = ranking.next_page_token
            if not page_token:
                return

    def rank_papers_batch(
        self,
        user_ids: Sequence[str],
        date: dt.date | str,
        *,
        limit: int = 20,
        filters: RankFilters | None = None,
        explain: bool = False,
        diversity: float = 0.0,
        timeout: TimeoutTypes = USE_CLIENT_DEFAULT,
    ) -> dict[str, Ranking]:
        """Ranks one day's papers for many readers at once (the first page of each).

        Args:
            user_ids: 1 to 1,000 distinct readers.
            date: The listing day, a date or a ``YYYY-MM-DD`` string.
            limit: Papers per reader, 1 to 100.
            filters: Rules applied on top of every reader's ranking.
            explain: Attach reasons to each paper.
            diversity: 0 (plain score order) to 1 (most diverse).
            timeout: Deadline of this call in seconds; ``None`` for none.

        Returns:
            Each reader's ranking, keyed by user id in the order of ``user_ids``.

        Raises:
            NotFound: No papers are listed on ``date``.
            ResourceExhausted: More readers than the server accepts in one call.
        """
        request = _convert.rank_batch_request(
            user_ids, date, limit=limit, filters=filters, explain=explain, diversity=diversity
        )
        response = self._call(self._stub.RankPapersBatch, request, timeout)
        return _convert.rankings_from_proto(response)

    def get_model_info(self, *, timeout: TimeoutTypes = USE_CLIENT_DEFAULT) -> ModelInfo:
        """Describes the model the server ranks with (``loaded`` is false when there is none).

        Args:
            timeout: Deadline of this call in seconds; ``None`` for none.
        """
        response = self._call(self._stub.GetModelInfo, ranker_pb2.GetModelInfoRequest(), timeout)
        return _convert.model_info_from_proto(response)

    def delete_user(
        self, user_id: str, *, timeout: TimeoutTypes = USE_CLIENT_DEFAULT
    ) -> DeleteResult:
        """Erases a reader's interactions and cached ranked lists.

        Args:
            user_id: The reader to erase.
            timeout: Deadline of this call in seconds; ``None`` for none.

        Returns:
            How many interactions and cached lists were deleted.
        """
        request = ranker_pb2.DeleteUserRequest(user_id=user_id)
        response = self._call(self._stub.DeleteUser, request, timeout)
        return _convert.delete_result_from_proto(response)

    def record_digest(
        self,
        user_id: str,
        date: dt.date | str,
        paper_ids: Sequence[str],
        *,
        sent_at: dt.datetime,
        message_id: str = "",
        timeout: TimeoutTypes = USE_CLIENT_DEFAULT,
    ) -> DigestRecord:
        """Records that a reader's digest for a day was sent, with its papers as impressions.

        Idempotent by (user, date): a second call for the same digest changes nothing and
        returns ``recorded=False``.

        Args:
            user_id: The reader the digest went to.
            date: The listing day of the digest.
            paper_ids: The papers it held, in the order shown (0 to 100, no repeats).
            sent_at: When the mail server accepted it (timezone-aware).
            message_id: The message's ``Message-ID`` header, for tracing.
            timeout: Deadline of this call in seconds; ``None`` for none.

        Raises:
            ValueError: ``sent_at`` is naive (raised before anything is sent).
            InvalidArgument: A bad id or date, or an unknown paper; nothing was recorded.
        """
        request = _convert.record_digest_request(
            user_id, date, paper_ids, sent_at=sent_at, message_id=message_id
        )
        response = self._call(self._stub.RecordDigest, request, timeout)
        return _convert.digest_record_from_proto(response)

    def list_sent_digests(
        self,
        date: dt.date | str,
        user_ids: Sequence[str],
        *,
        timeout: TimeoutTypes = USE_CLIENT_DEFAULT,
    ) -> dict[str, SentDigest]:
        """The readers among ``user_ids`` whose digest for ``date`` was recorded as sent.

        Args:
            date: The listing day.
            user_ids: 1 to 1,000 distinct readers.
            timeout: Deadline of this call in seconds; ``None`` for none.

        Returns:
            The recorded digests keyed by user id, in the order of ``user_ids``.
        """
        request = _convert.list_sent_digests_request(date, user_ids)
        response = self._call(self._stub.ListSentDigests, request, timeout)
        return _convert.sent_digests_from_proto(response)

    def list_days(
        self,
        start: dt.date | str | None = None,
        end: dt.date | str | None = None,
        *,
        limit: int = 0,
        timeout: TimeoutTypes = USE_CLIENT_DEFAULT,
    ) -> ListedDays:
        """The listing days that have papers, with how many, oldest first.

        Args:
            start: First day to list; ``None`` from the first listed day.
            end: Last day to list; ``None`` up to the last listed day.
            limit: Most days to return (0 to 10,000; 0 means 1,000); the latest are kept.
            timeout: Deadline of this call in seconds; ``None`` for none.

        Raises:
            InvalidArgument: A bad date, ``end`` before ``start``, or ``limit`` out of range.
        """
        request = _convert.list_days_request(start, end, limit)
        response = self._call(self._stub.ListDays, request, timeout)
        return _convert.listed_days_from_proto(response)

    def close(self) -> None:
        """Closes the channel; calls made afterwards raise ``RuntimeError``. Idempotent."""
        if not self._closed:
            self._closed = True
            self._channel.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

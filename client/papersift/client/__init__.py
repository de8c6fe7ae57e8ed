"""Typed Python access to the papersift ranking service.

Example:
    >>> import datetime
    >>> from papersift.client import Client
    >>> with Client("127.0.0.1:50051") as client:  # doctest: +SKIP
    ...     for paper in client.rank_papers("alice", datetime.date(2025, 3, 7)).papers:
    ...         print(paper.rank, paper.paper.title)
"""

from papersift.client._async_client import AsyncClient
from papersift.client._base import USE_CLIENT_DEFAULT, UseClientDefault
from papersift.client._client import Client
from papersift.client._errors import (
    DeadlineExceeded,
    InvalidArgument,
    NotFound,
    PaperSiftError,
    PermissionDenied,
    ResourceExhausted,
    ServerError,
    Unauthenticated,
    Unavailable,
)
from papersift.client._models import (
    DeleteResult,
    DigestRecord,
    Interaction,
    InteractionKind,
    ListedDay,
    ListedDays,
    ModelInfo,
    Paper,
    RankedPaper,
    RankFilters,
    Ranking,
    RecordResult,
    SentDigest,
    Strategy,
    UpsertResult,
)

__all__ = [
    "USE_CLIENT_DEFAULT",
    "AsyncClient",
    "Client",
    "DeadlineExceeded",
    "DeleteResult",
    "DigestRecord",
    "Interaction",
    "InteractionKind",
    "InvalidArgument",
    "ListedDay",
    "ListedDays",
    "ModelInfo",
    "NotFound",
    "Paper",
    "PaperSiftError",
    "PermissionDenied",
    "RankFilters",
    "RankedPaper",
    "Ranking",
    "RecordResult",
    "ResourceExhausted",
    "SentDigest",
    "ServerError",
    "Strategy",
    "Unauthenticated",
    "Unavailable",
    "UpsertResult",
    "UseClientDefault",
]

# Public classes report this package as their home, so reprs and tracebacks read
# `papersift.client.NotFound` rather than the private module that defines it.
for _name in __all__:
    _member = globals()[_name]
    if isinstance(_member, type):
        _member.__module__ = __name__
del _name, _member

"""Valid-but-weird protobuf requests for every RPC of ``papersift.v1.Ranker``.

Every message here serialises (protobuf cannot carry a lone surrogate, so none is drawn). Each
field has two strategies: *valid* values that are still odd (random unicode ids and titles,
rules full of regex syntax, dates from year 1 to 9999) and *odd* values a careless or hostile
caller might send (empty or padded ids, NULs and control characters, lists just under, at and
over their limits, impossible dates and timestamps, unknown enum values, NaN, forged page tokens).
A request draws how many of its fields are odd (often none, often one), so that many requests
reach the store and the ranking, and a refusal can be traced to the one odd field.

The seeded world of the fuzzed server (``SEED_*``) is mixed in, so that ids often exist.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Callable, Mapping
from typing import TypeVar

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from hypothesis import strategies as st

from papersift.core import limits
from papersift.v1 import ranker_pb2 as pb
from tests.hostile.strategies import near_limit, weird_text

M = TypeVar("M", bound=Message)
T = TypeVar("T")
Field = tuple[st.SearchStrategy[object], st.SearchStrategy[object]]
"""The (valid, odd) values of one field."""

SEED_DAYS = ("2025-04-01", "2025-04-02")
SEED_PAPERS = tuple(f"arxiv:2504.{n:05d}" for n in range(1, 13))
SEED_USERS = ("reader-1", "reader-2", "réader-3 ☃")
SEED_EVENTS = ("event-1", "event-2")
INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)

_ODD_IDS = ("", " ", "x ", " x", "\xa0x", "x\x00", "\x7f", "\u2028", "x\ny", "\t")
_ODD_DATES = (
    "",
    "2025-02-30",
    "2025-02-29",
    "2025-4-1",
    "2025-13-01",
    "2025-04-01T00:00:00",
    "2025-04-01 ",
    " 2025-04-01",
    "2025-04-01\n",
    "\uff12\uff10\uff12\uff15-04-01",  # fullwidth digits
    "\u0662\u0660\u0662\u0665-04-01",  # arabic-indic digits
    "+2025-04-01",
    "20250401",
    "2025_04_01",
    "0000-01-01",
)
_RULES = (
    "cs.CL",
    "CS.cl",
    "graph",
    "(",
    "\\",
    "[a-z]+",
    ".*",
    "a|b",
    "Ada Lovelace",
    "Schrödinger",
)


def _printable(text: str) -> str:
    """``text`` without control characters and surrounding whitespace (what ids may hold)."""
    return "".join(ch for ch in text if ord(ch) >= 32 and ord(ch) != 127).strip()


def mixed(
    build: Callable[..., M], fields: Mapping[str, Field], *, odd: bool = True
) -> st.SearchStrategy[M]:
    """``build(**values)``: every field valid, or (if ``odd``) one, two or all of them odd."""
    names = sorted(fields)
    counts = [0, 0, 1, 1, 1, 2, len(names)] if odd else [0]

    @st.composite
    def draw_message(draw: st.DrawFn) -> M:
        count = draw(st.sampled_from(counts), label="odd fields")
        chosen = set(draw(st.permutations(names))[:count])
        values = {name: draw(fields[name][name in chosen], label=name) for name in names}
        return build(**values)

    return draw_message()


def one_odd_among(
    valid: st.SearchStrategy[T], odd: st.SearchStrategy[T], *, max_size: int = 4
) -> st.SearchStrategy[list[T]]:
    """A list of valid entries, maybe with one odd entry at a random place."""

    @st.composite
    def draw_list(draw: st.DrawFn) -> list[T]:
        entries = draw(st.lists(valid, min_size=1, max_size=max_size))
        if draw(st.booleans()):
            entries.insert(draw(st.integers(0, len(entries))), draw(odd))
        return entries

    return draw_list()


def around_limit(limit: int, make: Callable[[int], T]) -> st.SearchStrategy[list[T]]:
    """``limit - 1``, ``limit`` or ``limit + 1`` distinct entries."""
    return st.sampled_from((limit - 1, limit, limit + 1)).map(
        lambda size: [make(n) for n in range(size)]
    )


def with_repeat(values: st.SearchStrategy[list[T]]) -> st.SearchStrategy[list[T]]:
    """Lists whose first entry comes again at the end."""
    return values.filter(bool).map(lambda entries: [*entries, entries[0]])


# --- ids, text, dates, times -------------------------------------------------------------------


def valid_ids(known: tuple[str, ...]) -> st.SearchStrategy[str]:
    """A usable id: a known one, or random unicode without control characters or padding."""
    fresh = weird_text(min_size=1, max_size=20).map(_printable).filter(bool)
    return st.one_of(st.sampled_from(known), fresh, near_limit(limits.MAX_ID_LENGTH - 1, "é"))


odd_ids = st.one_of(
    st.sampled_from(_ODD_IDS),
    weird_text(max_size=16),
    st.sampled_from(["x", "é", "😀"]).flatmap(lambda c: near_limit(limits.MAX_ID_LENGTH, c)),
)
valid_dates = st.one_of(st.sampled_from(SEED_DAYS), st.dates().map(dt.date.isoformat))
odd_dates = st.one_of(st.sampled_from(_ODD_DATES), weird_text(max_size=12))
dates = valid_dates | odd_dates


def valid_text(max_size: int, *, required: bool = False) -> st.SearchStrategy[str]:
    """Odd but acceptable text: any unicode but NUL, within ``max_size``."""
    text = weird_text(min_size=int(required), max_size=min(max_size, 30)).map(
        lambda value: value.replace("\x00", "")
    )
    if required:
        text = text.filter(str.strip)
    longest = near_limit(max_size - 1, "é").map(lambda value: value[:max_size])
    return st.one_of(text, text, text, longest)  # hypothesis picks each branch about as often


def odd_text(limit: int) -> st.SearchStrategy[str]:
    """Text with a NUL, blank, or around ``limit`` characters."""
    return st.one_of(
        weird_text(max_size=10).map(lambda value: value + "\x00"),
        st.sampled_from(["", " ", "\t\n"]),
        near_limit(limit, "é"),
    )


def _now_seconds() -> int:
    return int(dt.datetime.now(dt.UTC).timestamp())


# Relative to the clock when drawn (the draws themselves must not depend on it).
recent_seconds = st.integers(3_600, 30 * 86_400).map(lambda age: _now_seconds() - age)
valid_timestamps = st.builds(
    lambda seconds, nanos: Timestamp(seconds=seconds, nanos=nanos),
    recent_seconds | st.sampled_from([-62_135_596_800, 0]),
    st.integers(0, 999_999_999),
)
odd_timestamps = st.one_of(
    st.none(),
    st.builds(
        lambda seconds, nanos: Timestamp(seconds=seconds, nanos=nanos),
        st.one_of(
            st.integers(2 * 86_400, 400 * 86_400).map(lambda ahead: _now_seconds() + ahead),
            st.sampled_from([-62_135_596_801, 253_402_300_799, 253_402_300_800]),
            st.integers(*INT64),
        ),
        st.just(0) | st.integers(*INT32),
    ),
)
int32 = st.integers(*INT32) | st.sampled_from([-1, 0, 1, 2, 5, 20, 99, 100, 101, INT32[1]])


def _set_timestamp(message: M, name: str, value: Timestamp | None) -> M:
    if value is not None:
        getattr(message, name).CopyFrom(value)
    return message


# --- UpsertPapers ------------------------------------------------------------------------------

fresh_paper_ids = valid_ids(SEED_PAPERS)
PAPER_FIELDS: dict[str, Field] = {
    "paper_id": (fresh_paper_ids, odd_ids),
    "title": (valid_text(limits.MAX_TITLE_LENGTH, required=True), odd_text(1_000)),
    "abstract": (valid_text(limits.MAX_ABSTRACT_LENGTH), odd_text(20_000).filter(bool)),
    "authors": (
        st.lists(valid_text(limits.MAX_AUTHOR_LENGTH, required=True), max_size=4),
        one_odd_among(valid_text(30, required=True), odd_text(limits.MAX_AUTHOR_LENGTH))
        | around_limit(limits.MAX_AUTHORS, lambda n: f"Author {n}"),
    ),
    "categories": (
        st.lists(valid_text(limits.MAX_CATEGORY_LENGTH, required=True), max_size=3),
        one_odd_among(valid_text(10, required=True), odd_text(limits.MAX_CATEGORY_LENGTH))
        | around_limit(limits.MAX_CATEGORIES, lambda n: f"cat.{n}"),
    ),
    "url": (
        st.one_of(
            st.just(""),
            weird_text(max_size=20).map(
                lambda text: "https://example.org/" + "".join(text.split()).replace("\x00", "")
            ),
            near_limit(limits.MAX_URL_LENGTH - 9).map(lambda path: "https://" + path),
        ),
        st.one_of(
            st.sampled_from(["http://", "ftp://example.org/x", "javascript:alert(1)"]),
            st.just("https://x.org/a b"),
            near_limit(limits.MAX_URL_LENGTH - 7).map(lambda path: "http://" + path),
            weird_text(min_size=1, max_size=20),
        ),
    ),
    "date": (valid_dates, odd_dates),
    "source": (valid_text(limits.MAX_SOURCE_LENGTH), odd_text(limits.MAX_SOURCE_LENGTH)),
}
papers = mixed(pb.Paper, PAPER_FIELDS)
valid_papers = mixed(pb.Paper, PAPER_FIELDS, odd=False)


def _unique_ids(entries: list[pb.Paper]) -> list[pb.Paper]:
    return list({entry.paper_id: entry for entry in entries}.values())


def _bulk(title: str, count: int) -> list[pb.Paper]:
    return [pb.Paper(paper_id=f"bulk:{n}", title=title, date=SEED_DAYS[0]) for n in range(count)]


upsert_requests = st.builds(
    pb.UpsertPapersRequest,
    papers=st.one_of(
        one_odd_among(valid_papers, papers).map(_unique_ids),
        with_repeat(st.lists(papers, max_size=3).map(_unique_ids)),
        st.just([]),
        st.builds(
            _bulk,
            valid_text(30, required=True),
            st.sampled_from([limits.MAX_BATCH_SIZE, limits.MAX_BATCH_SIZE + 1]),
        ),
    ),
)

# --- RecordInteractions ------------------------------------------------------------------------

odd_kinds = st.integers(*INT32) | st.sampled_from([0, 6, 99, -1])
INTERACTION_FIELDS: dict[str, Field] = {
    "event_id": (valid_ids(SEED_EVENTS), odd_ids),
    "user_id": (valid_ids(SEED_USERS), odd_ids),
    "paper_id": (st.sampled_from(SEED_PAPERS), odd_ids),
    "kind": (st.integers(1, 5), odd_kinds),
    "occurred_at": (valid_timestamps, odd_timestamps),
}


def _interaction(occurred_at: Timestamp | None, **fields: object) -> pb.Interaction:
    return _set_timestamp(pb.Interaction(**fields), "occurred_at", occurred_at)  # type: ignore[arg-type]


interactions = mixed(_interaction, INTERACTION_FIELDS)
valid_interactions = mixed(_interaction, INTERACTION_FIELDS, odd=False)


def _numbered_events(template: pb.Interaction, count: int) -> list[pb.Interaction]:
    copies = []
    for number in range(count):
        copy = pb.Interaction()
        copy.CopyFrom(template)
        copy.event_id = f"{template.event_id}#{number}"
        copies.append(copy)
    return copies


record_requests = st.builds(
    pb.RecordInteractionsRequest,
    interactions=st.one_of(
        one_odd_among(valid_interactions, interactions),
        with_repeat(st.lists(interactions, max_size=3)),
        st.just([]),
        st.builds(
            _numbered_events,
            valid_interactions,
            st.sampled_from([limits.MAX_BATCH_SIZE, limits.MAX_BATCH_SIZE + 1]),
        ),
    ),
)

# --- RankPapers, RankPapersBatch ---------------------------------------------------------------

valid_rules = st.one_of(
    st.sampled_from(_RULES),
    valid_text(limits.MAX_RULE_LENGTH, required=True).map(_printable).filter(bool),
)
odd_rules = st.one_of(
    st.sampled_from(["", "  ", "a\x00", "tab\there", "\x1f"]), near_limit(limits.MAX_RULE_LENGTH)
)


def rule_lists() -> Field:
    return (
        st.lists(valid_rules, max_size=3) | around_limit(limits.MAX_RULES - 1, lambda n: f"r{n}"),
        one_odd_among(valid_rules, odd_rules, max_size=2)
        | around_limit(limits.MAX_RULES, lambda n: f"rule {n}"),
    )


filters = mixed(
    pb.RankFilters,
    {
        "include_categories": rule_lists(),
        "exclude_categories": rule_lists(),
        "must_have_keywords": rule_lists(),
        "must_not_keywords": rule_lists(),
        "followed_authors": rule_lists(),
        "exclude_seen": (st.booleans(), st.booleans()),
    },
)
valid_diversities = st.floats(0.0, 1.0, width=32) | st.sampled_from([0.0, -0.0, 1.0])
odd_diversities = st.one_of(
    st.floats(width=32).filter(lambda value: not 0.0 <= value <= 1.0),
    st.sampled_from([1.0000001, -1e-45, 3.4e38, float("nan"), float("inf"), float("-inf")]),
)
diversities = valid_diversities | odd_diversities
valid_limits = st.integers(1, 3) | st.integers(0, limits.MAX_PAGE_SIZE)  # small: pages
odd_limits = st.integers(*INT32).filter(
    lambda n: not 0 <= n <= limits.MAX_PAGE_SIZE
) | st.sampled_from([-1, limits.MAX_PAGE_SIZE + 1, INT32[0], INT32[1]])


@st.composite
def forged_tokens(draw: st.DrawFn) -> str:
    """A page token built by hand: near-real payloads with odd values, or random bytes."""
    payload: object = {
        "v": draw(st.sampled_from([1, 2, "1", None])),
        "u": draw(valid_ids(SEED_USERS)),
        "d": draw(dates),
        "o": draw(st.one_of(st.integers(), st.floats(), st.booleans(), st.text(max_size=3))),
        "m": draw(st.sampled_from(["", "v1", None, []])),
        "ur": draw(st.one_of(st.integers(), st.floats(), st.text(max_size=3))),
        "dr": draw(st.sampled_from(["1.0", "", 5, None])),
        "vw": draw(st.sampled_from(["", "x", None])),
    }
    if draw(st.booleans()):
        payload = draw(st.sampled_from([[1, 2], "text", 3, None, {"o": 1}]))
    raw = draw(
        st.one_of(
            st.just(json.dumps(payload, ensure_ascii=False).encode()),
            st.binary(max_size=40),
            st.just(b"[" * 10_000 + b"]" * 10_000),
        )
    )
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


page_tokens = st.one_of(
    forged_tokens(), weird_text(min_size=1, max_size=20), near_limit(2_048, "A")
)


def _with_filters(message: M, filters: pb.RankFilters | None) -> M:
    if filters is not None:
        message.filters.CopyFrom(filters)  # type: ignore[attr-defined]
    return message


def rank_requests_for(
    users: tuple[str, ...], days: tuple[str, ...]
) -> st.SearchStrategy[pb.RankPapersRequest]:
    """``RankPapersRequest``s mostly about ``users`` (known readers) on ``days`` (with papers)."""
    return mixed(
        lambda filters, **fields: _with_filters(pb.RankPapersRequest(**fields), filters),
        {
            "user_id": (valid_ids(users), odd_ids),
            "date": (st.sampled_from(days) | valid_dates, odd_dates),
            "limit": (valid_limits, odd_limits),
            "page_token": (st.just(""), page_tokens),
            "filters": (st.none() | filters, filters),
            "explain": (st.booleans(), st.booleans()),
            "diversity": (valid_diversities, odd_diversities),
        },
    )


def distinct_users(
    users: tuple[str, ...] = SEED_USERS, *, max_size: int = 5
) -> st.SearchStrategy[list[str]]:
    """A few distinct, usable reader ids, often ``users``."""
    return st.lists(valid_ids(users), min_size=1, max_size=max_size, unique=True)


def odd_user_lists(users: tuple[str, ...] = SEED_USERS) -> st.SearchStrategy[list[str]]:
    """Readers with one odd id, a repeat, none at all, or about ``MAX_BATCH_SIZE`` of them."""
    return st.one_of(
        one_odd_among(valid_ids(users), odd_ids).filter(lambda values: len(values) > 1),
        with_repeat(distinct_users(users)),
        st.just([]),
        around_limit(limits.MAX_BATCH_SIZE, lambda n: f"reader-{n}"),
    )


def _batch(filters: pb.RankFilters | None, **fields: object) -> pb.RankPapersBatchRequest:
    request = pb.RankPapersBatchRequest(**fields)  # type: ignore[arg-type]
    if len(request.user_ids) >= limits.MAX_BATCH_SIZE - 1 and request.limit != 1:
        request.limit = 0  # 20 papers each: over MAX_BATCH_RANKED, refused before any ranking
    return _with_filters(request, filters)


def batch_requests_for(
    users: tuple[str, ...], days: tuple[str, ...]
) -> st.SearchStrategy[pb.RankPapersBatchRequest]:
    """``RankPapersBatchRequest``s mostly about ``users`` on ``days``."""
    return mixed(
        _batch,
        {
            "user_ids": (distinct_users(users), odd_user_lists(users)),
            "date": (st.sampled_from(days) | valid_dates, odd_dates),
            "limit": (valid_limits, odd_limits),
            "filters": (st.none() | filters, filters),
            "explain": (st.booleans(), st.booleans()),
            "diversity": (valid_diversities, odd_diversities),
        },
    )


rank_requests = rank_requests_for(SEED_USERS, SEED_DAYS)
batch_requests = batch_requests_for(SEED_USERS, SEED_DAYS)

# --- DeleteUser, RecordDigest, ListSentDigests -------------------------------------------------

delete_requests = st.builds(pb.DeleteUserRequest, user_id=valid_ids(SEED_USERS) | odd_ids)
valid_message_ids = st.one_of(
    st.just(""),
    st.just("<20250401.1@papersift.example>"),
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=30),
    near_limit(limits.MAX_MESSAGE_ID_LENGTH - 1, "a"),
)
odd_message_ids = st.one_of(
    weird_text(min_size=1, max_size=20).filter(
        lambda text: not text.isascii() or not text.isprintable()
    ),
    near_limit(limits.MAX_MESSAGE_ID_LENGTH + 1, "a"),
    st.sampled_from(["<a@b>\r\n", "é", "\x00"]),
)
digest_requests = mixed(
    lambda sent_at, **fields: _set_timestamp(pb.RecordDigestRequest(**fields), "sent_at", sent_at),
    {
        "user_id": (valid_ids(SEED_USERS), odd_ids),
        "date": (valid_dates, odd_dates),
        "paper_ids": (
            st.lists(st.sampled_from(SEED_PAPERS), max_size=5, unique=True),
            st.one_of(
                one_odd_among(st.sampled_from(SEED_PAPERS), odd_ids),
                with_repeat(st.lists(st.sampled_from(SEED_PAPERS), max_size=3)),
                around_limit(limits.MAX_PAGE_SIZE, lambda n: f"arxiv:2504.{n + 1:05d}"),
            ),
        ),
        "sent_at": (valid_timestamps, odd_timestamps),
        "message_id": (valid_message_ids, odd_message_ids),
    },
)
list_days_requests = mixed(
    pb.ListDaysRequest,
    {
        "start_date": (st.just("") | valid_dates, odd_dates),
        "end_date": (st.just("") | valid_dates, odd_dates),
        "limit": (
            st.integers(0, limits.MAX_DAYS),
            st.sampled_from([-1, limits.MAX_DAYS + 1, -(2**31), 2**31 - 1]),
        ),
    },
)
list_digest_requests = mixed(
    pb.ListSentDigestsRequest,
    {
        "date": (valid_dates, odd_dates),
        "user_ids": (distinct_users(), odd_user_lists()),
    },
)

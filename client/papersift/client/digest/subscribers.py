"""Reading and checking a subscriber file: CSV with a header row, or JSON Lines.

Each subscriber has a ``user_id`` (the reader in papersift), an ``email``, and optionally a
``name`` (used in the greeting) and a ``limit`` (papers in their digest, 1 to 100). The whole
file is checked before anything is sent, and every bad row is reported, each as
``FILE:LINE: field: problem``.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "FIELDS",
    "MAX_LIMIT",
    "Problem",
    "Subscriber",
    "SubscriberFile",
    "SubscriberFileError",
    "load_subscribers",
    "parse_subscribers",
]

FIELDS = ("user_id", "email", "name", "limit")
REQUIRED = ("user_id", "email")
MAX_LIMIT = 100
"""The largest digest: the server's largest page of a ranked list."""

_MAX_ID_LENGTH = 256
_MAX_NAME_LENGTH = 200
_MAX_EMAIL_LENGTH = 254
# Deliberately plain: one @, no spaces, a dotted domain. The mail server is the real judge;
# this catches the typos and column mix-ups a spreadsheet export produces.
_EMAIL = re.compile(r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)+")


@dataclass(frozen=True, slots=True)
class Subscriber:
    """A reader who gets the digest.

    Attributes:
        user_id: The reader's id in papersift.
        email: Where the digest goes.
        name: Used in the greeting; empty for none.
        limit: Papers in this reader's digest; ``None`` uses the job's ``--limit``.
        line: The line of the subscriber file the row starts on.
    """

    user_id: str
    email: str
    name: str = ""
    limit: int | None = None
    line: int = 0


@dataclass(frozen=True, slots=True)
class Problem:
    """What is wrong with one field of one row."""

    source: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.field}: {self.message}"


@dataclass(frozen=True, slots=True)
class SubscriberFile:
    """The valid subscribers of a file, in file order, and every problem found in it.

    Attributes:
        subscribers: The rows without problems (a repeated ``user_id`` keeps its first row).
        problems: One entry per bad field; a row may have several.
    """

    subscribers: tuple[Subscriber, ...]
    problems: tuple[Problem, ...]

    @property
    def invalid_rows(self) -> int:
        """How many rows have at least one problem."""
        return len({problem.line for problem in self.problems})


class SubscriberFileError(Exception):
    """A subscriber file that cannot be read at all (missing, not UTF-8, no header, empty)."""


def load_subscribers(path: str | Path) -> SubscriberFile:
    """Read and check a subscriber file.

    The format follows the name (``.csv``; ``.jsonl``, ``.ndjson`` or ``.json``) or, failing
    that, the first character: ``{`` is JSON Lines, anything else CSV.

    Raises:
        SubscriberFileError: The file cannot be read, or holds no rows at all.
    """
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise SubscriberFileError(f"cannot read {source}: {exc}") from None
    return parse_subscribers(text, source=source, jsonl=_is_jsonl(source, text))


def parse_subscribers(text: str, *, source: str, jsonl: bool) -> SubscriberFile:
    """Check the subscribers written in ``text`` (see :func:`load_subscribers`).

    Args:
        text: The whole file.
        source: Names the file in problems.
        jsonl: JSON Lines if true, else CSV with a header row.

    Raises:
        SubscriberFileError: No header (CSV) or no rows at all.
    """
    rows = _jsonl_rows(text, source) if jsonl else _csv_rows(text, source)
    subscribers: list[Subscriber] = []
    problems: list[Problem] = []
    first_line: dict[str, int] = {}
    for row in rows:
        if isinstance(row, Problem):
            problems.append(row)
            continue
        line, values = row
        found = [Problem(source, line, field, message) for field, message in _check(values)]
        user_id = values.get("user_id")
        if isinstance(user_id, str) and not found:
            earlier = first_line.setdefault(user_id, line)
            if earlier != line:
                found.append(
                    Problem(source, line, "user_id", f"{user_id!r} repeats line {earlier}")
                )
        if found:
            problems.extend(found)
            continue
        subscribers.append(_subscriber(values, line))
    if not subscribers and not problems:
        raise SubscriberFileError(f"{source} holds no subscribers")
    return SubscriberFile(tuple(subscribers), tuple(problems))


# --- reading rows -----------------------------------------------------------------------------

_Row = tuple[int, Mapping[str, object]] | Problem


def _is_jsonl(source: str, text: str) -> bool:
    suffix = Path(source).suffix.lower()
    if suffix == ".csv":
        return False
    if suffix in (".jsonl", ".ndjson", ".json"):
        return True
    return text.lstrip().startswith("{")


def _csv_rows(text: str, source: str) -> Iterator[_Row]:
    reader = csv.reader(text.splitlines(keepends=True), strict=True)
    header: list[str] | None = None
    start = 1
    try:
        for cells in reader:
            line, start = start, reader.line_num + 1
            if not any(cell.strip() for cell in cells):
                continue
            if header is None:
                header = [cell.strip() for cell in cells]
                header_problems = list(_header_problems(header, source, line))
                if header_problems:
                    # No row can be read right under a bad header; its problems say why.
                    yield from header_problems
                    return
                continue
            if len(cells) != len(header):
                yield Problem(
                    source, line, "row", f"has {len(cells)} cells; the header has {len(header)}"
                )
                continue
            yield (
                line,
                {name: cell for name, cell in zip(header, cells, strict=True) if cell.strip()},
            )
    except csv.Error as exc:
        yield Problem(source, reader.line_num, "row", f"not valid CSV ({exc})")
    if header is None:
        raise SubscriberFileError(f"{source} is empty; expected a header row: user_id,email,...")


def _header_problems(header: list[str], source: str, line: int) -> Iterator[Problem]:
    for name in REQUIRED:
        if name not in header:
            yield Problem(source, line, name, f"missing column; the header has {', '.join(header)}")
    for name in header:
        if name not in FIELDS:
            yield Problem(
                source, line, name or "header", f"unknown column; expected {', '.join(FIELDS)}"
            )
    seen: set[str] = set()
    for name in header:
        if name in seen:
            yield Problem(source, line, name, "column appears twice")
        seen.add(name)


def _jsonl_rows(text: str, source: str) -> Iterator[_Row]:
    for line, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
        except json.JSONDecodeError as exc:
            yield Problem(source, line, "row", f"not valid JSON ({exc.msg} at column {exc.colno})")
            continue
        if not isinstance(record, dict):
            kind = type(record).__name__
            yield Problem(source, line, "row", f"expected a JSON object, got {kind}")
            continue
        yield line, {key: value for key, value in record.items() if value is not None}


# --- checking values ------------------------------------------------------------------------


def _check(values: Mapping[str, object]) -> Iterator[tuple[str, str]]:
    """``(field, problem)`` for every bad field of one row."""
    for name in values:
        if name not in FIELDS:
            yield name, f"unknown field; expected {', '.join(FIELDS)}"
    for name in REQUIRED:
        if name not in values:
            yield name, "missing"
    checks = {
        "user_id": _user_id_problem,
        "email": _email_problem,
        "name": _name_problem,
        "limit": _limit_problem,
    }
    for field, check in checks.items():
        value = values.get(field)
        if value is not None:
            problem = check(value)
            if problem is not None:
                yield field, problem


def _has_control(text: str) -> bool:
    return any(ord(ch) < 32 or ord(ch) == 127 for ch in text)


def _user_id_problem(value: object) -> str | None:
    # The server's rules for ids, checked here so one bad id cannot fail a whole batch.
    if not isinstance(value, str):
        return f"must be a string, got {json.dumps(value)}"
    if not value.strip():
        return "must not be empty"
    if len(value) > _MAX_ID_LENGTH:
        return f"is {len(value)} characters; at most {_MAX_ID_LENGTH}"
    if _has_control(value):
        return "must not contain control characters"
    if value != value.strip():
        return "must not start or end with whitespace"
    return None


def _email_problem(value: object) -> str | None:
    if not isinstance(value, str):
        return f"must be a string, got {json.dumps(value)}"
    address = value.strip()
    if not address:
        return "must not be empty"
    if not address.isascii():
        return f"{address!r} is not ASCII; internationalised addresses are not supported"
    if len(address) > _MAX_EMAIL_LENGTH:
        return f"is {len(address)} characters; at most {_MAX_EMAIL_LENGTH}"
    if _has_control(address) or not _EMAIL.fullmatch(address):
        return f"{address!r} is not an email address like reader@example.org"
    return None


def _name_problem(value: object) -> str | None:
    if not isinstance(value, str):
        return f"must be a string, got {json.dumps(value)}"
    if len(value) > _MAX_NAME_LENGTH:
        return f"is {len(value)} characters; at most {_MAX_NAME_LENGTH}"
    if _has_control(value):
        return "must not contain control characters (line breaks, tabs)"
    return None


def _limit_problem(value: object) -> str | None:
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
    if number is None:
        return f"{json.dumps(value)} is not a whole number"
    if not 1 <= number <= MAX_LIMIT:
        return f"must be 1 to {MAX_LIMIT}, got {number}"
    return None


def _subscriber(values: Mapping[str, object], line: int) -> Subscriber:
    """The subscriber of a row whose values passed :func:`_check`."""
    limit = values.get("limit")
    return Subscriber(
        user_id=str(values["user_id"]),
        email=str(values["email"]).strip(),
        name=str(values.get("name", "")).strip(),
        limit=None if limit is None else int(str(limit).strip()),
        line=line,
    )

"""Typed reading of decoded JSON for the hf-json and jsonl parsers."""

from __future__ import annotations

import json
from collections.abc import Callable

from papersift.client.feeds._common import clean, unsendable_char
from papersift.client.feeds.errors import FeedError

JsonObject = dict[str, object]
Fail = Callable[[str], FeedError]


def decode(text: str, fail: Callable[[str, int], FeedError]) -> object:
    """``json.loads``, failing with the decoder's message and line number.

    Args:
        text: The JSON document.
        fail: Builds the error from a problem and the (1-based) line of the JSON error.
    """
    try:
        # No number is ever read as a value: parsing integers as floats spares a 5,000-digit
        # integer the ValueError of Python's int-string length limit (a float overflows to inf).
        decoded: object = json.loads(text, parse_int=float)
    except json.JSONDecodeError as exc:
        raise fail(f"invalid JSON ({exc.msg}, column {exc.colno})", exc.lineno) from exc
    except RecursionError as exc:
        raise fail("invalid JSON (nested too deeply)", 1) from exc
    return decoded


def as_object(value: object, what: str, fail: Fail) -> JsonObject:
    """``value`` if it is a JSON object (with string keys, as JSON objects always have)."""
    if not isinstance(value, dict):
        raise fail(f"{what} is {type_name(value)}, not an object")
    return {str(key): item for key, item in value.items()}


def optional_str(obj: JsonObject, key: str, fail: Fail, *, label: str = "") -> str:
    """The whitespace-collapsed string at ``key``; ``""`` when absent or null.

    ``label`` names the field in errors (default: ``key``), e.g. ``paper.title``.
    """
    value = obj.get(key)
    if value is None:
        return ""
    name = label or key
    if not isinstance(value, str):
        raise fail(f"{name!r} is {type_name(value)}, not a string")
    check_sendable(value, name, fail)
    return clean(value)


def string_list(obj: JsonObject, key: str, fail: Fail) -> tuple[str, ...]:
    """The non-empty, whitespace-collapsed strings of the list at ``key``; ``()`` when absent."""
    value = obj.get(key)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise fail(f"{key!r} is not a list of strings")
    for position, item in enumerate(value, 1):
        check_sendable(item, f"{key}[{position}]", fail)
    return tuple(text for text in (clean(item) for item in value) if text)


def check_sendable(value: str, name: str, fail: Fail) -> None:
    """Fail when the decoded string ``value`` holds a NUL or a lone surrogate (``"\\ud800"``)."""
    bad = unsendable_char(value)
    if bad is not None:
        raise fail(f"{name!r} contains {bad}, which no paper may hold")


def type_name(value: object) -> str:
    """How JSON would name the type of ``value``: ``a string``, ``null``, ``a list``..."""
    if value is None:
        return "null"
    names = {bool: "a boolean", str: "a string", list: "a list", dict: "an object"}
    for kind, name in names.items():
        if isinstance(value, kind):
            return name
    return "a number" if isinstance(value, int | float) else type(value).__name__

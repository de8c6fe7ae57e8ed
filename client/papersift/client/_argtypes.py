"""Argument types of the ``papersift`` commands: each parses one value or says what is wrong."""

from __future__ import annotations

import argparse
import datetime as dt
from collections.abc import Callable


def listing_date(text: str) -> dt.date:
    """A listing day written ``YYYY-MM-DD``."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date; write YYYY-MM-DD") from None


def whole_number(minimum: int = 1, maximum: int | None = None) -> Callable[[str], int]:
    """A parser of whole numbers from ``minimum`` to ``maximum`` (no upper bound if ``None``)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if maximum is not None and not minimum <= value <= maximum:
            raise argparse.ArgumentTypeError(f"must be {minimum} to {maximum}, got {value}")
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    return parse


def number(
    *,
    above: float | None = None,
    at_least: float | None = None,
    at_most: float | None = None,
    unit: str = "",
) -> Callable[[str], float]:
    """A parser of numbers within the given bounds (``unit`` names them in messages)."""
    noun = f"a number of {unit}" if unit else "a number"
    suffix = f" {unit}" if unit else ""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {noun}") from None
        if at_least is not None and at_most is not None and not at_least <= value <= at_most:
            raise argparse.ArgumentTypeError(
                f"must be between {at_least:g} and {at_most:g}{suffix}, got {text}"
            )
        if above is not None and not value > above:
            raise argparse.ArgumentTypeError(f"must be more than {above:g}{suffix}, got {text}")
        if at_least is not None and not value >= at_least:
            raise argparse.ArgumentTypeError(f"must be at least {at_least:g}{suffix}, got {text}")
        if at_most is not None and not value <= at_most:
            raise argparse.ArgumentTypeError(f"must be at most {at_most:g}{suffix}, got {text}")
        return value

    return parse

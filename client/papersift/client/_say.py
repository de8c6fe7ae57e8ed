"""What the ``papersift`` commands tell a person on standard error, in one voice."""

from __future__ import annotations

import sys


def error(message: str) -> None:
    """``error: <message>`` on standard error."""
    print(f"error: {message}", file=sys.stderr)


def note(message: str) -> None:
    """``note: <message>`` on standard error."""
    print(f"note: {message}", file=sys.stderr)


def plural(count: int, one: str, many: str) -> str:
    """``one`` for a count of 1, else ``many``."""
    return one if count == 1 else many

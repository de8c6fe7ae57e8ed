"""Errors raised by the core; the server maps each to one gRPC status code."""

from __future__ import annotations


class PaperSiftError(Exception):
    """Base of every error papersift raises on purpose."""


class InvalidInput(PaperSiftError):
    """A request field is wrong. ``field`` is its path, e.g. ``papers[3].title``."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


class TooLarge(PaperSiftError):
    """A batch or field is larger than allowed (maps to RESOURCE_EXHAUSTED)."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


class NotFound(PaperSiftError):
    """The thing asked for does not exist (e.g. a day with no papers)."""


class StoreUnavailable(PaperSiftError):
    """The database cannot be reached; the request may be retried later."""


class StoreNotFound(PaperSiftError):
    """The store does not exist (a missing SQLite file); the message says how to create it."""


class Unsupported(PaperSiftError):
    """A request asks for something this server does not do yet (maps to UNIMPLEMENTED)."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem

"""Errors of feed ingestion: a malformed feed, and a missing optional dependency."""

from __future__ import annotations

from collections.abc import Callable

CLI_EXTRA_HINT = "pip install 'papersift[cli]'"
"""How to install the optional dependencies of feed ingestion."""


class FeedError(Exception):
    """A feed that cannot be read or parsed; the whole feed is rejected, never half-read.

    The message names the source, where in it the problem is (``line 12``, ``entry 4``) when
    known, and what is wrong, e.g. ``seed.md line 12: '- **Authors**:' is not a list of
    strings``.

    Attributes:
        source: The file name, URL or ``source_name`` of the feed.
        problem: What is wrong, without the source and location.
        location: Where in the feed (``line 12``, ``entry 4``), or ``None``.
        paper_id: The id of the paper the failing record names, when it got that far.
    """

    def __init__(
        self,
        source: str,
        problem: str,
        *,
        location: str | None = None,
        paper_id: str | None = None,
    ) -> None:
        """Build the error.

        Args:
            source: The file name, URL or ``source_name`` of the feed.
            problem: What is wrong, phrased so a person can act on it.
            location: Where in the feed, e.g. ``line 12`` or ``entry 4``.
            paper_id: The paper the record names, if known (not part of the message).
        """
        self.source = source
        self.problem = problem
        self.location = location
        self.paper_id = paper_id
        where = f"{source} {location}" if location else source
        super().__init__(f"{where}: {problem}")


class MissingExtraError(FeedError, ImportError):
    """An optional dependency of the ``[cli]`` extra (httpx, defusedxml, tqdm) is missing.

    Both a :class:`FeedError` (so a caller that reports feed problems reports this one too)
    and an :class:`ImportError` (whose ``name`` is the missing module).
    """

    def __init__(self, module: str, purpose: str, *, source: str) -> None:
        """Build the error.

        Args:
            module: The import name that failed, e.g. ``httpx``.
            purpose: What needed it, e.g. ``fetch feeds over HTTP``.
            source: The feed being read, or what was being done.
        """
        super().__init__(
            source, f"{module} is needed to {purpose} but is not installed; run: {CLI_EXTRA_HINT}"
        )
        self.name = module


def naming_paper(fail: Callable[[str], FeedError], paper_id: str) -> Callable[[str], FeedError]:
    """``fail``, with every error it builds also naming ``paper_id``."""

    def named(problem: str) -> FeedError:
        error = fail(problem)
        error.paper_id = paper_id
        return error

    return named

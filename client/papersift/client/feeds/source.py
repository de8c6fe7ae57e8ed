"""Reading a feed's text from a local file, standard input or an http(s) URL."""

from __future__ import annotations

import gzip
import io
import random
import re
import sys
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from papersift.client.feeds.errors import FeedError, MissingExtraError

if TYPE_CHECKING:
    import httpx

USER_AGENT = "papersift-feeds/0.1 (python-httpx)"
"""Sent with every request, so feed operators can tell who is fetching."""
BACKOFF_BASE = 1.0
"""Seconds before the first retry; doubled for each further retry (plus jitter)."""
MAX_BACKOFF = 30.0
"""Cap of the exponential backoff, in seconds."""
MAX_RETRY_AFTER = 60.0
"""A server's numeric ``Retry-After`` is honoured up to this many seconds."""
MAX_FEED_BYTES = 1 << 30
"""Largest decompressed size of a gzip feed (1 GiB): a guard against gzip bombs."""
STDIN = "-"
"""The source name that reads standard input."""

_GZIP_MAGIC = b"\x1f\x8b"
_URL = re.compile(r"(?i)https?://")


def is_url(source: str) -> bool:
    """Whether ``source`` is an http(s) URL rather than a local path."""
    return _URL.match(source) is not None


def _gunzip_if_needed(name: str, data: bytes, *, by_name: bool) -> bytes:
    """Undo gzip when the bytes start with its magic number, or ``by_name`` and ``.gz``."""
    gz_name = by_name and name.lower().endswith(".gz")
    if not (gz_name or data.startswith(_GZIP_MAGIC)):
        return data
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as unzipped:
            text = unzipped.read(MAX_FEED_BYTES + 1)
    except (OSError, EOFError, zlib.error) as exc:
        raise FeedError(name, f"not a valid gzip file ({exc})") from exc
    if len(text) > MAX_FEED_BYTES:
        raise FeedError(name, f"decompresses to more than {MAX_FEED_BYTES >> 20} MiB")
    return text


def _decode(name: str, data: bytes, charset: str | None) -> str:
    encoding = charset or "utf-8-sig"
    try:
        return data.decode(encoding)
    except LookupError as exc:
        raise FeedError(name, f"unknown text encoding {encoding!r}") from exc
    except UnicodeDecodeError as exc:
        raise FeedError(name, f"not {encoding} text (byte {exc.start}: {exc.reason})") from exc


def _read_local(source: str) -> bytes:
    if source == STDIN:
        return sys.stdin.buffer.read()
    try:
        return Path(source).read_bytes()
    except OSError as exc:
        raise FeedError(source, f"cannot read the file ({exc.strerror or exc})") from exc


def backoff_delay(attempt: int, retry_after: float | None, rng: random.Random) -> float:
    """Seconds to wait after failed attempt ``attempt`` (0-based) before the next one.

    A server's ``Retry-After`` wins, capped at :data:`MAX_RETRY_AFTER`; otherwise exponential
    backoff from :data:`BACKOFF_BASE`, capped at :data:`MAX_BACKOFF`, with "equal jitter":
    half the delay fixed, half random, so clients that failed together do not retry together.
    """
    if retry_after is not None:
        return min(retry_after, MAX_RETRY_AFTER)
    delay = min(MAX_BACKOFF, BACKOFF_BASE * 2.0**attempt)
    return delay / 2 + rng.uniform(0, delay / 2)


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "").strip()
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


def _is_retryable(status: int) -> bool:
    return status == 429 or 500 <= status <= 599


def _describe(response: httpx.Response) -> str:
    return f"HTTP {response.status_code} {response.reason_phrase}".rstrip()


class _Fetcher:
    """One GET with retries; every failure names the URL."""

    def __init__(
        self,
        url: str,
        *,
        retries: int,
        sleep: Callable[[float], None],
        rng: random.Random,
    ) -> None:
        self.url = url
        self.attempts = max(0, retries) + 1
        self.sleep = sleep
        self.rng = rng

    def fetch(self, client: httpx.Client) -> httpx.Response:
        import httpx

        retryable = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)
        problem = ""
        for attempt in range(self.attempts):
            retry_after: float | None = None
            try:
                response = client.get(self.url)
            except retryable as exc:
                problem = f"{type(exc).__name__}: {exc}"
            except (httpx.HTTPError, httpx.InvalidURL) as exc:
                raise FeedError(self.url, f"request failed ({type(exc).__name__}: {exc})") from exc
            else:
                if response.is_success:
                    return response
                if not _is_retryable(response.status_code):
                    raise FeedError(self.url, f"{_describe(response)} (not retried)")
                problem, retry_after = _describe(response), _retry_after(response)
            if attempt + 1 < self.attempts:
                self.sleep(backoff_delay(attempt, retry_after, self.rng))
        raise FeedError(self.url, f"gave up after {self.attempts} attempts; last: {problem}")


def _fetch(
    url: str,
    *,
    timeout: float,
    retries: int,
    transport: httpx.BaseTransport | None,
    sleep: Callable[[float], None],
    rng: random.Random,
) -> tuple[bytes, str | None]:
    try:
        import httpx
    except ImportError as exc:
        raise MissingExtraError("httpx", "fetch feeds over HTTP", source=url) from exc
    fetcher = _Fetcher(url, retries=retries, sleep=sleep, rng=rng)
    with httpx.Client(
        timeout=timeout,
        follow_redirects=True,
        transport=transport,
        headers={"User-Agent": USER_AGENT},
    ) as client:
        response = fetcher.fetch(client)
        return response.content, response.charset_encoding


def read_source(
    source: str,
    *,
    timeout: float = 20.0,
    retries: int = 3,
    transport: httpx.BaseTransport | None = None,
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
) -> tuple[str, str]:
    """Read a feed's text from a local path, ``-`` (standard input) or an http(s) URL.

    Gzip is undone when the bytes start with the gzip magic number, or a local file's name ends
    in ``.gz``.
    Text is decoded as UTF-8 (a byte-order mark is dropped) unless an HTTP response names its
    charset. URLs are fetched with httpx: redirects followed, ``timeout`` per request, and up to
    ``retries`` further attempts after a 429, a 5xx, a timeout or a network error, waiting with
    exponential backoff and jitter, or the server's numeric ``Retry-After`` (capped at
    :data:`MAX_RETRY_AFTER`). Any other 4xx fails at once.

    Args:
        source: A local path, ``-``, or an ``http://`` / ``https://`` URL.
        timeout: Seconds allowed for each HTTP request (connect, read, write, pool).
        retries: Further attempts after the first one fails in a retryable way.
        transport: The httpx transport to use (tests pass an ``httpx.MockTransport``).
        sleep: Called with the seconds to wait between attempts (tests pass a recorder).
        rng: The source of jitter; a fresh ``random.Random()`` when ``None``.

    Returns:
        ``(name, text)``: the source as given (``<stdin>`` for ``-``), and the decoded text.

    Raises:
        FeedError: When the file cannot be read, the download fails (after the last retry, or
            at once for a non-retryable status), or the bytes are not valid gzip or text.
        MissingExtraError: When a URL is given and httpx is not installed.
    """
    remote = is_url(source)
    if remote:
        data, charset = _fetch(
            source,
            timeout=timeout,
            retries=retries,
            transport=transport,
            sleep=sleep,
            rng=rng or random.Random(),
        )
        name = source
    else:
        data, charset = _read_local(source), None
        name = "<stdin>" if source == STDIN else source
    # A URL's name says nothing reliable: httpx has already undone a gzip Content-Encoding.
    data = _gunzip_if_needed(name, data, by_name=not remote)
    return name, _decode(name, data, charset)

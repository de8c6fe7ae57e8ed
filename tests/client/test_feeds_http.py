"""Fetching feeds over HTTP (retries, backoff, redirects) with httpx.MockTransport; and the
optional dependencies being imported lazily."""

from __future__ import annotations

import functools
import gzip
import random
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import pytest

from papersift.client.feeds import FeedError, MissingExtraError, load_feed, read_source
from papersift.client.feeds import load as feeds_load
from papersift.client.feeds.source import MAX_RETRY_AFTER, USER_AGENT

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "feeds"
URL = "https://rss.arxiv.org/rss/cs.CL"
RSS = (FIXTURES / "arxiv_cs_cl.rss").read_bytes()


class Script:
    """Answers requests with a list of responses (or exceptions), recording each request."""

    def __init__(self, *answers: httpx.Response | Exception) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


class Sleeps:
    """Records the waits instead of sleeping."""

    def __init__(self) -> None:
        self.seconds: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.seconds.append(seconds)


def _fetch(script: Script, sleeps: Sleeps, *, timeout: float = 20.0, retries: int = 3) -> str:
    name, text = read_source(
        URL,
        timeout=timeout,
        retries=retries,
        transport=httpx.MockTransport(script),
        sleep=sleeps,
        rng=random.Random(7),
    )
    assert name == URL
    return text


def test_success_returns_the_decoded_text_and_sends_a_user_agent() -> None:
    script, sleeps = Script(httpx.Response(200, content=RSS)), Sleeps()

    text = _fetch(script, sleeps, timeout=5.0)

    assert text == RSS.decode("utf-8")
    assert sleeps.seconds == []
    (request,) = script.requests
    assert request.headers["User-Agent"] == USER_AGENT
    assert request.extensions["timeout"] == {"connect": 5.0, "read": 5.0, "write": 5.0, "pool": 5.0}


def test_429_then_200_is_retried_after_retry_after() -> None:
    script = Script(
        httpx.Response(429, headers={"Retry-After": "7"}),
        httpx.Response(200, content=RSS),
    )
    sleeps = Sleeps()

    assert _fetch(script, sleeps) == RSS.decode("utf-8")
    assert sleeps.seconds == [7.0]
    assert len(script.requests) == 2


def test_retry_after_is_capped() -> None:
    script = Script(
        httpx.Response(503, headers={"Retry-After": "86400"}),
        httpx.Response(200, content=RSS),
    )
    sleeps = Sleeps()

    _fetch(script, sleeps)

    assert sleeps.seconds == [MAX_RETRY_AFTER]


def test_503_every_time_gives_up_with_a_clear_error() -> None:
    script = Script(*[httpx.Response(503) for _ in range(4)])
    sleeps = Sleeps()

    with pytest.raises(FeedError) as caught:
        _fetch(script, sleeps)

    assert str(caught.value) == (
        f"{URL}: gave up after 4 attempts; last: HTTP 503 Service Unavailable"
    )
    assert len(script.requests) == 4
    # Exponential backoff with jitter: 1 s, 2 s, 4 s, each between half and all of it.
    assert len(sleeps.seconds) == 3
    for wait, full in zip(sleeps.seconds, [1.0, 2.0, 4.0], strict=True):
        assert full / 2 <= wait <= full


def test_jitter_spreads_the_waits() -> None:
    waits = set()
    for seed in range(5):
        sleeps = Sleeps()
        with pytest.raises(FeedError):
            read_source(
                URL,
                retries=1,
                transport=httpx.MockTransport(Script(httpx.Response(500), httpx.Response(500))),
                sleep=sleeps,
                rng=random.Random(seed),
            )
        waits.add(sleeps.seconds[0])
    assert len(waits) == 5


def test_404_is_not_retried() -> None:
    script, sleeps = Script(httpx.Response(404)), Sleeps()

    with pytest.raises(FeedError) as caught:
        _fetch(script, sleeps)

    assert str(caught.value) == f"{URL}: HTTP 404 Not Found (not retried)"
    assert len(script.requests) == 1
    assert sleeps.seconds == []


def test_connect_errors_and_timeouts_are_retried() -> None:
    script = Script(
        httpx.ConnectError("connection refused"),
        httpx.ReadTimeout("timed out"),
        httpx.Response(200, content=RSS),
    )
    sleeps = Sleeps()

    assert _fetch(script, sleeps) == RSS.decode("utf-8")
    assert len(sleeps.seconds) == 2


def test_the_last_network_error_is_named() -> None:
    script = Script(*[httpx.ConnectError("connection refused") for _ in range(2)])

    with pytest.raises(FeedError) as caught:
        _fetch(script, Sleeps(), retries=1)

    assert str(caught.value) == (
        f"{URL}: gave up after 2 attempts; last: ConnectError: connection refused"
    )


def test_redirects_are_followed() -> None:
    script = Script(
        httpx.Response(301, headers={"Location": "https://export.arxiv.org/rss/cs.CL"}),
        httpx.Response(200, content=RSS),
    )

    _fetch(script, Sleeps())

    assert [str(r.url) for r in script.requests] == [URL, "https://export.arxiv.org/rss/cs.CL"]


def test_charset_and_gzip_bodies() -> None:
    latin1 = Script(
        httpx.Response(
            200,
            content="## Café\n".encode("latin-1"),
            headers={"Content-Type": "text/markdown; charset=ISO-8859-1"},
        )
    )
    gzipped = Script(httpx.Response(200, content=gzip.compress(RSS)))

    assert _fetch(latin1, Sleeps()) == "## Café\n"
    assert _fetch(gzipped, Sleeps()) == RSS.decode("utf-8")


def test_a_gz_url_served_with_gzip_content_encoding_is_decoded_once() -> None:
    url = "https://example.org/papers.jsonl.gz"
    body = (FIXTURES / "arxiv_2025q2_sample.jsonl").read_bytes()
    answer = httpx.Response(200, content=gzip.compress(body), headers={"Content-Encoding": "gzip"})

    name, text = read_source(url, transport=httpx.MockTransport(Script(answer)))

    assert (name, text) == (url, body.decode("utf-8"))


def test_load_feed_from_a_url(monkeypatch: pytest.MonkeyPatch) -> None:
    script = Script(httpx.Response(200, content=RSS))
    mocked = functools.partial(read_source, transport=httpx.MockTransport(script))
    monkeypatch.setattr(feeds_load, "read_source", mocked)

    papers = load_feed(URL)

    assert len(papers) == 5
    assert papers[0].paper_id == "arxiv:2503.22698"
    assert [str(r.url) for r in script.requests] == [URL]


# --- optional dependencies --------------------------------------------------------------------


def test_missing_httpx_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "httpx", None)

    with pytest.raises(MissingExtraError) as caught:
        read_source(URL)

    assert str(caught.value) == (
        f"{URL}: httpx is needed to fetch feeds over HTTP but is not installed; "
        "run: pip install 'papersift[cli]'"
    )
    assert isinstance(caught.value, ImportError) and isinstance(caught.value, FeedError)
    assert caught.value.name == "httpx"


def test_missing_defusedxml_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "defusedxml", None)

    with pytest.raises(MissingExtraError, match=r"pip install 'papersift\[cli\]'"):
        load_feed(str(FIXTURES / "arxiv_api_query.atom"))


def test_the_package_imports_and_parses_text_without_the_cli_extra() -> None:
    script = textwrap.dedent(
        """
        import datetime, sys
        for name in ("httpx", "defusedxml", "tqdm"):
            sys.modules[name] = None  # any import of them now fails
        import papersift.client.feeds as feeds
        papers = feeds.load_feed(sys.argv[1], date=datetime.date(2025, 3, 7))
        assert len(papers) == 13, len(papers)
        report = feeds.ingest(None, [], progress=False)
        assert report.batches == 0
        print("ok")
        """
    )
    seed = str(FIXTURES / "000_982c8c29131a072e.txt")

    result = subprocess.run(
        [sys.executable, "-c", script, seed], capture_output=True, text=True, check=False
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"

"""XML feeds that try entity expansion or external fetches: refused by defusedxml, never obeyed.

Random billion-laughs bombs, external general and parameter entities, external DTDs, attribute
defaults and unparsed entities, placed in Atom and RSS feeds, must fail with the "refused" error
before any expansion (the hypothesis deadline catches an expansion) and without any fetch: every
URL points at a loopback listener that must never see a connection. XInclude, stylesheets and
schema locations (no DTD involved) are parsed as plain elements and fetch nothing either.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from papersift.client import Paper
from papersift.client.feeds import FeedError, detect_format, parse_arxiv_atom, parse_arxiv_rss
from tests.hostile.budget import budget
from tests.hostile.feed_contract import outcome

SOURCE = "hostile.xml"
ENTRY = (
    "<id>http://arxiv.org/abs/2503.04725v1</id><title>T {ref}</title>"
    "<summary>{ref}</summary><published>2025-03-06T00:00:00Z</published>"
)
ROOTS: dict[str, tuple[str, Callable[..., list[Paper]]]] = {
    "arxiv-atom": (
        '<feed xmlns="http://www.w3.org/2005/Atom"><entry{attr}>' + ENTRY + "</entry></feed>",
        parse_arxiv_atom,
    ),
    "arxiv-rss": (
        '<rss version="2.0"><channel><item{attr}><title>T {ref}</title>'
        "<link>https://arxiv.org/abs/2503.04725</link>"
        "<pubDate>Tue, 01 Apr 2025 00:00:00 -0400</pubDate></item></channel></rss>",
        parse_arxiv_rss,
    ),
}


class Listener:
    """A loopback TCP port that counts the connections made to it."""

    def __init__(self) -> None:
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(16)
        self.socket.setblocking(False)
        self.port = self.socket.getsockname()[1]

    def connections(self) -> int:
        """Connections made since the last call."""
        count = 0
        while True:
            try:
                connection, _ = self.socket.accept()
            except BlockingIOError:
                return count
            connection.close()
            count += 1


@pytest.fixture(scope="module")
def listener() -> Iterator[Listener]:
    """A loopback port no parser may ever connect to."""
    opened = Listener()
    try:
        yield opened
    finally:
        opened.socket.close()


name = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=8)


@st.composite
def bombs(draw: st.DrawFn, port: int) -> tuple[str, str, str]:
    """``(doctype subset, reference, root attribute)``: one hostile DTD trick and its use."""
    url = draw(
        st.sampled_from(
            [
                f"http://127.0.0.1:{port}/x.xml",
                f"https://127.0.0.1:{port}/x.xml",
                f"ftp://127.0.0.1:{port}/x",
                "file:///etc/passwd",
                "file:///dev/zero",
                "expect://id",
            ]
        )
    )
    kind = draw(
        st.sampled_from(
            ["laughs", "quadratic", "external", "public", "parameter", "default", "unparsed"]
        )
    )
    entity = draw(name)
    if kind == "laughs":
        depth = draw(st.integers(1, 12))
        fanout = draw(st.integers(2, 16))
        lines = [f'<!ENTITY {entity}0 "{draw(name)}">']
        for level in range(1, depth + 1):
            lines.append(f'<!ENTITY {entity}{level} "{f"&{entity}{level - 1};" * fanout}">')
        return "".join(lines), f"&{entity}{depth};", ""
    if kind == "quadratic":
        value = "x" * draw(st.integers(1_000, 50_000))
        return f'<!ENTITY {entity} "{value}">', f"&{entity};" * draw(st.integers(1, 2_000)), ""
    if kind == "external":
        return f'<!ENTITY {entity} SYSTEM "{url}">', f"&{entity};", ""
    if kind == "public":
        return f'<!ENTITY {entity} PUBLIC "-//P//E//EN" "{url}">', f"&{entity};", ""
    if kind == "parameter":
        return f'<!ENTITY % {entity} SYSTEM "{url}"> %{entity};', "", ""
    if kind == "default":
        return f'<!ATTLIST entry {entity} CDATA "injected">', "", ""
    return (
        f'<!NOTATION n SYSTEM "{url}"><!ENTITY {entity} SYSTEM "{url}" NDATA n>',
        "",
        f' {entity}="{entity}"',
    )


@st.composite
def hostile_documents(draw: st.DrawFn, port: int) -> tuple[str, str]:
    """``(format, text)``: a feed whose DOCTYPE declares something defusedxml must refuse."""
    feed_format = draw(st.sampled_from(sorted(ROOTS)))
    template, _ = ROOTS[feed_format]
    subset, reference, attribute = draw(bombs(port))
    root = "feed" if feed_format == "arxiv-atom" else "rss"
    external = draw(
        st.sampled_from(
            ["", f' SYSTEM "http://127.0.0.1:{port}/d.dtd"', ' PUBLIC "-//D//EN" "file:///x.dtd"']
        )
    )
    doctype = draw(
        st.sampled_from(
            [
                f"<!DOCTYPE {root}{external} [{subset}]>",
                f"<!DOCTYPE {root}{external}>" if external else f"<!DOCTYPE {root} [{subset}]>",
            ]
        )
    )
    prolog = draw(st.sampled_from(["", '<?xml version="1.0"?>', '<?xml version="1.0"?>\n<!-- -->']))
    body = template.format(ref=reference, attr=attribute)
    return feed_format, prolog + doctype + draw(st.sampled_from(["", "\n"])) + body


def test_the_listener_counts_connections(listener: Listener) -> None:
    # The properties below would pass vacuously if a connection could go unnoticed.
    with socket.create_connection(("127.0.0.1", listener.port), timeout=5):
        deadline = time.monotonic() + 5
        while not listener.connections():
            assert time.monotonic() < deadline, "a loopback connection was not counted"
            time.sleep(0.01)


@budget(150)
@given(data=st.data())
def test_dtd_tricks_are_refused_before_expansion_or_fetch(
    listener: Listener, data: st.DataObject
) -> None:
    feed_format, text = data.draw(hostile_documents(listener.port), label="document")
    _, parse = ROOTS[feed_format]

    result = outcome(lambda: parse(text, source_name=SOURCE), SOURCE, text=text)

    assert isinstance(result, FeedError)
    assert result.problem.startswith("refused: the XML declares a DTD"), result.problem
    assert listener.connections() == 0
    try:  # the format is sniffed from the root element, if it is within the first 8 KiB
        assert detect_format("feed", text) == feed_format
    except FeedError as error:
        assert len(text) > 8_192, error


@budget(40)
@given(
    data=st.data(),
    trick=st.sampled_from(
        [
            '<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="{url}"/>',
            '<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="{url}" parse="text"/>',
            '<x xmlns:s="http://www.w3.org/2001/XMLSchema-instance" s:schemaLocation="a {url}"/>',
            '<link rel="stylesheet" href="{url}"/>',
        ]
    ),
)
def test_references_outside_a_dtd_are_never_followed(
    listener: Listener, data: st.DataObject, trick: str
) -> None:
    feed_format = data.draw(st.sampled_from(sorted(ROOTS)), label="format")
    template, parse = ROOTS[feed_format]
    url = f"http://127.0.0.1:{listener.port}/{data.draw(name, label='path')}"
    stylesheet = f'<?xml-stylesheet type="text/xsl" href="{url}"?>'
    text = stylesheet + template.format(ref=trick.format(url=url), attr="")

    papers = outcome(lambda: parse(text, source_name=SOURCE), SOURCE, text=text)

    assert isinstance(papers, list) and [p.paper_id for p in papers] == ["arxiv:2503.04725"]
    assert listener.connections() == 0

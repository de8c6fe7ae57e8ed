"""Well-formed feeds of every format, full of hostile text, each with the papers it must give.

Each strategy draws a :class:`Document`: the feed's text, the listing day passed to the parser
(``None`` where the feed carries dates), the papers the parser must return, and where each paper
starts (a line for the line-based formats, an entry number for the others), so properties can
break one paper on purpose and check that the error names it.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import re
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

from hypothesis import strategies as st

from papersift.client import Paper
from papersift.client.feeds._common import clean
from papersift.client.feeds._ids import title_paper_id
from tests.hostile.strategies import line_text, visible_text

ATOM_NS = "http://www.w3.org/2005/Atom"
ARXIV_NS = "http://arxiv.org/schemas/atom"
DC_NS = "http://purl.org/dc/elements/1.1/"
# What XML 1.0 allows in a document (https://www.w3.org/TR/xml/#charsets).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


@dataclass(frozen=True)
class Document:
    """A feed, the day to parse it with, the papers it holds, and where each one starts."""

    text: str
    date: dt.date | None
    papers: list[Paper]
    starts: list[int] = field(default_factory=list)
    """The line (1-based) of each paper (markdown, hf-text, jsonl) or its entry number."""
    lines: list[str] = field(default_factory=list)
    """The text's lines, for the line-based formats (joined by ``newline``)."""
    newline: str = "\n"


# --- pieces ------------------------------------------------------------------------------------

new_style_id = st.builds(
    lambda year, month, number, digits: f"{year:02d}{month:02d}.{number % 10**digits:0{digits}d}",
    st.integers(0, 99),
    st.integers(1, 12),
    st.integers(0, 99_999),
    st.sampled_from([4, 5]),
)
old_style_id = st.builds(
    lambda archive, year, month, number: f"{archive}/{year:02d}{month:02d}{number:03d}",
    st.sampled_from(["hep-th", "math", "math.AG", "cond-mat", "astro-ph", "q-alg", "cs.CL"]),
    st.integers(0, 99),
    st.integers(1, 12),
    st.integers(0, 999),
)
arxiv_id = new_style_id | old_style_id
version = st.sampled_from(["", "v1", "v2", "v12"])


@st.composite
def arxiv_label(draw: st.DrawFn, arxiv: str) -> str:
    """``arxiv`` written as a bare id, a label, or an arXiv URL (with or without a version)."""
    v = draw(version)
    return draw(
        st.sampled_from(
            [
                f"{arxiv}{v}",
                f"arXiv:{arxiv}{v}",
                f"oai:arXiv.org:{arxiv}{v}",
                f"http://arxiv.org/abs/{arxiv}{v}",
                f"https://export.arxiv.org/abs/{arxiv}{v}",
                f"https://arxiv.org/pdf/{arxiv}{v}.pdf",
                f"https://www.arxiv.org/html/{arxiv}{v}?context=cs",
            ]
        )
    )


@st.composite
def arxiv_url_text(draw: st.DrawFn, arxiv: str) -> str:
    """An arXiv URL of ``arxiv``, as a digest's ``Url`` field writes it."""
    return draw(arxiv_label(arxiv).filter(lambda label: label.startswith("http")))


day = st.dates(min_value=dt.date(1970, 1, 1), max_value=dt.date(2100, 12, 31))
parse_day = st.none() | day
zone = st.builds(
    lambda minutes: dt.timezone(dt.timedelta(minutes=minutes)),
    st.integers(-23 * 60 - 59, 23 * 60 + 59),
)
moment = st.datetimes(
    min_value=dt.datetime(1970, 1, 1), max_value=dt.datetime(2100, 12, 31), timezones=zone
)
short_text = line_text(max_size=30)
names = st.lists(line_text(max_size=15), max_size=4)


def title_text() -> st.SearchStrategy[str]:
    """A title: starts with ``T`` (never a header line, never empty), hostile after that."""
    return visible_text(max_size=40).map(lambda text: "T" + text)


def xml_chars(text: str) -> str:
    """``text`` without the characters XML 1.0 cannot hold."""
    return _NOT_XML.sub("", text)


def xml_text(text: str, cdata: bool = False) -> str:
    """``text`` as element content: escaped, or in a CDATA section when it can be."""
    text = xml_chars(text)
    if cdata and "]]>" not in text and "<" not in text:  # "<" only escaped: tags stay findable
        return f"<![CDATA[{text}]]>"
    return escape(text)


def xml_attr(text: str) -> str:
    """``text`` as a double-quoted attribute value (tabs and breaks kept as references)."""
    return escape(xml_chars(text), {'"': "&quot;", "\t": "&#9;", "\n": "&#10;", "\r": "&#13;"})


def blank_line() -> st.SearchStrategy[str]:
    """A line the parsers skip: empty, or only whitespace to ``str.strip``."""
    return st.sampled_from(["", " ", "\t", "  \t ", "\x0c", "\x0b", "\u2028", "\x85", "\xa0"])


# --- markdown ----------------------------------------------------------------------------------

_MD_NAMES = {
    "url": ["Url", "URL", "Link", "link"],
    "authors": ["Authors", "Author", "AUTHORS"],
    "abstract": ["Abstract", "Abstrat", "Summary", "abstract"],
    "other": ["Comment", "Tags", "Code"],
}


@st.composite
def md_field(draw: st.DrawFn, kind: str, value: str) -> str:
    """A ``- **Name**: value`` line in one of the spellings the digest uses."""
    name = draw(st.sampled_from(_MD_NAMES[kind]))
    bullet = draw(st.sampled_from(["- ", "* ", "-  ", "-\t"]))
    label = draw(
        st.sampled_from([f"**{name}**:", f"**{name}:**", f"**{name}** :", f"**{name} :**"])
    )
    return f"{bullet}{label} {value}"


@st.composite
def markdown_digest(draw: st.DrawFn) -> Document:
    """A daily digest: topics, then per paper a heading and its fields in any order."""
    listing_day = draw(day)
    lines: list[str] = []
    papers: list[Paper] = []
    starts: list[int] = []
    for _ in range(draw(st.integers(0, 4))):
        if draw(st.booleans()):
            lines.append("# " + draw(short_text))
        lines.extend(draw(st.lists(blank_line(), max_size=2)))
        title = draw(title_text())
        starts.append(len(lines) + 1)
        lines.append(draw(st.sampled_from(["## ", "##  ", "##\t"])) + title)
        groups: list[list[str]] = []
        arxiv = draw(st.none() | arxiv_id)
        url = ""
        if arxiv is not None:
            groups.append([draw(md_field("url", draw(arxiv_url_text(arxiv))))])
            url = f"https://arxiv.org/abs/{arxiv}"
        elif draw(st.booleans()):
            url = "https://example.org/" + draw(st.text(alphabet="abc/-_.~%=?", max_size=20))
            groups.append([draw(md_field("url", url))])
        authors = draw(names)
        list_even_if_empty = draw(st.booleans())
        if authors or list_even_if_empty:
            written = repr(tuple(authors)) if draw(st.booleans()) else repr(authors)
            groups.append([draw(md_field("authors", written))])
        abstract = ""
        if draw(st.booleans()):
            first = draw(short_text)
            more = draw(st.lists(short_text.map(lambda text: "a" + text), max_size=2))
            groups.append([draw(md_field("abstract", first)), *more])
            abstract = clean(" ".join([first, *more]))
        for _ in range(draw(st.integers(0, 2))):
            groups.append([draw(md_field("other", draw(short_text)))])
        for group in draw(st.permutations(groups)):
            lines.extend(group)
            lines.extend(draw(st.lists(blank_line(), max_size=1)))
        papers.append(
            Paper(
                paper_id=f"arxiv:{arxiv}" if arxiv else title_paper_id(clean(title)),
                title=clean(title),
                date=listing_day,
                abstract=abstract,
                authors=tuple(name for name in map(clean, authors) if name),
                url=url,
                source="arxiv-digest",
            )
        )
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    return Document(newline.join(lines), listing_day, papers, starts, lines, newline)


# --- Hugging Face page text --------------------------------------------------------------------


@st.composite
def hf_page_text(draw: st.DrawFn) -> Document:
    """A Daily Papers page: header lines, then title, blank line, abstract paragraphs."""
    listing_day = draw(day)
    header = draw(
        st.lists(
            st.sampled_from(
                [
                    "new",
                    "Subscribe",
                    "Daily Papers",
                    "Get trending papers in your email inbox!",
                    "byAK and the research community",
                    "Aug 6",
                    "Sep 12th, 2025",
                ]
            ),
            max_size=4,
        )
    )
    paragraphs: list[list[str]] = [[line] for line in header]
    papers: list[Paper] = []
    title_paragraphs: list[int] = []
    for _ in range(draw(st.integers(0, 4))):
        title = draw(title_text())
        if clean(title).endswith("."):
            title += "x"
        title_paragraphs.append(len(paragraphs))
        paragraphs.append([title])
        body: list[str] = []
        for _ in range(draw(st.integers(1, 3))):
            paragraph = draw(st.lists(visible_text(max_size=30), min_size=1, max_size=3))
            if len(paragraph) == 1:
                paragraph[0] += "."  # a one-line paragraph ending in a full stop is not a title
            paragraphs.append(paragraph)
            body.append(clean(" ".join(paragraph)))
        papers.append(
            Paper(
                paper_id=title_paper_id(clean(title)),
                title=clean(title),
                date=listing_day,
                abstract=" ".join(body),
                source="hf-daily",
            )
        )
    lines: list[str] = []
    starts: list[int] = []
    for index, paragraph in enumerate(paragraphs):
        if index:
            lines.extend(draw(st.lists(blank_line(), min_size=1, max_size=2)))
        if index in title_paragraphs:
            starts.append(len(lines) + 1)
        lines.extend(paragraph)
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    return Document(newline.join(lines), listing_day, papers, starts, lines, newline)


# --- JSON Lines --------------------------------------------------------------------------------


@st.composite
def jsonl_feed(draw: st.DrawFn) -> Document:
    """arxiv-2025q2 JSON Lines: one object per line, blank lines between, extra keys ignored."""
    given_day = draw(parse_day)
    ascii_only = draw(st.booleans())
    lines: list[str] = []
    papers: list[Paper] = []
    starts: list[int] = []
    for _ in range(draw(st.integers(0, 5))):
        lines.extend(draw(st.lists(blank_line(), max_size=2)))
        arxiv = draw(arxiv_id)
        listed = draw(day)
        title = draw(title_text())
        abstract = draw(st.none() | short_text)
        authors = draw(names)
        categories = draw(names)
        record: dict[str, object] = {
            "arxiv_id": draw(arxiv_label(arxiv)),
            "first_listed": listed.isoformat(),
            "title": title,
            "abstract": abstract,
            "authors": authors,
            "categories": categories,
            "comment": draw(st.none() | short_text | st.integers() | st.floats()),
        }
        starts.append(len(lines) + 1)
        lines.append(json.dumps(record, ensure_ascii=ascii_only))
        papers.append(
            Paper(
                paper_id=f"arxiv:{arxiv}",
                title=clean(title),
                date=given_day or listed,
                abstract=clean(abstract or ""),
                authors=tuple(name for name in map(clean, authors) if name),
                categories=tuple(name for name in map(clean, categories) if name),
                url=f"https://arxiv.org/abs/{arxiv}",
                source="arxiv",
            )
        )
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    return Document(newline.join(lines), given_day, papers, starts, lines, newline)


# --- Hugging Face API JSON ---------------------------------------------------------------------


def iso(moment: dt.datetime, style: str) -> str:
    """A timestamp as the API writes it (``...Z``) or in plain ISO 8601 with its offset."""
    if style == "Z":
        utc = moment.astimezone(dt.UTC)
        return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"
    return moment.isoformat()


@st.composite
def hf_json_feed(draw: st.DrawFn) -> Document:
    """A Daily Papers API answer: a list of items, each with its ``paper``."""
    given_day = draw(parse_day)
    items: list[dict[str, object]] = []
    papers: list[Paper] = []
    for _ in range(draw(st.integers(0, 5))):
        arxiv = draw(arxiv_id)
        title = draw(title_text())
        summary = draw(short_text)
        authors = draw(names)
        featured = draw(moment)
        style = draw(st.sampled_from(["Z", "iso"]))
        written = iso(featured, style)
        paper: dict[str, object] = {
            "id": arxiv + draw(version),
            "title": title,
            "summary": summary,
            "authors": [{"_id": "x", "name": name, "hidden": False} for name in authors],
            "submittedOnDailyAt": written,
            "upvotes": draw(st.integers() | st.floats()),
        }
        item: dict[str, object] = {"paper": paper, "numComments": draw(st.integers())}
        if draw(st.booleans()):
            item.update(title=title, summary=summary, publishedAt=iso(draw(moment), "Z"))
        items.append(item)
        listed = dt.datetime.fromisoformat(written).date()
        papers.append(
            Paper(
                paper_id=f"arxiv:{arxiv}",
                title=clean(title),
                date=given_day or listed,
                abstract=clean(summary),
                authors=tuple(name for name in map(clean, authors) if name),
                url=f"https://arxiv.org/abs/{arxiv}",
                source="hf-daily",
            )
        )
    text = json.dumps(items, ensure_ascii=draw(st.booleans()), indent=draw(st.none() | st.just(2)))
    return Document(text, given_day, papers, list(range(1, len(papers) + 1)))


# --- arXiv Atom --------------------------------------------------------------------------------


@st.composite
def atom_feed(draw: st.DrawFn) -> Document:
    """An arXiv API answer: entries with id, title, summary, authors, categories, published."""
    given_day = draw(parse_day)
    entries: list[str] = []
    papers: list[Paper] = []
    for _ in range(draw(st.integers(0, 4))):
        arxiv = draw(arxiv_id)
        title = xml_chars(draw(title_text()))
        summary = xml_chars(draw(short_text))
        authors = [xml_chars(name) for name in draw(names)]
        terms = [xml_chars(term) for term in draw(names)]
        primary = draw(st.none() | short_text.map(xml_chars))
        published = draw(moment)
        cdata = draw(st.booleans())
        children = [
            ("", f"<id>{xml_text(draw(arxiv_label(arxiv)))}</id>"),
            ("", f"<title>{xml_text(title, cdata)}</title>"),
            ("", f"<summary>{xml_text(summary, cdata)}</summary>"),
            ("", f"<published>{published.isoformat()}</published>"),
            ("", f"<updated>{draw(moment).isoformat()}</updated>"),
            *((name, f"<author><name>{xml_text(name)}</name></author>") for name in authors),
            *((term, f'<category term="{xml_attr(term)}"/>') for term in terms),
        ]
        if primary is not None:
            children.append(("", f'<arxiv:primary_category term="{xml_attr(primary)}"/>'))
        children = draw(st.permutations(children))  # authors and categories: in the new order
        entries.append("<entry>" + "".join(xml for _, xml in children) + "</entry>")
        authors = [value for value, xml in children if xml.startswith("<author>")]
        terms = [value for value, xml in children if xml.startswith("<category ")]
        ordered = ([primary.strip()] if primary is not None else []) + [t.strip() for t in terms]
        papers.append(
            Paper(
                paper_id=f"arxiv:{arxiv}",
                title=clean(title),
                date=given_day or published.date(),
                abstract=clean(summary),
                authors=tuple(name for name in map(clean, authors) if name),
                categories=tuple(dict.fromkeys(term for term in ordered if term)),
                url=f"https://arxiv.org/abs/{arxiv}",
                source="arxiv",
            )
        )
    prolog = draw(st.sampled_from(["", '<?xml version="1.0" encoding="UTF-8"?>\n', "<!-- x -->"]))
    separator = draw(st.sampled_from(["", "\n", "\n  ", "<!-- c -->", "<?pi x?>"]))
    text = (
        f'{prolog}<feed xmlns="{ATOM_NS}" xmlns:arxiv="{ARXIV_NS}">'
        f"<title>{xml_text(draw(short_text))}</title>{separator}"
        + separator.join(entries)
        + "</feed>"
    )
    return Document(text, given_day, papers, list(range(1, len(papers) + 1)))


# --- arXiv RSS ---------------------------------------------------------------------------------


def rss_creators(authors: list[str]) -> str:
    """``dc:creator`` as arXiv writes it: ``A, B, and C``."""
    if len(authors) < 2:
        return "".join(authors)
    return ", ".join(authors[:-1]) + ", and " + authors[-1]


@st.composite
def rss_feed(draw: st.DrawFn) -> Document:
    """An arXiv RSS 2.0 feed: items with title, link, description, guid, categories, date."""
    given_day = draw(parse_day)
    channel_date = draw(st.none() | moment)
    items: list[str] = []
    papers: list[Paper] = []
    for _ in range(draw(st.integers(0, 4))):
        arxiv = draw(arxiv_id)
        title = xml_chars(draw(title_text()))
        abstract = xml_chars(draw(short_text))
        authors = [
            "A" + xml_chars(name).replace(",", " ") for name in draw(names)
        ]  # commas separate names; "A" keeps a name from starting with "and "
        terms = [xml_chars(term) for term in draw(names)]
        item_date = draw(st.none() | moment) if channel_date else draw(moment)
        kind = draw(st.sampled_from(["new", "cross", "replace", "replace-cross"]))
        description = f"arXiv:{arxiv}{draw(version) or 'v1'} Announce Type: {kind} \nAbstract: "
        children = [
            ("", f"<title>{xml_text(title, draw(st.booleans()))}</title>"),
            ("", f"<link>https://arxiv.org/abs/{arxiv}</link>"),
            ("", f"<description>{xml_text(description + abstract)}</description>"),
            ("", f'<guid isPermaLink="false">oai:arXiv.org:{arxiv}v1</guid>'),
            *((term, f"<category>{xml_text(term)}</category>") for term in terms),
            ("", f"<dc:creator>{xml_text(rss_creators(authors))}</dc:creator>"),
        ]
        if item_date is not None:
            children.append(("", f"<pubDate>{email.utils.format_datetime(item_date)}</pubDate>"))
        children = draw(st.permutations(children))  # categories: in the new order
        items.append("<item>" + "".join(xml for _, xml in children) + "</item>")
        terms = [value for value, xml in children if xml.startswith("<category>")]
        written = item_date or channel_date
        assert written is not None
        papers.append(
            Paper(
                paper_id=f"arxiv:{arxiv}",
                title=clean(title),
                date=given_day or written.date(),
                abstract=clean(abstract),
                authors=tuple(name for name in map(clean, authors) if name),
                categories=tuple(dict.fromkeys(term for term in map(clean, terms) if term)),
                url=f"https://arxiv.org/abs/{arxiv}",
                source="arxiv",
            )
        )
    channel_pub = (
        f"<pubDate>{email.utils.format_datetime(channel_date)}</pubDate>" if channel_date else ""
    )
    text = (
        f'<rss version="2.0" xmlns:dc="{DC_NS}"><channel><title>cs.CL</title>{channel_pub}'
        + "\n".join(items)
        + "</channel></rss>"
    )
    return Document(text, given_day, papers, list(range(1, len(papers) + 1)))


DOCUMENTS = {
    "markdown": markdown_digest(),
    "hf-text": hf_page_text(),
    "arxiv-atom": atom_feed(),
    "arxiv-rss": rss_feed(),
    "hf-json": hf_json_feed(),
    "jsonl": jsonl_feed(),
}
"""A strategy of well-formed documents for each feed format."""

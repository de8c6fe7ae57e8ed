"""Safe XML parsing for the Atom and RSS parsers: defusedxml only, no DTDs, no entities."""

from __future__ import annotations

from typing import TYPE_CHECKING

from papersift.client.feeds._common import check_input, clean
from papersift.client.feeds.errors import FeedError, MissingExtraError

if TYPE_CHECKING:
    from xml.etree.ElementTree import Element


def parse_xml(text: str, source_name: str) -> Element:
    """Parse ``text`` with defusedxml, refusing any DTD, entity declaration or external reference.

    Raises:
        FeedError: When the text holds a NUL or a lone surrogate (naming the line), the XML is
            malformed (naming line and column) or declares a DTD or entities (a billion-laughs
            bomb is refused before any expansion).
        MissingExtraError: When defusedxml is not installed.
    """
    try:
        from xml.etree.ElementTree import ParseError

        from defusedxml import DefusedXmlException
        from defusedxml.ElementTree import fromstring
    except ImportError as exc:
        raise MissingExtraError("defusedxml", "parse XML feeds safely", source=source_name) from exc
    # expat refuses a NUL itself, but a lone surrogate would escape as a UnicodeEncodeError.
    check_input(text, source_name)
    try:
        return fromstring(text, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise FeedError(
            source_name,
            f"refused: the XML declares a DTD, entities or external references ({exc!r}); "
            "feeds must be plain XML",
        ) from exc
    except ParseError as exc:
        line, column = exc.position
        reason = str(exc).split(": line ")[0]
        raise FeedError(
            source_name, f"malformed XML ({reason}, column {column})", location=f"line {line}"
        ) from exc


def child_text(element: Element, path: str, namespaces: dict[str, str] | None = None) -> str:
    """The whitespace-collapsed text of the first child at ``path``; ``""`` when absent."""
    found = element.find(path, namespaces)
    if found is None:
        return ""
    return clean("".join(found.itertext()))


def has_child(element: Element, path: str, namespaces: dict[str, str] | None = None) -> bool:
    """Whether ``element`` has a child at ``path``."""
    return element.find(path, namespaces) is not None


def local_name(tag: str) -> str:
    """A tag without its ``{namespace}`` prefix."""
    return tag.rsplit("}", 1)[-1]

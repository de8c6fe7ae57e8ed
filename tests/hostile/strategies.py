"""Hostile text: odd unicode, control characters, NULs, huge values, and strings near a limit.

Every strategy here draws surrogate-free text (what a UTF-8 file or a protobuf string can hold)
unless its name says otherwise.
"""

from __future__ import annotations

from hypothesis import strategies as st

TRICKY_CHARS = (
    "\x00",  # NUL: refused by the server in every text field
    "\x01",
    "\x1f",
    "\x7f",
    "\t",
    "\n",
    "\r",
    "\r\n",
    "\x0b",  # vertical tab, form feed: str.splitlines splits at them, split_lines does not
    "\x0c",
    "\x1c",  # file separator: whitespace to str.split
    "\x85",  # next line (C1 control)
    "\xa0",  # no-break space
    "\u2028",  # line and paragraph separators
    "\u2029",
    "\u200b",  # zero-width space (not whitespace to str.split)
    "\u200d",
    "\u202e",  # right-to-left override
    "\ufeff",  # byte-order mark
    "\ufffd",
    "\uffff",  # a noncharacter
    "\u0301",  # a combining accent with nothing to combine with
    "\ufb01",  # the "fi" ligature: NFKC changes it
    "\u0130",  # dotted capital I: casefold changes its length
    "\xdf",  # sharp s: casefold gives "ss"
    "\uff12",  # fullwidth digit two: not ASCII [0-9]
    "\u0663",  # arabic-indic digit three: \d matches it
    "\U0001f600",  # an emoji outside the BMP
    "\U0010ffff",  # the last code point
    "*",
    "#",
    ":",
    "<",
    ">",
    "&",
    '"',
    "'",
    "\\",
    "[",
    "]",
    "{",
    "}",
    "(",
    ")",
    "%",
    ";",
)
"""Characters that broke, or could break, text handling somewhere."""

any_char = st.characters(exclude_categories=["Cs"])
"""Any code point but a surrogate."""

weird_char = st.one_of(st.sampled_from(TRICKY_CHARS), any_char)
"""A tricky character about half of the time, else any code point but a surrogate."""


def weird_text(*, min_size: int = 0, max_size: int = 40) -> st.SearchStrategy[str]:
    """Short text mixing ASCII letters with tricky characters and any other code point."""
    return st.lists(
        st.one_of(st.sampled_from("abcxyz 019.-/"), weird_char),
        min_size=min_size,
        max_size=max_size,
    ).map("".join)


def line_text(*, max_size: int = 40) -> st.SearchStrategy[str]:
    """Weird text for a value on one line: no line breaks (``\\n``, ``\\r``) and no NUL."""
    return weird_text(max_size=max_size).map(
        lambda text: text.replace("\n", " ").replace("\r", " ").replace("\x00", "")
    )


def huge_text(*, min_size: int = 10_000, max_size: int = 200_000) -> st.SearchStrategy[str]:
    """Long text, built by repeating a short piece (hypothesis cannot draw megabytes itself)."""
    return st.builds(
        lambda piece, size: (piece * (size // len(piece) + 1))[:size],
        weird_text(min_size=1, max_size=8),
        st.integers(min_value=min_size, max_value=max_size),
    )


def near_limit(limit: int, piece: str = "x") -> st.SearchStrategy[str]:
    """Text of exactly ``limit - 1``, ``limit`` or ``limit + 1`` characters."""
    return st.sampled_from((limit - 1, limit, limit + 1)).map(lambda size: piece * size)


visible_char = st.characters(
    exclude_categories=["Cs", "Cc", "Zs", "Zl", "Zp"],
    exclude_characters="\x1c\x1d\x1e\x1f\x85\ufeff",
)
"""A character that is neither whitespace to ``str.split`` nor a control character."""


def visible_text(*, min_size: int = 1, max_size: int = 30) -> st.SearchStrategy[str]:
    """Text with at least one visible character, tricky spaces inside, no line breaks or NULs."""
    spaces = st.sampled_from((" ", "  ", "\t", "\xa0", "\u2028", "\x0b", "\x0c", "\x85"))
    return st.builds(
        lambda head, rest: head + "".join(rest),
        visible_char,
        st.lists(st.one_of(visible_char, spaces), min_size=min_size - 1, max_size=max_size),
    )

"""Splitting one author string that holds several names, when that can be done safely.

Two shapes occur in real feeds:

- names glued by a lost separator, each followed by ``and``: arXiv 2506.02197 lists one
  "author" ``Xiangyu Kongand Xiaoxia Xingand Fan Wangand ...`` of 512 characters;
- names joined into one string with ``", "``, ``"; "``, ``" and "`` or ``" & "``.

A split is made only when every resulting name looks like a personal name (two to eight words,
each capitalised or a particle such as ``van`` or ``de``, no digits); otherwise the string is
left whole. So ``Smith, John`` (one name, family name first), ``John Smith, Jr.`` and
``Department of Physics and Astronomy`` stay as they are.
"""

from __future__ import annotations

import re

# A word ending in "and" right after a lowercase letter: "Kongand" is "Kong" + a lost " and".
_GLUED = re.compile(r"(?P<stem>.*[a-z])and")
_SEPARATOR = re.compile(r"\s*[,;]\s*|\s+(?:and|&)\s+")
_PARTICLES = frozenset(
    {"al", "bin", "da", "das", "de", "del", "della", "den", "der", "di", "do", "dos", "du"}
    | {"el", "ibn", "la", "las", "le", "los", "st", "te", "ten", "ter", "van", "von", "y", "zu"}
)
# Fewer glued names than this are split only when the string is over-long: "Maria Rolland
# Garcia Lopez" reads as two glued names, and a short string breaks no limit.
MIN_GLUED_NAMES = 3
_MIN_WORDS, _MAX_WORDS = 2, 8


def is_name_like(name: str) -> bool:
    """Whether ``name`` looks like one person's name (see the module docs)."""
    words = name.split(" ")
    if not _MIN_WORDS <= len(words) <= _MAX_WORDS or any(ch.isdigit() for ch in name):
        return False
    return all(word.casefold() in _PARTICLES or word[:1].isupper() for word in words)


def _unglue(name: str) -> list[str]:
    names: list[str] = []
    current: list[str] = []
    for word in name.split(" "):
        glued = _GLUED.fullmatch(word)
        # A name has two words at least: "Roland Smith" starts with a name, not "Rol" + "and".
        if glued is not None and current:
            names.append(" ".join([*current, glued["stem"]]))
            current = []
        else:
            current.append(word)
    if current:
        names.append(" ".join(current))
    return names


def split_author(name: str, *, max_length: int) -> tuple[str, ...]:
    """The names held in one whitespace-collapsed author string.

    Args:
        name: The author string.
        max_length: The longest author the server takes; a string over it is split into
            glued names even when there are only two of them.

    Returns:
        The names, or ``(name,)`` when the string cannot be split safely.
    """
    separated = _SEPARATOR.split(name)
    if len(separated) > 1 and all(is_name_like(part) for part in separated):
        return tuple(separated)
    unglued = _unglue(name)
    enough = len(unglued) >= MIN_GLUED_NAMES or (len(unglued) > 1 and len(name) > max_length)
    if enough and all(is_name_like(part) for part in unglued):
        return tuple(unglued)
    return (name,)

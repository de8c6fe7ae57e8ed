"""Where a paper writes the words of its features, so that a reason can quote the paper.

The featurizer lower-cases the title and abstract, splits them into tokens of two or more word
characters, drops English stop words and joins neighbouring tokens into n-grams
(``FeatureConfig.ngram_max``). A reason should name a term as the paper writes it ("RAG",
"black-box", "retrieval-augmented generation"), not as the vectorizer stores it ("rag", "box",
"augmented generation"): :class:`PaperText` finds each term in the paper's own text, and
:func:`choose_phrases` picks the few that make a reason, phrases before their single words.
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from papersift.core.features import FeatureConfig

__all__ = [
    "GENERIC_WORDS",
    "MAX_PHRASE_LENGTH",
    "MAX_PHRASE_WORDS",
    "PHRASE_SHARE",
    "PaperText",
    "Phrase",
    "choose_phrases",
    "stop_words_of",
]

_HYPHENS = "\u2010\u2011-"  # hyphen, non-breaking hyphen, hyphen-minus
_DASHES = "\u2013\u2014"  # en and em dash
_TOKEN = re.compile(r"(?u)\b\w\w+\b")  # scikit-learn's default token_pattern
_COMPOUND = re.compile(rf"\w+(?:[{_HYPHENS}]\w+)*")  # a word with its hyphenated parts
_HYPHEN = re.compile(f"[{_HYPHENS}]")
_LETTERS = re.compile(r"[^\W\d_]+")
# Between two tokens of one phrase: spaces, hyphens, apostrophes, slashes and dropped words;
# any other punctuation ends a phrase ("models. Black" is no phrase).
_JOIN = re.compile(rf"[\s\w'\u2019/{_HYPHENS}]*")
_DASH = re.compile(rf"\s[{_HYPHENS}{_DASHES}]|[{_HYPHENS}{_DASHES}]\s|--")
# Addresses and TeX commands are not words of the paper ("github io", "textbf").
_NOT_PROSE = re.compile(r"(?:https?://|www\.)\S+|\S+\.(?:com|org|net|io|ai)\b\S*|\\[A-Za-z]+")
# The stop words a phrase may run over between its words: "bag of words", "state of the art";
# "learning and vision" or "tool for diagnosing" are two things, not one phrase.
_GLUE = frozenset({"of", "the", "an"})
# Capitalised words that spell out the acronym after them: "Large Language Models (LLMs)".
_EXPANDS = re.compile(rf"(?:[\s{_HYPHENS}]+[A-Z][\w{_HYPHENS}]*)*\s*\(\s*\w*[A-Z]\w*[A-Z]\w*\s*\)")
_SENTENCE_END = ".!?:"
_OPENERS = "([{\"'\u201c\u2018"
_MAX_GLUE = 2
_MAX_COMPOUND_PARTS = 4
_MAX_COMPOUND_LENGTH = 32

MAX_PHRASE_WORDS = 4
"""Most (non-stop) words in one phrase of a reason."""
MAX_PHRASE_LENGTH = 40
"""Most characters of one phrase of a reason."""
PHRASE_SHARE = 0.5
"""A phrase is shown instead of a single word of it when it contributes at least this share of
what the word contributes (a weaker phrase is a chance neighbour: "generation T2I")."""

_HEAD_NOUNS = frozenset(
    """
    approach approaches component components feature features framework frameworks mechanism
    method methods model models module modules paper papers performance problem problems
    setting settings system systems task tasks technique techniques
    """.split()  # noqa: SIM905 (a list literal would be unreadable)
)
GENERIC_WORDS = _HEAD_NOUNS | frozenset(
    """
    abilities ability able accuracy achieve achieved achieves achieving additionally address
    addresses addressing advanced advantage advantages aim aims al allow allows alternative
    analyze analyzed art available aware base based benefit benefits better broad capabilities
    capability capable capture captures case cases certain challenge challenges challenging
    clear common comparable compared complex comprehensive condition conditions consider
    considered consistent consistently contribution contributions conventional core created
    critical crucial current currently demonstrate demonstrated demonstrates designed despite
    detailed develop developed development different directly diverse effect effective
    effectively effectiveness effects employ employed employs enable enables enabling enhance
    enhanced enhancement enhances enhancing ensure ensures especially essential et evaluate
    evaluated existing experiment experimental experiments extensive facilitate fact final
    finding findings flexible focus focused focuses fundamental furthermore general generally
    given global good great greater guide help helps high highly impact important improve
    improved improvement improvements improves improving include includes including increase
    increasingly information insights introduce introduced introduces investigate issue issues
    key lack large largely larger leading level levels leverage leverages leveraging like
    limitation limitations limited local long low lower main major making manner methodology
    modeling multi notable notably novel numerous objective obtain offer offers output outputs
    overall particular particularly potential powerful practical preliminary present presents
    previous primarily promising propose proposed proposes provide provided provides purpose
    qualitative quantitative range rapid rapidly real recent recently related relevant remain
    remains require required requires research researchers respectively result results role
    scenarios set sets short significant significantly simple single small specific specifically
    stage stages standard state strong studies study substantial success successful suggest
    suite superior support supports tackle tailored terms time typically understand
    understanding unique unlike use used uses using utilize utilized utilizes utilizing valuable
    variety various versatile visually wide widely work works yield yields
    """.split()  # noqa: SIM905 (a list literal of 260 words would be unreadable)
)
"""Words of research prose that say nothing about a paper's topic on their own: never an item
of a reason alone, never the first word of a phrase, and only nouns among them ("models",
"task") may end one ("language models", "classification task")."""


def stop_words_of(config: FeatureConfig) -> frozenset[str]:
    """The stop words the featurizer of ``config`` drops before it forms n-grams."""
    return frozenset(ENGLISH_STOP_WORDS) if config.stop_words else frozenset()


@dataclass(frozen=True, slots=True)
class Phrase:
    """A term as the paper writes it.

    Attributes:
        text: What a reason shows: as written ("RAG", "Retrieval-augmented generation"), the
            capitals of a title or of a sentence start taken off ("language", not "Language").
        words: The featurizer's words the phrase covers (lower-cased, stop words left out).
        start: Offset of the phrase in :attr:`PaperText.text` (-1 when not from a text).
        end: Offset just past it.
    """

    text: str
    words: tuple[str, ...]
    start: int = -1
    end: int = -1


@dataclass(frozen=True, slots=True)
class _Token:
    start: int
    end: int
    word: str  # lower-cased
    prose: bool  # not part of an address or a TeX command


class PaperText:
    """A paper's title and abstract, tokenized as the featurizer does, for finding its terms.

    Args:
        title: The paper's title.
        abstract: The paper's abstract.
        stop_words: The featurizer's stop words (:func:`stop_words_of`).
    """

    def __init__(self, title: str, abstract: str, stop_words: Iterable[str] = ()) -> None:
        self.title = " ".join(title.split())
        self.abstract = " ".join(abstract.split())
        # A line break, not a space: no phrase runs from the title into the abstract.
        self.text = f"{self.title}\n{self.abstract}"
        stop = frozenset(stop_words)
        self._title_end = len(self.title)
        not_prose = [match.span() for match in _NOT_PROSE.finditer(self.text)]
        self._all: list[_Token] = []
        self._kept: list[_Token] = []
        self._at: dict[str, list[int]] = {}
        for match in _TOKEN.finditer(self.text):
            start, end = match.span()
            prose = not any(s <= start and end <= e for s, e in not_prose)
            token = _Token(start, end, match.group().lower(), prose)
            self._all.append(token)
            if token.word not in stop:
                self._at.setdefault(token.word, []).append(len(self._kept))
                self._kept.append(token)
        self._compounds = [match.span() for match in _COMPOUND.finditer(self.text)]
        self._compound_starts = [start for start, _ in self._compounds]
        self._title_cased = _title_cased(self.title)

    def find(self, term: str) -> Phrase | None:
        """``term`` (a featurizer term: words joined by spaces) as the paper writes it.

        The first occurrence whose capitals mean something (mid-sentence in the abstract, or in
        a title written in sentence case) wins, one in lower case before a capitalised one,
        and the words an acronym stands for ("Large Language Models (LLMs)") count as
        capitalised by position; failing that the first occurrence, with the capitals of a
        title or a sentence start taken off ("Language" → "language", while "LLMs" and "RAG"
        stay). A hyphenated word is shown whole ("box" → "black-box").

        Returns:
            ``None`` when the paper does not have the term as one stretch of its prose.
        """
        words = term.split()
        found: list[tuple[int, int]] = []
        for first in self._at.get(words[0], ()) if words else ():
            last = first + len(words) - 1
            if last < len(self._kept) and self._joined(first, last, words):
                found.append(self._extend(first, last))
        if not found:
            return None
        meaningful = [
            (start, end)
            for start, end in found
            if self._meaningful_case(start) and not _EXPANDS.match(self.text, end)
        ]
        if meaningful:
            plain = [
                (start, end)
                for start, end in meaningful
                if _decapitalize(self.text[start:end], every=True) == self.text[start:end]
            ]
            start, end = (plain or meaningful)[0]
            return self.phrase(start, end)
        start, end = found[0]
        every = _EXPANDS.match(self.text, end) is not None
        return self.phrase(start, end, decapitalize=True, every=every)

    def phrase(
        self, start: int, end: int, *, decapitalize: bool = False, every: bool = False
    ) -> Phrase:
        """The phrase of ``text[start:end]``; with ``decapitalize`` the capitals of its first
        word taken off (of ``every`` word, and of every word in a title-cased title)."""
        shown = self.text[start:end]
        if decapitalize:
            every = every or (start < self._title_end and self._title_cased)
            shown = _decapitalize(shown, every=every)
        covered = tuple(t.word for t in self._kept if start <= t.start and t.end <= end)
        return Phrase(shown, covered, start, end)

    def merged(self, one: Phrase, other: Phrase) -> Phrase | None:
        """One phrase of two that overlap or are neighbours in the text, if still short."""
        if one.start < 0 or other.start < 0:
            return None
        first, second = sorted((one, other), key=lambda phrase: phrase.start)
        if first.end < second.start and not self._gap_joins(first.end, second.start):
            return None
        start, end = first.start, max(first.end, second.end)
        phrase = self.phrase(start, end, decapitalize=not self._meaningful_case(start))
        return phrase if _short(phrase) else None

    def _joined(self, first: int, last: int, words: Sequence[str]) -> bool:
        """Whether kept tokens ``first..last`` are ``words``, written as one phrase of prose."""
        tokens = self._kept[first : last + 1]
        if [t.word for t in tokens] != list(words) or not all(t.prose for t in tokens):
            return False
        return all(self._gap_joins(a.end, b.start) for a, b in itertools.pairwise(tokens))

    def _gap_joins(self, start: int, end: int) -> bool:
        gap = self.text[start:end]
        if "\n" in gap or not _JOIN.fullmatch(gap) or _DASH.search(gap):
            return False
        if not any(ch.isspace() for ch in gap):
            return True  # within one hyphenated word: "attack-and-defense"
        dropped = [t.word for t in self._all if start <= t.start and t.end <= end]
        return len(dropped) <= _MAX_GLUE and all(word in _GLUE for word in dropped)

    def _extend(self, first: int, last: int) -> tuple[int, int]:
        """The span of kept tokens ``first..last``, widened to the hyphenated words they are
        part of (if those are short)."""
        start, end = self._kept[first].start, self._kept[last].end
        for offset in (start, end - 1):
            index = bisect.bisect_right(self._compound_starts, offset) - 1
            if index < 0:
                continue
            c_start, c_end = self._compounds[index]
            word = self.text[c_start:c_end]
            if (
                c_start <= offset < c_end
                and len(_HYPHEN.split(word)) <= _MAX_COMPOUND_PARTS
                and len(word) <= _MAX_COMPOUND_LENGTH
            ):
                start, end = min(start, c_start), max(end, c_end)
        return start, end

    def _meaningful_case(self, start: int) -> bool:
        """Whether the capitals of a word at ``start`` are the writer's, not the position's."""
        if start < self._title_end:
            if self._title_cased:
                return False
            before = self.text[:start]
        else:
            before = self.text[self._title_end + 1 : start]
        before = before.rstrip().rstrip(_OPENERS).rstrip()
        return bool(before) and before[-1] not in _SENTENCE_END


def choose_phrases(
    terms: Sequence[tuple[str, float]], paper: PaperText | None, limit: int = 3
) -> list[Phrase]:
    """Up to ``limit`` phrases for a reason, from ``(term, contribution)`` strongest first.

    A phrase comes before a single word of it when it contributes enough
    (:data:`PHRASE_SHARE`): ``"black box"`` is shown instead of ``"black"`` and ``"box"``. A
    word already shown (in a phrase, or as another form: "image" after "images") is not
    repeated; two phrases sharing a word become one if the paper writes them as one
    ("retrieval augmented" and "augmented generation"); a word of :data:`GENERIC_WORDS` is
    never an item alone. Without ``paper`` the terms are shown as the featurizer names them.
    """
    chosen: list[Phrase] = []
    shown: set[str] = set()  # every form of every word shown
    for term in _phrases_first(terms):
        words = term.split()
        if not words or not _usable(words):
            continue
        phrase = paper.find(term) if paper is not None else Phrase(term, tuple(words))
        if phrase is None or not _short(phrase) or all(map(_generic, phrase.words)):
            continue
        known = [bool(_forms(word) & shown) for word in phrase.words]
        if all(known):
            continue
        if any(known):
            overlapping = [
                i
                for i, p in enumerate(chosen)
                if any(_forms(w) & _forms_of(phrase) for w in p.words)
            ]
            index = overlapping[0]
            if paper is None or len(words) == 1 or len(chosen[index].words) == 1:
                continue  # a phrase that did not outweigh its word, or a word of a phrase
            merged = paper.merged(chosen[index], phrase)
            if merged is None:
                continue
            chosen[index] = phrase = merged
        elif len(chosen) < limit:
            chosen.append(phrase)
        else:
            continue
        shown |= _forms_of(phrase)
    return chosen


def _forms_of(phrase: Phrase) -> set[str]:
    return {form for word in phrase.words for form in _forms(word)}


def _phrases_first(terms: Sequence[tuple[str, float]]) -> list[str]:
    """The terms in order, with a phrase moved before a single word of it when the phrase
    contributes at least ``PHRASE_SHARE`` of what the word does."""
    ordered: list[str] = []
    placed: set[str] = set()
    for index, (term, strength) in enumerate(terms):
        if term in placed:
            continue
        if " " not in term:
            for later, later_strength in terms[index + 1 :]:
                if (
                    " " in later
                    and later not in placed
                    and term in later.split()
                    and later_strength >= PHRASE_SHARE * strength
                ):
                    ordered.append(later)
                    placed.add(later)
        ordered.append(term)
        placed.add(term)
    return ordered


def _usable(words: Sequence[str]) -> bool:
    """Whether a featurizer term may name a paper's topic: not a generic word alone, and a
    phrase neither starting with one ("existing zero") nor ending with one that is no noun
    ("customization using")."""
    if len(words) == 1:
        return not _generic(words[0])
    return not _generic(words[0]) and (not _generic(words[-1]) or words[-1] in _HEAD_NOUNS)


def _short(phrase: Phrase) -> bool:
    return len(phrase.words) <= MAX_PHRASE_WORDS and len(phrase.text) <= MAX_PHRASE_LENGTH


def _generic(word: str) -> bool:
    return word in GENERIC_WORDS or word.isdigit()


def _forms(word: str) -> frozenset[str]:
    """``word`` and its likely singular and plural, so that "images" repeats "image", "biases"
    "bias" and "meshes" "mesh"."""
    forms = {word, word + "s", word + "es"}
    if len(word) > 3 and word.endswith("s"):
        forms.add(word[:-1])
    if len(word) > 4 and word.endswith("es"):
        forms.add(word[:-2])
    if len(word) > 4 and word.endswith("ies"):
        forms.add(word[:-3] + "y")
    if len(word) > 3 and word.endswith("y"):
        forms.add(word[:-1] + "ies")
    return frozenset(forms)


def _title_cased(title: str) -> bool:
    """Whether a title capitalises its words (then its capitals say nothing about a word)."""
    words: list[str] = [w for w in _LETTERS.findall(title)[1:] if len(w) >= 4]
    if len(words) < 2:
        return True
    return sum(w[0].isupper() for w in words) >= 0.6 * len(words)


def _decapitalize(text: str, *, every: bool) -> str:
    """``text`` with capitalised words ("Language") lower-cased: all of them, or the first.

    Words with more capitals than the first letter ("LLMs", "RAG", "GPT") keep them.
    """

    def lower(match: re.Match[str]) -> str:
        word = match.group()
        return word.lower() if len(word) > 1 and word[0].isupper() and word[1:].islower() else word

    return _LETTERS.sub(lower, text) if every else _LETTERS.sub(lower, text, count=1)

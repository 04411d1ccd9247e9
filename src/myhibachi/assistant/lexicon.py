"""Typo-tolerant phrase spotting, shared by the intents and the FAQ: a visitor writes "depost", "cancelation" or
"scalops" and still means the word. rapidfuzz compares each word of the message with the vocabulary once."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

WORD = re.compile(r"[a-z0-9$%]+(?:'[a-z]+)?")
FUZZY_FROM = 5  # shorter words must be spelt right: "hold" and "gold" are one letter apart
FUZZY_SCORE = 80  # rapidfuzz's ratio: one wrong, missing or swapped letter in a word of five or more


def normalize(text: str) -> str:
    """Lower case, compatibility forms folded (full-width digits, curly quotes), accents kept as letters."""
    text = unicodedata.normalize("NFKC", text).lower()
    return text.replace("\u2019", "'").replace("\u2018", "'")


# Texting shorthand read as the words it stands for.
SHORTHAND = {"u": "you", "r": "are", "ur": "your", "pls": "please", "plz": "please", "wat": "what", "wut": "what",
             "hw": "how", "abt": "about", "bc": "because", "cuz": "because", "wanna": "want to", "gonna": "going to",
             "lemme": "let me", "b4": "before", "2": "to", "w": "with", "w/": "with", "yall": "you all"}


def words(text: str) -> list[str]:
    return [expanded for word in WORD.findall(normalize(text))
            for expanded in SHORTHAND.get(word, word).split()]


class Phrases:
    """A fixed set of phrases ("travel fee", "cancel*": a trailing * is any ending) found in a text's words."""

    def __init__(self, phrases: Iterable[str]) -> None:
        self.phrases = [tuple(phrase.split()) for phrase in phrases]
        self.vocabulary = sorted({word for phrase in self.phrases for word in phrase})
        self.full_words = [word for word in self.vocabulary if not word.endswith("*") and len(word) >= FUZZY_FROM]
        self.prefixes = [word[:-1] for word in self.vocabulary if word.endswith("*")]
        self.by_first_word: dict[str, list[tuple[str, ...]]] = {}
        for phrase in self.phrases:
            self.by_first_word.setdefault(phrase[0], []).append(phrase)

    def found(self, text_words: list[str]) -> list[str]:
        """The phrases present, in the order of the table."""
        present = {phrase for phrase, _, _ in self.spans(text_words)}
        return [" ".join(phrase) for phrase in self.phrases if phrase in present]

    def spans(self, text_words: list[str]) -> list[tuple[tuple[str, ...], int, int]]:
        """Each phrase found with the words it covers: (phrase, first, past the last)."""
        matches = [self._matches(word) for word in text_words]
        found = []
        for start, entries in enumerate(matches):
            for entry in entries:
                for phrase in self.by_first_word.get(entry, ()):
                    rest = phrase[1:]
                    if start + len(rest) < len(matches) and all(
                            word in matches[start + 1 + k] for k, word in enumerate(rest)):
                        found.append((phrase, start, start + len(phrase)))
        return found

    def _matches(self, word: str) -> frozenset[str]:
        return _vocabulary_matches(word, tuple(self.full_words), tuple(self.prefixes))


@lru_cache(maxsize=8192)
def _vocabulary_matches(word: str, full_words: tuple[str, ...], prefixes: tuple[str, ...]) -> frozenset[str]:
    """The vocabulary entries a word of the message counts as: itself, a prefix entry it starts with (allowing a typo
    in a long prefix, and a letter short of one of seven or more: "depost" but not "file" for "filet"), and the long
    words it is a typo of."""
    from rapidfuzz import fuzz, process  # here: only a process that reads chat messages loads it

    found = {word}
    for prefix in prefixes:
        head = word[:len(prefix)]
        if head == prefix or (len(prefix) >= FUZZY_FROM and len(word) >= len(prefix) - (len(prefix) >= 7)
                              and fuzz.ratio(head, prefix) >= FUZZY_SCORE):
            found.add(prefix + "*")
    if len(word) >= FUZZY_FROM:
        found.update(match for match, _, _ in process.extract(word, full_words, scorer=fuzz.ratio,
                                                             score_cutoff=FUZZY_SCORE, limit=None))
    return frozenset(found)

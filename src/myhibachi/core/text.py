"""Text hygiene for what people type, as Pydantic types: one-line text, multi-line text and email addresses.

A line break where a line has no room for one (a name, a venue line) could forge lines of a plain-text email;
control characters (NUL, terminal escapes) have no place in any text; an address is compared in one normal form.
"""

from __future__ import annotations

import unicodedata
from typing import Annotated, Any

from confusable_homoglyphs import categories
from pydantic import AfterValidator, BeforeValidator, EmailStr, StringConstraints

# What str.splitlines() breaks a line at, besides controls: the Unicode line and paragraph separators.
LINE_BREAKS = frozenset("\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")
KEPT_IN_MULTI_LINE = frozenset("\n\t")
# Scripts one address may combine (Unicode TS 39, "highly restrictive"): Japanese, Chinese and Korean writing mix
# with Latin; Latin with Cyrillic or Greek is how a look-alike of a real address is made.
SCRIPT_FAMILIES = (frozenset({"LATIN", "HAN", "HIRAGANA", "KATAKANA"}), frozenset({"LATIN", "HAN", "BOPOMOFO"}),
                   frozenset({"LATIN", "HAN", "HANGUL"}))
NEUTRAL_SCRIPTS = frozenset({"COMMON", "INHERITED"})  # digits, punctuation, combining marks


def has_control_characters(value: str) -> bool:
    return any(unicodedata.category(char) == "Cc" for char in value)


def _refuse_controls(value: str, allowed: frozenset[str] = frozenset()) -> str:
    for char in value:
        if unicodedata.category(char) == "Cc" and char not in allowed:
            raise ValueError(f"remove the control character (U+{ord(char):04X}); it cannot be part of the text")
    return value


def _one_line(value: str) -> str:
    if any(char in LINE_BREAKS for char in value):
        raise ValueError("keep this on one line, without line breaks")
    return _refuse_controls(value)


def _lines(value: str) -> str:
    """CR LF, CR and the Unicode separators become "\\n"; other control characters are refused."""
    for newline in ("\r\n", "\r", "\u2028", "\u2029"):
        value = value.replace(newline, "\n")
    return _refuse_controls(value, KEPT_IN_MULTI_LINE)


def single_line(max_length: int, *, min_length: int = 1) -> Any:
    """Trimmed text on one line: a line break or a control character inside it is refused."""
    return Annotated[str, StringConstraints(strip_whitespace=True, min_length=min_length, max_length=max_length),
                     AfterValidator(_one_line)]


def multi_line(max_length: int, *, min_length: int = 0) -> Any:
    """Trimmed text whose line breaks are kept (as "\\n"); any other control character, NUL included, is refused.
    Shown in a plain-text email, it is indented so that it cannot pass for a line of ours."""
    return Annotated[str, StringConstraints(strip_whitespace=True, min_length=min_length, max_length=max_length),
                     AfterValidator(_lines)]


def normalize_email(address: str) -> str:
    """The one form an address is stored and matched in: NFKC (full-width and compatibility forms folded), trimmed,
    lower-case."""
    return unicodedata.normalize("NFKC", address).strip().lower()


def _normalized(value: object) -> object:
    return normalize_email(value) if isinstance(value, str) else value


def scripts_mixed(text: str) -> list[str]:
    """The scripts of `text` when they are not ones that may be combined (e.g. ["Cyrillic", "Latin"]); else []."""
    scripts = set(categories.unique_aliases(text)) - NEUTRAL_SCRIPTS
    if len(scripts) <= 1 or any(scripts <= family for family in SCRIPT_FAMILIES):
        return []
    return sorted(script.title() for script in scripts)


def _one_script(address: str) -> str:
    local, _, domain = address.rpartition("@")
    for part, name in ((local, "name"), (domain, "domain")):
        if mixed := scripts_mixed(part):
            raise ValueError(f"this address mixes alphabets ({' and '.join(mixed)}) in its {name}, as look-alike "
                             "addresses do; type it again in one alphabet")
    return address


Email = Annotated[EmailStr, BeforeValidator(_normalized)]
# A staff address gets a sign-in and permissions: one that only looks like a colleague's must not pass.
StaffEmail = Annotated[Email, AfterValidator(_one_script)]

"""What a visitor's message asks (intents, several at once) and tells (slots: party, ZIP, date, time, upgrades,
contact details), read by code: pure, deterministic, no I/O.

Each slot is taken out of the text once found (an e-mail before the phone, the phone before the ZIP, dates and times
before the party), so "94538", "12/12" or "6pm" are never read again as a number of guests."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, time, timedelta
from functools import lru_cache

import phonenumbers
from dateutil.easter import easter
from dateutil.relativedelta import MO, SU, TH, relativedelta

from myhibachi.assistant.lexicon import Phrases, normalize, words

INTENTS = ("greeting", "price_quote", "availability", "book", "deposit", "minimum", "travel", "menu",
           "cancellation", "reschedule", "allergy", "refund", "complaint", "human", "contact_details", "thanks",
           "other")
SLOTS = ("adults", "children", "toddlers", "zip_code", "event_date", "slot_time", "upgrades", "name", "email",
         "phone")


@dataclass(frozen=True)
class Understanding:
    intents: frozenset[str]
    adults: int | None = None
    children: int | None = None  # 6–12
    toddlers: int | None = None  # under 6
    zip_code: str | None = None
    event_date: date | None = None
    slot_time: time | None = None
    upgrades: tuple[str, ...] = ()  # menu codes of the rules: "lobster_tail", "extra_protein", "gyoza" …
    name: str | None = None
    email: str | None = None
    phone: str | None = None  # E.164

    @property
    def slots(self) -> dict[str, object]:
        """The slots the message filled, by name."""
        return {slot: value for slot in SLOTS if (value := getattr(self, slot)) not in (None, ())}

    @property
    def guests(self) -> int | None:
        counts = [self.adults, self.children, self.toddlers]
        return sum(count or 0 for count in counts) if any(count is not None for count in counts) else None


def understand(text: str, today: date, menu: Iterable[str] = ()) -> Understanding:
    """What the message asks and tells; dates in words are read from `today` (the station's date). `menu`: the
    station's own upgrade and add-on codes (`rules.protein_upgrades`, `rules.addons`), found by their words
    ("garlic_noodles": "garlic noodles") besides the usual names of the default menu's."""
    message = _Message(text)
    email = message.take_email()
    phone = message.take_phone()
    name = _name(text)
    message.spell_out_numbers()
    zip_code = message.take(ZIP, lambda m: m.group(1))
    event_date = message.take_first(_date_readers(today))
    slot_time = message.take_first(TIME_READERS)
    message.take(MONEY, lambda m: m.group(0))
    adults, children, toddlers = _party(message.text)
    found = {"adults": adults, "children": children, "toddlers": toddlers, "zip_code": zip_code,
             "event_date": event_date, "slot_time": slot_time, "upgrades": _upgrades(message.text, tuple(menu)),
             "name": name,
             "email": email, "phone": phone}
    found = {slot: value for slot, value in found.items() if value not in (None, ())}
    return Understanding(intents=_intents(message.text, found), **found)


Reader = tuple[int, re.Pattern[str], Callable[[re.Match[str]], object]]  # (rank: lower is more exact, pattern, read)


class _Message:
    """The message in lower case, with each slot's words blanked out once read."""

    def __init__(self, text: str) -> None:
        self.text = " " + normalize(text) + " "

    def take(self, pattern: re.Pattern[str], read: Callable[[re.Match[str]], object]) -> object | None:
        match = pattern.search(self.text)
        if match is None:
            return None
        value = read(match)
        if value is not None:
            self._blank(match.start(), match.end())
        return value

    def take_first(self, readers: list[Reader]) -> object | None:
        """The value of the most exact reader that matches (lowest rank), the earliest in the text among equals:
        "Friday, January 8" is the 8th, whichever the Friday; "at 7:45pm" is 19:45, not "at 7"."""
        candidates = [(rank, match.start(), index, match) for index, (rank, pattern, _) in enumerate(readers)
                      for match in pattern.finditer(self.text)]
        for _, _, index, match in sorted(candidates, key=lambda c: c[:3]):
            value = readers[index][2](match)
            if value is not None:
                self._blank(match.start(), match.end())
                return value
        return None

    def take_email(self) -> str | None:
        return self.take(EMAIL, lambda m: m.group(0).strip(".").lower())

    def take_phone(self) -> str | None:
        for match in phonenumbers.PhoneNumberMatcher(self.text, "US", leniency=phonenumbers.Leniency.VALID):
            if len(phonenumbers.national_significant_number(match.number)) != 10:
                continue
            self._blank(match.start, match.end)
            return phonenumbers.format_number(match.number, phonenumbers.PhoneNumberFormat.E164)
        return None

    def spell_out_numbers(self) -> None:
        """Number words as digits: "twenty-five" → 25, "a dozen" → 12, "two dozen" → 24."""
        self.text = DOZENS.sub(lambda m: f" {12 * _count_word(m.group(1) or 'one')} ", self.text)
        self.text = A_SINGLE.sub("1 ", self.text)
        self.text = HALF_DOZEN.sub(" 6 ", self.text)
        self.text = ORDINAL_WORD.sub(lambda m: f"{_ordinal_day(m)}th", self.text)
        self.text = TENS_UNITS.sub(lambda m: f"{NUMBER_WORDS[m.group(1)] + NUMBER_WORDS[m.group(2)]}", self.text)
        self.text = NUMBER_WORD.sub(lambda m: str(NUMBER_WORDS[m.group(0)]), self.text)

    def _blank(self, start: int, end: int) -> None:
        self.text = self.text[:start] + " ; " + self.text[end:]


# --- numbers -------------------------------------------------------------------------------------------------------

UNITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
         "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"]
TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fourty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
        "eighty": 80, "ninety": 90}
NUMBER_WORDS = {word: value for value, word in enumerate(UNITS)} | TENS | {"hundred": 100}
_UNIT_WORD = "|".join(UNITS[1:10])

DOZENS = re.compile(r"\b(?:a\s+)?(?:(\d{1,2}|two|three|four|five|couple)\s+(?:of\s+)?)?dozens?\b")
A_SINGLE = re.compile(r"\b(?:a|an|one)\s+(?=(?:baby|toddler|infant|kid|child|little\s+one|teen|adult)\b)")
HALF_DOZEN = re.compile(r"\bhalf\s+(?:a\s+)?dozen\b")
TENS_UNITS = re.compile(rf"\b({'|'.join(TENS)})[\s-]+({_UNIT_WORD})\b")
NUMBER_WORD = re.compile(rf"\b(?:{'|'.join(UNITS[1:] + list(TENS))})\b")

ORDINAL_UNITS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8,
                 "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13, "fourteenth": 14,
                 "fifteenth": 15, "sixteenth": 16, "seventeenth": 17, "eighteenth": 18, "nineteenth": 19}
_LOW_ORDINALS = "first|second|third"  # a day only beside "the" or a month: "our first time" is no date
ORDINAL_WORD = re.compile(
    r"\b(?:(twenty|thirty)[\s-]+(first|second|third|fourth|fifth|sixth|seventh|eighth|ninth)|(twentieth|thirtieth)|"
    r"((?!first|second|third)(?:" + "|".join(ORDINAL_UNITS) + r"))|"
    r"(?<=the\s)(" + _LOW_ORDINALS + r")(?=\s+of\b|\s*$|\s*[,.?!])|"
    r"(?<=\s)(" + _LOW_ORDINALS + r")(?=\s+of\s+\w))\b")


def _ordinal_day(match: re.Match[str]) -> int:
    tens, unit, round_tens, alone, after_the, before_of = match.groups()
    if tens:
        return TENS[tens] + ORDINAL_UNITS[unit]
    if round_tens:
        return 20 if round_tens == "twentieth" else 30
    return ORDINAL_UNITS[alone or after_the or before_of]


def _count_word(word: str) -> int:
    return int(word) if word.isdigit() else 2 if word == "couple" else NUMBER_WORDS[word]


# --- contact details -----------------------------------------------------------------------------------------------

EMAIL = re.compile(r"[a-z0-9._%+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}")
ZIP = re.compile(r"(?<![\d$/.:-])(\d{5})(?:-\d{4})?(?![\d/:])")
MONEY = re.compile(r"\$\s*\d[\d,]*(?:\.\d\d)?|\b\d[\d,]*(?:\.\d\d)?\s*(?:\$|dollars|bucks|usd)")
NAME_INTRO = re.compile(r"(?:\bmy name is|\bmy name's|\bname is|\bname:|\bthis is|\bi am|\bi'm|\bim|\bit's|\bits|"
                        r"\bname)"
                        r"\s+([A-Za-z][A-Za-z'-]+(?:\s+[A-Za-z][A-Za-z'-]+)?)", re.I)
NOT_A_NAME = {"a", "an", "the", "looking", "interested", "planning", "hosting", "having", "trying", "wondering",
             "not", "so", "just", "very", "here", "back", "in", "at", "on", "for", "from", "with", "allergic",
             "going", "getting", "curious", "hoping", "asking", "thinking", "still", "also", "really", "ready",
             "available", "free", "good", "fine", "sorry", "booking", "reaching", "texting", "writing", "calling",
             "gonna", "about", "over", "vegan", "vegetarian", "pregnant", "celebrating", "throwing", "moving",
             "cancelling", "canceling", "confused", "disappointed", "upset", "happy", "excited", "and", "but", "to",
             "is", "my", "our", "we", "this", "that", "it", "me", "you", "your", "was", "be",
             "late", "like", "ok", "okay", "sure", "no", "yes", "yeah", "by", "of", "all", "too", "afraid", "email",
             "phone", "number", "cell", "zip", "i"}


def _name(text: str) -> str | None:
    """A name the visitor gives ("my name is Dana Lee", "this is Raj"): the words after the introduction while they
    look like a name; "I'm" and "it's" only before a capitalised word, as "I'm looking" is no name."""
    for match in NAME_INTRO.finditer(text):
        intro = match.group(0).split()[0].lower()
        parts = []
        for word in match.group(1).split():
            if word.lower() in NOT_A_NAME:
                break
            if intro in {"i'm", "im", "i", "it's", "its", "this", "name"} and not word[0].isupper() and not parts:
                break
            if parts and not word[0].isupper():
                break
            parts.append(word)
        if parts:
            return " ".join(part[:1].upper() + part[1:] for part in parts)
    return None


# --- dates ---------------------------------------------------------------------------------------------------------

MONTHS = {"jan": 1, "january": 1, "feb": 2, "february": 2, "febuary": 2, "mar": 3, "march": 3, "apr": 4,
          "april": 4, "may": 5, "jun": 6, "june": 6, "jul": 7, "july": 7, "aug": 8, "august": 8, "sep": 9,
          "sept": 9, "september": 9, "oct": 10, "october": 10, "nov": 11, "november": 11, "dec": 12, "december": 12,
          "decemeber": 12, "decmber": 12, "novemeber": 11, "feburary": 2, "janurary": 1, "januray": 1,
          "septmber": 9, "octobr": 10, "agust": 8}
WEEKDAYS = {"mon": 0, "monday": 0, "tue": 1, "tues": 1, "tuesday": 1, "wed": 2, "weds": 2, "wednesday": 2,
            "wensday": 2, "wednsday": 2, "thu": 3, "thur": 3, "thurs": 3, "thursday": 3, "thrusday": 3, "fri": 4,
            "friday": 4, "firday": 4, "sat": 5, "saturday": 5, "saterday": 5, "satruday": 5, "saturady": 5,
            "sun": 6, "sunday": 6, "sundy": 6}
_MONTH = "|".join(sorted(MONTHS, key=len, reverse=True))
_WEEKDAY = "|".join(sorted(WEEKDAYS, key=len, reverse=True))
_ORDINAL = r"(?:st|nd|rd|th)"
EXACT, DAY_OF_MONTH, RELATIVE = 0, 1, 2  # how exactly a date reader names the day


def _date_readers(today: date) -> list[Reader]:
    def month_day(month: str, day: str, year: str | None = None) -> date | None:
        return _on_or_after(today, MONTHS[month.rstrip(".")], int(day), year)

    def weekday(match: re.Match[str]) -> date:
        which, name = match.group(1), match.group(2)
        return _weekday(today, WEEKDAYS[name], which.strip() if which else "")

    def day_of_month(match: re.Match[str]) -> date | None:
        day = int(match.group(1))
        for months_on in range(3):
            first = today.replace(day=1) + relativedelta(months=months_on)
            try:
                candidate = first.replace(day=day)
            except ValueError:
                continue
            if candidate >= today:
                return candidate
        return None

    def in_some(match: re.Match[str]) -> date:
        count, unit = int(match.group(1) or 1), match.group(2)
        return today + (timedelta(weeks=count) if unit.startswith("week") else
                        relativedelta(months=count) if unit.startswith("month") else timedelta(days=count))

    def weekend(match: re.Match[str]) -> date:
        weeks_on = {"next": 1, "after next": 2}.get(match.group(1), 0)
        return _weekday(today, 5, "this") + timedelta(weeks=weeks_on)

    return [
        (EXACT, re.compile(rf"\b({_MONTH})\.?\s+(?:the\s+)?(\d{{1,2}}){_ORDINAL}?\b(?:,?\s+(\d{{4}}))?"),
         lambda m: month_day(m.group(1), m.group(2), m.group(3))),
        (EXACT, re.compile(rf"\b(\d{{1,2}}){_ORDINAL}?\s+(?:of\s+)?({_MONTH})\b\.?(?:,?\s+(\d{{4}}))?"),
         lambda m: month_day(m.group(2), m.group(1), m.group(3))),
        (EXACT, re.compile(r"(?<![\d/])(\d{1,2})/(\d{1,2})(?:/(\d{2,4}))?(?![\d/])"),
         lambda m: _on_or_after(today, int(m.group(1)), int(m.group(2)), m.group(3))),
        (EXACT, re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b"),
         lambda m: _on_or_after(today, int(m.group(2)), int(m.group(3)), m.group(1))),
        *[(EXACT, re.compile(pattern), lambda m, on=on: _holiday(today, on)) for pattern, on in HOLIDAYS],
        (DAY_OF_MONTH, re.compile(rf"\b(?:on\s+)?the\s+(\d{{1,2}}){_ORDINAL}\b(?!\s+(?:of\s+)?(?:{_MONTH})\b)"),
         day_of_month),
        (RELATIVE, re.compile(r"\bday after (?:tomorrow|tmrw|tmr)\b"), lambda m: today + timedelta(days=2)),
        (RELATIVE, re.compile(r"\b(?:tomorrow|tomorow|tommorow|tommorrow|tmrw|tmr|2morrow|2moro)\b"),
         lambda m: today + timedelta(days=1)),
        (RELATIVE, re.compile(r"\b(?:today|tonight|tonite|2nite)\b"), lambda m: today),
        (RELATIVE, re.compile(r"\bin\s+(?:(\d+|a)\s+)?(days?|weeks?|months?)\b"), in_some),
        (RELATIVE, re.compile(r"\b(?:(\d+)\s+)?(weeks?)\s+from\s+(?:today|now)\b"), in_some),
        (RELATIVE, re.compile(r"\b(this|next|coming)\s+weekend\b|\bweekend\s+(after\s+next)\b"),
         lambda m: weekend(m) if m.group(1) else _weekday(today, 5, "this") + timedelta(weeks=2)),
        (RELATIVE, re.compile(rf"\b(next\s+|this\s+(?:coming\s+)?|coming\s+|on\s+)?({_WEEKDAY})\b\.?"
                              rf"(?:\s+next\s+week)?"), weekday),
    ]


def _on_or_after(today: date, month: int, day: int, year: str | None) -> date | None:
    """A month and day as the next such date from today (a date already past this year is next year's)."""
    try:
        if year:
            return date(int(year) + (2000 if len(year) == 2 else 0), month, day)
        candidate = date(today.year, month, day)
        return candidate if candidate >= today else date(today.year + 1, month, day)
    except ValueError:
        return None


def _weekday(today: date, weekday: int, which: str) -> date:
    """"Saturday" / "this Saturday": the coming one (today on a Saturday); "next Saturday": the one of next week
    (weeks start on Monday), so on a Wednesday "this Saturday" is in three days and "next Saturday" in ten."""
    if which == "next":
        next_monday = today + timedelta(days=7 - today.weekday())
        return next_monday + timedelta(days=weekday)
    return today + timedelta(days=(weekday - today.weekday()) % 7)


HOLIDAYS: list[tuple[str, Callable[[int], date]]] = [
    (r"\bnew\s*years?'?s?\s+eve\b|\bnye\b", lambda y: date(y, 12, 31)),
    (r"\bnew\s*years?'?s?(?:\s+day)?\b", lambda y: date(y, 1, 1)),
    (r"\bchristmas\s+eve\b|\bxmas\s+eve\b", lambda y: date(y, 12, 24)),
    (r"\bchristmas\b|\bxmas\b", lambda y: date(y, 12, 25)),
    (r"\b(?:fourth|4th)\s+of\s+july\b|\bjuly\s+4th\b|\bindependence\s+day\b", lambda y: date(y, 7, 4)),
    (r"\bvalentine'?s?(?:\s+day)?\b", lambda y: date(y, 2, 14)),
    (r"\bhalloween\b", lambda y: date(y, 10, 31)),
    (r"\bthanksgiving\b", lambda y: date(y, 11, 1) + relativedelta(weekday=TH(4))),
    (r"\bmemorial\s+day\b", lambda y: date(y, 5, 31) + relativedelta(weekday=MO(-1))),
    (r"\blabor\s+day\b", lambda y: date(y, 9, 1) + relativedelta(weekday=MO(1))),
    (r"\bmother'?s\s+day\b", lambda y: date(y, 5, 1) + relativedelta(weekday=SU(2))),
    (r"\bfather'?s\s+day\b", lambda y: date(y, 6, 1) + relativedelta(weekday=SU(3))),
    (r"\beaster\b", easter),
    (r"\bsuper\s*bowl(?:\s+sunday)?\b", lambda y: date(y, 2, 1) + relativedelta(weekday=SU(2))),
]


def _holiday(today: date, on: Callable[[int], date]) -> date:
    this_year = on(today.year)
    return this_year if this_year >= today else on(today.year + 1)


# --- times ---------------------------------------------------------------------------------------------------------

def _clock(hour: int, minute: int = 0, meridiem: str | None = None) -> time | None:
    """A time of day; without am/pm an hour of 1–10 is the afternoon or evening (nobody books hibachi at 6 am)."""
    if meridiem:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if meridiem.startswith("p") else 0)
    elif 1 <= hour <= 10:
        hour += 12
    return time(hour, minute) if 0 <= hour <= 23 and 0 <= minute <= 59 else None


TIME_READERS: list[Reader] = [  # ranked by exactness: am/pm, then 24 h, then "noon", then a bare hour
    (0, re.compile(r"\b(\d{1,2})(?::(\d{2}))?(?:\s*([ap])\.?\s?m\b\.?|([ap])\b)"),
     lambda m: _clock(int(m.group(1)), int(m.group(2) or 0), m.group(3) or m.group(4))),
    (1, re.compile(r"\b([01]?\d|2[0-3]):([0-5]\d)\b"), lambda m: _clock(int(m.group(1)), int(m.group(2)))),
    (2, re.compile(r"\bnoon\b|\bmidday\b"), lambda m: time(12)),
    (3, re.compile(r"(?:\bat|\baround|\babout|\bby|@|\bstart(?:ing)?\s+at)\s+(\d{1,2})(?:\s*ish)?\b"
                r"(?!\s*(?:people|ppl|guests|adults|kids|children|of|pax|persons|miles|mi|hours|hrs|days|%|/))"),
     lambda m: _clock(int(m.group(1)))),
    (4, re.compile(r"\b(\d{1,2})\s*(?:ish|o'?clock)\b"), lambda m: _clock(int(m.group(1)))),
]

# --- the party -----------------------------------------------------------------------------------------------------

# "15", "30ish", "15-20", "15 to 20" (the larger is planned for)
_N = r"(\d{1,3})(?:ish)?(?:\s*(?:-|to|or)\s*(\d{1,3})(?:ish)?)?\+?"
_ADJECTIVE = r"(?:(?:hungry|little|small|young|big|more|extra|other|total|grown|adult)\s+)?"
ADULT_WORDS = r"adults?|grown\s*-?ups?|grownups|teens?|teenagers|men|women|ladies|guys"
TOTAL_WORDS = r"people|ppl|peeps|persons?|guests?|pax|folks|heads|ppls|peopel|poeple|of\s+us|personas|invitados"
CHILD_WORDS = r"kids?|children|child|childs|kiddos?|kiddies|boys|girls|little\s+ones|youngsters|minors"
TODDLER_WORDS = r"toddlers?|babies|baby|infants?|littles"
UNDER_AGE = re.compile(r"^\s*\(?\s*(?:under|below|younger\s+than|<|less\s+than)\s*(\d{1,2})|"
                       r"^\s*\(?\s*(?:age[sd]?\s+)?(\d{1,2})\s*(?:and|&|or|n)\s*(?:under|below|younger)|"
                       r"^\s*\(?\s*(?:age[sd]?\s+)?(\d)\s*(?:-|to)\s*(\d)\b")
_OF_THEM = r"(?:of\s+(?:them|those|which|whom)\s+(?:are\s+|will\s+be\s+|r\s+)?)?"
COUNTED = re.compile(rf"\b{_N}\s+{_OF_THEM}{_ADJECTIVE}"
                     rf"(?:({ADULT_WORDS})|({TOTAL_WORDS})|({CHILD_WORDS})|({TODDLER_WORDS}))\b")
PARTY_OF = re.compile(rf"\b(?:party|group|table|family|crew|headcount|head\s+count|guest\s+count|count)\s+"
                      rf"(?:of|for|is|=|:)?\s*(?:about|around|like|maybe|roughly|approx\.?)?\s*{_N}\b|"
                      rf"\b(?:we\s+are|we're|were|we\s+r|there\s+are|there's|there\s+will\s+be|feed|feeding|"
                      rf"serve|serving|cater|catering|expecting|for|need|about|around|like|maybe)\s+"
                      rf"(?:about|around|like|maybe|roughly|approx\.?|only|just)?\s*{_N}(?!\s*(?:hours?|hrs?|"
                      rf"minutes?|mins?|days?|weeks?|months?|years?|yrs?|miles?|mi|%|\d|st|nd|rd|th))\b|"
                      rf"\b{_N}\s+(?:total|in\s+total|altogether|all\s+together|ppl)\b")
INCLUDING = re.compile(r"\b(?:includ\w*|incl\.?|inc\.?|of\s+which|of\s+them|of\s+those|out\s+of|total|in\s+total|"
                       r"in\s+all|among\s+them|altogether|all\s+together|counting)\b")


def _number(match: re.Match[str], group: int) -> int:
    """The count a match names: the larger end of a range."""
    low, high = match.group(group), match.group(group + 1)
    return max(int(low), int(high)) if high else int(low)


def _party(text: str) -> tuple[int | None, int | None, int | None]:
    """(adults, children, toddlers), not counting how many of a food are wanted ("lobster for 3 and filet for 5")
    unless one such count is all the message has ("with gyoza for 12")."""
    party = _counts(FOOD_COUNT.sub(" ; ", text))
    if party == (None, None, None) and len(FOOD_COUNT.findall(text)) == 1:
        return _counts(text)
    return party


def _counts(text: str) -> tuple[int | None, int | None, int | None]:
    """People or guests without a word for children are adults; when the message also counts children inside that
    total ("14 people including 4 kids"), they are taken out of it."""
    total = children = toddlers = None
    adult_words: dict[str, int] = {}  # "8 adults and 4 teens", "6 men and 5 women": each kind counted once
    for match in COUNTED.finditer(text):
        count = _number(match, 1)
        if match.group(3):
            adult_words.setdefault(match.group(3).rstrip("s"), count)
        elif match.group(4) and total is None:
            total = count
        elif match.group(5):
            under = UNDER_AGE.match(text[match.end():])
            if under and _age_limit(under) <= 6:
                toddlers = toddlers if toddlers is not None else count
            elif children is None:
                children = count
        elif match.group(6) and toddlers is None:
            toddlers = count
    adults = sum(adult_words.values()) if adult_words else None
    if adults is None and total is None and (size := PARTY_OF.search(text)):
        group = next(index for index in (1, 3, 5) if size.group(index))
        total = _number(size, group)
    if adults is None and total is not None:
        adults = total
        if INCLUDING.search(text) and (children or toddlers):
            adults = max(total - (children or 0) - (toddlers or 0), 0)
    return adults, children, toddlers


# "lobster for 3": how many of a food, not the party.
FOOD_COUNT = re.compile(r"\b(?:lobster\w*|tails?|filets?|fillets?|mignon|salmon|scallops?|steaks?|shrimp|chicken|"
                        r"calamari|tofu|upgrades?|proteins?|noodles|yakisoba|gyoza|edamame|rice|veggies|vegetables)"
                        rf"\s+(?:for|x)\s+(?:the\s+)?\d{{1,3}}\b(?!\s+(?:{TOTAL_WORDS}|{ADULT_WORDS}|{CHILD_WORDS}))")


def _age_limit(under: re.Match[str]) -> int:
    """The oldest age "under 6", "5 and under" or "ages 2-4" allows."""
    if under.group(1):
        return int(under.group(1)) - 1
    return int(under.group(2) or under.group(4))


# --- upgrades ------------------------------------------------------------------------------------------------------

# The menu's codes (pricing rules: protein upgrades, the extra protein, add-ons) and the words visitors use for them.
UPGRADE_WORDS: dict[str, list[str]] = {
    "lobster_tail": ["lobster*", "lobstah", "lobsta"],
    "filet_mignon": ["filet*", "fillet*", "mignon", "minion", "filet mignon", "steak filet", "tenderloin"],
    "salmon": ["salmon", "samon", "salmons"],
    "scallops": ["scallop*", "scalop*"],
    "extra_protein": ["extra protein*", "additional protein*", "third protein", "3rd protein", "extra meat",
                      "more protein*", "another protein", "extra proteins"],
    "yakisoba_noodles": ["noodle*", "yakisoba", "lo mein", "lomein"],
    "fried_rice": ["extra rice", "more rice", "extra fried rice", "rice add on"],
    "vegetables": ["extra veggies", "extra vegetables", "extra veg", "more veggies", "more vegetables"],
    "edamame": ["edamame", "edamami", "edamme"],
    "gyoza": ["gyoza*", "gyoza", "dumpling*", "potsticker*", "pot stickers"],
}


@lru_cache(maxsize=64)
def _upgrade_words(menu: tuple[str, ...]) -> tuple[dict[str, list[str]], Phrases]:
    """The words for each code: the default menu's names, and a station's other codes by their own words."""
    names = UPGRADE_WORDS | {code: [code.replace("_", " ")] for code in menu if code not in UPGRADE_WORDS}
    return names, Phrases(phrase for phrases in names.values() for phrase in phrases)


def _upgrades(text: str, menu: tuple[str, ...]) -> tuple[str, ...]:
    """The codes named, a longer name winning over a shorter one inside it ("garlic noodles" is not "noodles")."""
    names, phrases = _upgrade_words(menu)
    spans = phrases.spans(words(text))
    found = {" ".join(phrase) for phrase, start, end in spans
             if not any(s <= start and end <= e and e - s > end - start for _, s, e in spans)}
    return tuple(code for code, code_words in names.items() if found & set(code_words))


# --- intents -------------------------------------------------------------------------------------------------------

INTENT_WORDS: dict[str, list[str]] = {
    "greeting": ["hi", "hello", "hey", "heya", "hiya", "howdy", "yo", "hola", "good morning", "good afternoon",
                 "good evening", "sup", "hii", "hiii", "helo", "hellooo", "heyy", "heyyy", "greetings"],
    "price_quote": ["how much", "price*", "pricing", "cost*", "quote*", "rate*", "what do you charge", "estimate*",
                    "per person", "per head", "a head", "budget", "expensive", "cheap*", "afford*", "hm",
                    "what would it be", "what would it run", "run us", "ballpark", "how mutch", "hw much", "eat free",
                    "eat for free", "free for kids", "cuanto", "cuesta", "precio", "the damage"],
    "availability": ["availab*", "avail", "open", "opening*", "free on", "any spot*", "spots", "slot*",
                     "booked up", "fully booked", "still have", "any dates", "have any dates", "can you do",
                     "are you free", "you free", "possible", "you guys do", "can we do", "could you do",
                     "could we do", "earliest", "latest", "any chef*", "have a chef", "work for you", "date open",
                     "time open", "still open", "taken", "fully taken"],
    "book": ["book*", "reserv*", "hold", "lock in", "lock it in", "sign us up", "sign me up", "schedule it",
             "want to do it", "lets do it", "let's do it", "go ahead", "secure the date", "grab the date",
             "put us down", "put me down", "set it up", "confirm the date"],
    "deposit": ["deposit*", "down payment", "downpayment", "upfront", "up front", "pay to hold", "to hold the date",
                "retainer", "money down", "put down"],
    "minimum": ["minimum", "minimums", "min", "mininum", "minumum", "smallest party", "at least how many",
                "minimum order", "minimum spend", "how few", "too small"],
    "travel": ["travel*", "mileage", "drive to", "come to", "come out to", "far", "distance", "miles",
               "service area", "serve my area", "serve our area", "do you serve", "do you go", "deliver to",
               "trip charge", "gas fee", "come out", "you cover", "which areas", "what areas",
               "zip codes"],
    "menu": ["menu*", "protein*", "what food", "what do you serve", "what's served", "whats served", "dishes",
             "options", "vegetarian", "vegan", "food choices", "what comes with", "what's included",
             "whats included", "what is included", "includes", "included", "what do we get", "sides",
             "halal", "kosher", "what kind of food", "food options", "meat options", "upgrade*", "what meat*",
             "which meat*", "kind of meat", "kinds of meat", "meats"],
    "cancellation": ["cancel*", "cancle*", "call it off", "call off"],
    "reschedule": ["reschedul*", "re schedule", "postpone*", "move the date", "move our date", "move my date",
                   "change the date", "change our date", "change my date", "different date", "another date",
                   "push it back", "push back", "move it to", "switch the date", "new date", "rain check",
                   "raincheck", "change the day", "move the party", "move our party"],
    "allergy": ["allerg*", "alergy", "alergic", "alergies", "gluten*", "peanut*", "nut", "nuts", "tree nut*",
                "shellfish", "dairy", "lactose", "celiac", "coeliac", "sesame", "soy", "epipen", "intoleran*"],
    "refund": ["refund*", "money back", "my deposit back", "the deposit back", "get it back", "reimburs*",
               "chargeback", "charge back", "refundable", "non refundable", "nonrefundable"],
    "complaint": ["complain*", "terrible", "awful", "horrible", "disappoint*", "rude", "unacceptable", "worst",
                  "never showed", "no show", "didn't show", "didnt show", "never came", "undercooked",
                  "food poisoning", "got sick", "unhappy", "not happy", "ruined", "upset", "furious", "disgust*",
                  "unprofessional", "showed up late", "was late", "an hour late", "cold food", "food was cold",
                  "overcharged", "ripped off", "rip off", "scam", "double charged", "charged twice",
                  "charged me twice"],
    "human": ["human", "real person", "a person", "agent", "representative", "rep", "someone real",
              "talk to someone", "speak to someone", "speak with someone", "talk with someone", "talk to somebody",
              "manager", "owner", "live person", "not a bot", "actual person", "call me", "give me a call",
              "speak to a", "talk to a", "operator", "someone call", "somebody call", "live agent", "ur boss",
              "get in touch", "have someone", "reach out to me"],
    "thanks": ["thanks", "thank you", "thank u", "thankyou", "thx", "thnx", "tnx", "ty", "tysm", "appreciate*",
               "cheers", "much appreciated", "thank", "thanx", "thks"],
}
_INTENTS = {intent: Phrases(phrases) for intent, phrases in INTENT_WORDS.items()}
CONTACT_SLOTS = ("name", "email", "phone")
# "How much" beside a topic with a price of its own asks that price, not a quote for the party.
JUST_HOW_MUCH = {"how much", "how mutch", "hw much", "hm"}
PRICED_TOPICS = {"deposit", "minimum", "travel"}
# Foods name the menu only when the message asks nothing else: "how much is a filet upgrade" asks a price.
MENU_ITEMS = {"protein*", "upgrade*"}
ALONGSIDE_ANYTHING = {"greeting", "thanks", "contact_details"}
# A booking already made, named as a thing ("my booking", "we booked"), is no wish to book.
# "Are you booked on the 19th?", "booked up": whether a date is taken, not a wish to book.
BOOKED_UP = re.compile(r"\b(?:are|r)\s+(?:you|u)\s+(?:guys\s+|all\s+)?(?:already\s+|fully\s+|all\s+)?booked\b|"
                       r"\bbooked\s+(?:up|solid)\b|\b(?:fully|all)\s+booked\b")
CLAUSE_BREAK = re.compile(r"[,.;!?&+]|\band\b|\balso\b|\bplus\b")
A_BOOKING_MADE = re.compile(r"\b(?:my|our|the|your|this|that)\s+(?:booking|reservation|party\s+booking)\b|"
                            r"\b(?:i|we)\s+(?:already\s+)?(?:booked|reserved)\b")


def _how_much_alone(text: str) -> bool:
    """Whether a clause asks "how much" without a priced topic of its own: "what's the min, and how much for 12"."""
    for clause in CLAUSE_BREAK.split(text):
        clause_words = words(clause)
        if _INTENTS["price_quote"].found(clause_words) and not any(
                _INTENTS[topic].found(clause_words) for topic in PRICED_TOPICS):
            return True
    return False


def _intents(text: str, found: dict[str, object]) -> frozenset[str]:
    text = BOOKED_UP.sub(" taken ", A_BOOKING_MADE.sub(" the event ", text))
    text_words = words(text)
    phrases = {intent: set(found_phrases) for intent, table in _INTENTS.items()
               if (found_phrases := table.found(text_words))}
    intents = set(phrases)
    if "price_quote" in intents and intents & PRICED_TOPICS and phrases["price_quote"] <= JUST_HOW_MUCH \
            and not _how_much_alone(text):
        intents.discard("price_quote")
    if "menu" in intents and phrases["menu"] <= MENU_ITEMS and "price_quote" in intents:
        intents.discard("menu")
    if found.get("upgrades") and not intents - ALONGSIDE_ANYTHING:
        intents.add("menu")
    if any(slot in found for slot in CONTACT_SLOTS):
        intents.add("contact_details")
    return frozenset(intents or {"other"})

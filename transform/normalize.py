"""The form's textual conventions, read into values: the one place for each of them.

Era dates (平成/令和, 元年) and date ranges, section numerals (Ⅱ and the Latin "II"), the
bracketed selection of a choice row, the closest allowed option, and the running headers/footers
that repeat on every page. NFKC and whitespace are ground.text's. Parsers call these; none of them
re-implements a rule found here.
"""

from __future__ import annotations

import difflib
import re
from collections import Counter
from datetime import date

from ground.text import clean, compact, nfkc

ERA_START_YEAR = {"明治": 1867, "大正": 1911, "昭和": 1925, "平成": 1988, "令和": 2018}


_DATE = re.compile(
    r"(?:(?P<era>明治|大正|昭和|平成|令和)\s*(?P<era_year>元|\d{1,2})\s*年\s*"
    r"|(?P<year>(?:19|20)\d{2})\s*年\s*)?"
    r"(?P<month>\d{1,2})\s*月\s*(?P<day>\d{1,2})\s*日"
)
_ISO_DATE = re.compile(r"(?<!\d)((?:19|20)\d{2})[-/.](\d{1,2})[-/.](\d{1,2})(?!\d)")
_RANGE_SEPARATOR = re.compile(r"\s*(?:から|より|~|〜|～|－|ー|-|－)\s*")

ROMAN_NUMERALS = {"I": 1, "II": 2, "III": 3, "IV": 4, "V": 5, "VI": 6, "VII": 7, "VIII": 8,
                  "IX": 9, "X": 10}
_SECTION_HEADING = re.compile(r"^\s*(X|IX|VIII|VII|VI|IV|V|III|II|I)(?![A-Za-z])[\s.．、]*(?=\S)")

# Marks an office (or an extractor) uses for a ticked box; OCR reads ○ as O, 0 or o.

_BRACKET = re.compile(r"[\[［]\s*([^\[\]［］]*?)\s*[\]］|」J]")

_FOOTER = re.compile(r"^\s*(?:-\s*)?\d{1,4}\s*(?:/|／)\s*\d{1,4}\s*(?:ページ|頁)?\s*$|^\s*-\s*\d{1,4}\s*-\s*$")


# --- dates --------------------------------------------------------------------------------------
def _to_date(match: re.Match, previous: date | None) -> date | None:
    if match.group("era"):
        era_year = 1 if match.group("era_year") == "元" else int(match.group("era_year"))
        year = ERA_START_YEAR[match.group("era")] + era_year
    elif match.group("year"):
        year = int(match.group("year"))
    elif previous is not None:  # 「令和7年1月23日から2月21日まで」: the era and year carry over
        year = previous.year
    else:
        return None
    try:
        return date(year, int(match.group("month")), int(match.group("day")))
    except ValueError:
        return None


def find_dates(value: str | None) -> list[date]:
    """Every date in the text, in order: era dates (令和6年3月25日, 令和元年…), 2024年3月25日,
    2024-03-25; a date without a year takes the year of the date before it."""
    if not value:
        return []
    text = nfkc(value)
    found: list[tuple[int, date]] = []
    previous = None
    for match in _DATE.finditer(text):
        parsed = _to_date(match, previous)
        if parsed is not None:
            found.append((match.start(), parsed))
            previous = parsed
    for match in _ISO_DATE.finditer(text):
        try:
            found.append((match.start(), date(*map(int, match.groups()))))
        except ValueError:
            continue
    return [d for _, d in sorted(found, key=lambda pair: pair[0])]


def parse_date(value: str | None) -> date | None:
    """The first date in the text, or None."""
    dates = find_dates(value)
    return dates[0] if dates else None


def parse_date_range(value: str | None) -> tuple[date | None, date | None]:
    """(start, end) of 「AからBまで」, 「A～B」, 「AからBまでの30日間」; a single date is (A, None)."""
    dates = find_dates(value)
    if not dates:
        return None, None
    if len(dates) == 1:
        return dates[0], None
    return dates[0], dates[1]


# --- numerals -----------------------------------------------------------------------------------
def section_numeral(value: str | None) -> int | None:
    """The number of a section heading: 「Ⅱ しきい値判断項目」 and 「II しきい値判断項目」 are both 2."""
    if not value:
        return None
    match = _SECTION_HEADING.match(nfkc(value))  # NFKC turns Ⅱ into the Latin "II"
    return ROMAN_NUMERALS[match.group(1)] if match else None


# --- selections and checkboxes ------------------------------------------------------------------
def bracket_value(value: str | None) -> str | None:
    """The text inside the first [ … ] (the selected choice), or None when there is no bracket;
    an empty bracket gives None too. OCR's misreadings of "]" as "|" / "」" / "J" are accepted."""
    if not value:
        return None
    match = _BRACKET.search(nfkc(value))
    if not match:
        return None
    return clean(match.group(1))


def nearest_option(value: str | None, options, cutoff: float = 0.6) -> str | None:
    """The allowed option closest to a (possibly OCR-damaged) text, or None when none is close:
    「10方人以上30万人未満」 → 「10万人以上30万人未満」. Exact (space-insensitive) matches win."""
    if not value:
        return None
    wanted = compact(value)
    by_compact = {compact(option): option for option in options}
    if wanted in by_compact:
        return by_compact[wanted]
    scored = sorted(((difflib.SequenceMatcher(None, wanted, key).ratio(), key) for key in by_compact),
                    reverse=True)
    if not scored or scored[0][0] < cutoff:
        return None
    # Two options equally close (e.g. "500人以上"/"500人未満" against "500人") is no answer.
    if len(scored) > 1 and scored[0][0] - scored[1][0] < 0.05:
        return None
    return by_compact[scored[0][1]]


# --- running headers and footers ----------------------------------------------------------------
def is_page_footer(line: str) -> bool:
    """「3 / 72」, 「2 / 69 ページ」, 「- 4 -」."""
    return bool(_FOOTER.match(nfkc(line)))


def running_lines(pages: list[list[str]], share: float = 0.6) -> set[str]:
    """Lines (compared by their compact form) that stand on at least `share` of the pages: the
    running header (task name, office). Documents of one or two pages have none."""
    if len(pages) < 3:
        return set()
    counts = Counter()
    for lines in pages:
        counts.update({compact(line) for line in lines if compact(line)})
    return {line for line, n in counts.items() if n >= share * len(pages)}

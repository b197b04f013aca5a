"""The threshold rule of the 特定個人情報保護評価指針, defined once.

PIA.md "The threshold rule": the number of people a task covers (対象人数), the number of people
handling the file (取扱者数) and a serious incident in the past year (重大事故) decide which
assessments are mandatory. A document may be heavier than required, never lighter.
"""

from __future__ import annotations

from ground.schema import SUBJECT_COUNT_BANDS, THRESHOLD_RESULTS

# Bands whose result does not depend on 取扱者数 or 重大事故: the only ones a focused or full
# document (which states neither) can be checked against.
BAND_DECIDES = {
    "under_1k": "not_required",
    "1k_to_10k": "basic_only",
    "300k_plus": "basic_and_full",
}

# The two middle bands: (result when handlers < 500 and no serious incident, result otherwise).
BAND_DEPENDS = {
    "10k_to_100k": ("basic_only", "basic_and_focused"),
    "100k_to_300k": ("basic_and_focused", "basic_and_full"),
}

# The document kind a result makes mandatory besides the basic one (None: only the basic one).
KIND_REQUIRED_BY_RESULT = {
    "basic_and_full": "full",
    "basic_and_focused": "focused",
    "basic_only": None,
    "not_required": None,
}

# Heavier kinds satisfy lighter requirements ("a document may be heavier than required").
KIND_WEIGHT = {"basic": 1, "focused": 2, "full": 3}

assert set(BAND_DECIDES) | set(BAND_DEPENDS) == set(SUBJECT_COUNT_BANDS)
assert set(KIND_REQUIRED_BY_RESULT) == set(THRESHOLD_RESULTS)


def mandatory_result(band: str | None, handlers_500_or_more: bool | None,
                     serious_incident: bool | None) -> str | None:
    """What the threshold rule makes mandatory, or None when the given facts cannot decide it.

    Unknown facts are None. In the middle bands one known aggravating fact (500 or more handlers,
    or a serious incident) decides on its own; the lighter result needs both known to be absent.
    """
    if band in BAND_DECIDES:
        return BAND_DECIDES[band]
    if band not in BAND_DEPENDS:
        return None
    light, heavy = BAND_DEPENDS[band]
    if handlers_500_or_more is True or serious_incident is True:
        return heavy
    if handlers_500_or_more is False and serious_incident is False:
        return light
    return None


def expected_result(kind: str | None, band: str | None, handlers_500_or_more: bool | None,
                    serious_incident: bool | None) -> str | None:
    """The result a document of this kind can be checked against.

    Only basic documents carry 取扱者数 and 重大事故 (the focused/full forms ask about incidents in
    the past 3 years, a different question), so focused and full documents are judged on the band.
    """
    if kind == "basic":
        return mandatory_result(band, handlers_500_or_more, serious_incident)
    if kind in ("focused", "full"):
        return mandatory_result(band, None, None)
    return None


def kind_required_by(result: str | None) -> str | None:
    """The heavier document kind a stated result makes mandatory ("full", "focused" or None)."""
    return KIND_REQUIRED_BY_RESULT.get(result)


def kind_satisfies(kind: str | None, required_kind: str | None) -> bool | None:
    """Whether a document of `kind` is at least as heavy as `required_kind` (None if unknown)."""
    if required_kind is None:
        return True
    if kind not in KIND_WEIGHT:
        return None
    return KIND_WEIGHT[kind] >= KIND_WEIGHT[required_kind]

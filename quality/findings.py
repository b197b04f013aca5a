"""Failing rows → findings people can act on: which values disagree, where they were read.

A finding's ``key`` says which part of the document it is about (a field, a change row…) so
that sha256 + rule + key identifies it across runs (``finding_id``) and a later version of the
document can be asked whether it still has the same problem.
"""

from __future__ import annotations

import hashlib
from datetime import date

from ground.schema import FIELDS, KIND_LABELS
from ground.vocabulary import HANDLERS_500_OR_MORE_TEXT, INCIDENT_TEXT, SUBJECT_COUNT_TEXT, THRESHOLD_RESULT_TEXT
from quality.frames import city_key, kinds_by_plan
from quality.gx_suites import CHECKS
from quality.rules import MIN_COMMENT_DAYS, RULES
from quality.threshold import KIND_REQUIRED_BY_RESULT

FIELD_LABELS = {f.name: f.label for f in FIELDS}
CHECKS_BY_NAME = {c.name: c for c in CHECKS}


def finding_id(document: str, rule: str, key: str) -> str:
    """The same problem in the same document version keeps its id across runs."""
    return hashlib.sha256(f"{document}\x1f{rule}\x1f{key}".encode("utf-8")).hexdigest()


def _yes_no(value, yes: str, no: str) -> str:
    return "不明" if value is None else (yes if value else no)


def _threshold_facts(record: dict) -> str:
    band = SUBJECT_COUNT_TEXT.get(record.get("subject_count_band"), record.get("subject_count_band"))
    facts = [f"対象人数が{band}"]
    if record.get("kind") == "basic" and record.get("subject_count_band") in ("10k_to_100k", "100k_to_300k"):
        facts.append(f"取扱者数が{_yes_no(record.get('handler_count_500_or_more'), *HANDLERS_500_OR_MORE_TEXT)}")
        facts.append(f"重大事故が{_yes_no(record.get('serious_incident_past_year'), *INCIDENT_TEXT)}")
    return "、".join(facts)


def _result_label(result) -> str:
    return THRESHOLD_RESULT_TEXT.get(result, str(result))


def _message(rule: str, record: dict, row: dict, key: str, context: dict) -> str:
    stated = _result_label(record.get("threshold_result"))
    kind_label = KIND_LABELS.get(record.get("kind"), str(record.get("kind")))
    if rule == "required.missing_field":
        return f"{kind_label}の必須項目「{FIELD_LABELS.get(key, key)}」が空欄になっている"
    if rule == "threshold.result_mismatch":
        return (f"{_threshold_facts(record)}であるのに、しきい値判断結果が「{stated}」となっている"
                f"（しきい値判断の基準では「{_result_label(row['expected_threshold_result'])}」）")
    if rule == "threshold.kind_lighter_than_result":
        return f"しきい値判断結果が「{stated}」であるのに、評価書が{kind_label}になっている"
    if rule == "threshold.missing_required_document":
        required = KIND_LABELS[KIND_REQUIRED_BY_RESULT[record.get("threshold_result")]]
        found = "、".join(KIND_LABELS.get(k, str(k)) for k in context["kinds_found"]) or "なし"
        return (f"基礎項目評価書のしきい値判断結果が「{stated}」であるのに、評価書番号"
                f"{record.get('assessment_number')}の{required}が公表されていない（同じ番号の評価書: {found}）")
    if rule == "dates.change_after_publication":
        change = record["changes"][row["row"]]
        return (f"変更箇所の変更日{change.get('date')}（{change.get('item') or '項目不明'}）が"
                f"公表日{record.get('published_on')}より後になっている")
    if rule == "dates.count_after_publication":
        return (f"対象人数の計数時点{record.get('subject_count_as_of')}が"
                f"公表日{record.get('published_on')}より後になっている")
    if rule == "dates.review_after_publication":
        return (f"第三者点検の実施日{record['third_party_review_dates'][row['row']]}が"
                f"公表日{record.get('published_on')}より後になっている")
    if rule == "dates.comment_after_publication":
        last = record.get("public_comment_end") or record.get("public_comment_start")
        return f"意見の聴取の期間（{last}まで）が公表日{record.get('published_on')}より後まで続いている"
    if rule == "procedure.no_public_comment":
        return "全項目評価書であるのに、国民・住民等からの意見の聴取の実施日・期間が記載されていない"
    if rule == "procedure.no_third_party_review":
        return "全項目評価書であるのに、第三者点検の実施日が記載されていない"
    if rule == "procedure.short_comment_period":
        return (f"意見の聴取の期間が{record.get('public_comment_start')}から{record.get('public_comment_end')}"
                f"までの{row['public_comment_days']}日間で{MIN_COMMENT_DAYS}日に満たないのに、"
                "期間を短縮する特段の理由が記載されていない")
    if rule == "procedure.stale_full_assessment":
        return (f"全項目評価書の公表日が{record.get('published_on')}で、"
                f"{context['today']}の時点で5年を超えて再評価されていない")
    if rule == "choice.invalid_answer":
        return f"「{context['question']}」の回答「{context['answer']}」が様式の選択肢にない"
    if rule == "extraction.unread_section":
        return f"{kind_label}にあるはずの「{FIELD_LABELS.get(key, key)}」を読み取れなかった"
    raise KeyError(rule)


def _key_and_context(check_name: str, record: dict, row: dict, plans: dict) -> tuple[str, dict]:
    """Which part of the document a failing row is about, and what the message needs."""
    check = CHECKS_BY_NAME[check_name]
    if check.rule == "threshold.missing_required_document":
        kinds = plans.get((city_key(record), record.get("assessment_number")), set())
        return (KIND_REQUIRED_BY_RESULT[record.get("threshold_result")],
                {"kinds_found": sorted(k for k in kinds if k)})
    if check.frame == "field_reads":
        return row["field"], {}
    if check.frame == "documents":
        context = {}
        if check.rule == "choice.invalid_answer":
            context = {"question": FIELD_LABELS[check.key], "answer": record.get(check.key)}
        return check.key, context
    # One row per list item: the item's position names it.
    item = {"changes": "changes", "reviews": "third_party_review_dates", "files": "files",
            "risk_answers": "risk_answers"}[check.frame]
    key = f"{item}[{row['row']}]"
    value = record[item][row["row"]]
    if check.frame == "changes":
        return key, {"question": "提出時期", "answer": value.get("timing")}
    if check.frame == "files":
        return key, {"question": "対象となる本人の数", "answer": value.get("subject_band")}
    if check.frame == "risk_answers":
        return key, {"question": value.get("question") or "リスク対策", "answer": value.get("answer")}
    return key, {}


def _plain(value):
    """JSON-ready: dates the frames hold as dates become ISO text, as in the record."""
    return value.isoformat() if isinstance(value, date) else value


def _evidence(check_name: str, record: dict, row: dict, key: str) -> dict:
    """The values that disagree and the pages they were read on (record.source.field_pages)."""
    check = CHECKS_BY_NAME[check_name]
    field_pages = (record.get("source") or {}).get("field_pages") or {}
    fields = check.fields or (key,)
    values = {}
    for name in fields:
        value = record.get(name)
        if isinstance(value, list) and "row" in row:
            values[f"{name}[{row['row']}]"] = value[row["row"]]
        else:
            values[name] = value
    # Columns the expectation compared that the frame derived (the rule table's result, the
    # comment period's length…): they are half of the disagreement.
    if check.frame == "documents":
        for column in (check.kwargs.get(k) for k in ("column", "column_A", "column_B")):
            if column and column not in values:
                values[column] = _plain(row[column])
    pages = {name: field_pages[name] for name in fields if name in field_pages}
    if check.frame == "risk_answers" and record["risk_answers"][row["row"]].get("page") is not None:
        pages["risk_answers"] = record["risk_answers"][row["row"]]["page"]
    evidence = {"values": values, "pages": pages}
    if (record.get("source") or {}).get("ocr"):
        evidence["ocr"] = True  # values read by OCR: look at the page before blaming the city
    return evidence


def build_findings(failures: dict[str, list[dict]], records: list[dict], documents: list[dict],
                   frames: dict, today) -> list[dict]:
    """Findings for the failing rows; ``documents[i]`` holds record i's sha256, city_code, source."""
    plans = kinds_by_plan(records)
    doc_rows = frames["documents"].set_index("doc_id", drop=False)

    findings = []
    for check_name, rows in failures.items():
        check = CHECKS_BY_NAME[check_name]
        for failing in rows:
            i = int(failing["doc_id"])
            record, document = records[i], documents[i]
            row = dict(failing)
            if check.frame == "documents":
                row.update(doc_rows.loc[failing["doc_id"]].to_dict())
            key, context = _key_and_context(check_name, record, row, plans)
            unread = (record.get("source") or {}).get("unread_fields") or []
            if check.about_blanks and any(name in unread for name in check.fields):
                continue  # the parser's blank, reported as extraction.unread_section
            context["today"] = today
            findings.append({
                "finding_id": finding_id(document["sha256"] or document["source"], check.rule, key),
                "rule": check.rule,
                "family": RULES[check.rule].family,
                "severity": check.effective_severity,
                "message": _message(check.rule, record, row, key, context),
                "source": document["source"],
                "organization": record.get("organization"),
                "assessment_number": record.get("assessment_number"),
                "title": record.get("title"),
                "kind": record.get("kind"),
                "sha256": document["sha256"],
                "city_code": document.get("city_code"),
                "key": key,
                "evidence": _evidence(check_name, record, row, key),
            })
    findings.sort(key=lambda f: (str(f["source"]), f["rule"], f["key"]))
    return findings

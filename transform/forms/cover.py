"""What the three forms share: the cover page, risk answers and the 変更箇所 table."""

from __future__ import annotations

import re

from ground import vocabulary
from ground.text import clean, compact, nfkc
from transform import bands
from transform.forms.reader import FormReader, selected_text
from transform.labels import LABELS
from transform.labels import match as labels_match
from transform.normalize import bracket_value, nearest_option, parse_date, section_numeral

# OCR may lose either bracket of 「[平成31年1月 様式2]」, or read 「]」 as 「1」: the 様式 are
# numbered 1 to 4, so 「様式21」 is 様式2
_FORM_VERSION = re.compile(r"^[\[［|]?\s*((?:平成|令和)\S*?年\S*?月\s*様式\s*[1-4])\s*[\]］|」J1l]?$")
_KIND_SUFFIX = re.compile(r"(?<=\S)(?=(?:基礎項目|重点項目|全項目)評価書)")
_NUMBER_AND_TITLE = re.compile(r"^(\d{1,4})\s+(\S.*)$")
_DRAFT = re.compile(r"[(（]\s*(素案|案)\s*[)）]")
_ENDED = re.compile(r"[【\[［]([^】\]［\[]*?)終了\s*[】\]］]")  # OCR may read 【 as [
TITLE_MAX_CHARS = 32
CHOICE_LIST_MARK = "<選択肢>"  # ＜選択肢＞ after NFKC
CHANGE_HEADER = ("変更日", "項目", "変更前の記載", "変更後の記載", "提出時期")


def kind_of(reader: FormReader) -> str | None:
    """basic/focused/full from the title line 「特定個人情報保護評価書（…評価書）」 on page 1."""
    for row in reader.rows:
        if row.page > 1:
            break
        # the title line itself, not a sentence that mentions one (minutes, notices)
        if row.key.startswith("特定個人情報保護評価書") and len(row.key) <= TITLE_MAX_CHARS:
            kind = bands.kind_from_title(row.key)
            if kind:
                reader.field_pages["kind"] = row.page
                return kind
    return None


def parse_cover(reader: FormReader) -> None:
    """評価書番号, 評価書名 (with draft and end marks), 評価実施機関名, 公表日 and the form version."""
    number_text, title, title_row = _number_and_title(reader)
    digits = re.sub(r"\D", "", number_text or "")
    if not digits and title_row is not None and reader.reread_number is not None:
        digits = _reread_number(reader, title_row)
    if digits:
        reader.put("assessment_number", int(digits), title_row)
    else:
        reader.mark_unread("assessment_number")
    title = clean(title)
    if title is None:
        reader.mark_unread("title")
    else:
        if reader.ocr:
            # OCR loses the space every title has before its kind (「…事務 基礎項目評価書」)
            title = _KIND_SUFFIX.sub(" ", title, count=1)
        reader.put("title", title, title_row)
        reader.put("is_draft", bool(_DRAFT.search(title)), title_row)
        ended = _ENDED.search(title)
        reader.put("ended_on", parse_date(ended.group(1)).isoformat()
                   if ended and parse_date(ended.group(1)) else None, title_row)
    cover_end = reader.find(lambda r: r.page > 1) or len(reader.rows)
    reader.value("organization", LABELS["organization"], 0, cover_end, anywhere=True)
    reader.value("published_on", LABELS["published_on"], 0, cover_end, convert=iso_date, anywhere=True)
    version = reader.find(lambda r: r.page == 1 and _form_version(r) is not None)
    if version is None:
        reader.mark_unread("form_version")
    else:
        # printed 「平成30年5月 様式4」; OCR can lose the space before 様式
        reader.put("form_version", re.sub(r"(?<=[^\s])(?=様式)", " ", _form_version(reader.rows[version])),
                   reader.rows[version])


def _number_and_title(reader: FormReader):
    """(number text, title, row) of the cover: under a header row 「評価書番号 | 評価書名」, or each
    label with its own value (beside or below, as stacked covers print them)."""
    header = reader.find(lambda r: labels_match(r.cells[0].text, LABELS["assessment_number"])
                         and any(labels_match(c.text, LABELS["title"]) for c in r.cells[1:])
                         or (r.key.startswith("評価書番号") and "評価書名" in r.key and len(r.cells) == 1))
    if header is not None and header + 1 < len(reader.rows):
        row = reader.rows[header + 1]
        if len(row.cells) >= 2:
            return row.cells[0].text, " ".join(c.text for c in row.cells[1:]), row
        match = _NUMBER_AND_TITLE.match(row.text)
        return (match.group(1), match.group(2), row) if match else ("", row.text, row)
    number = reader.labelled(LABELS["assessment_number"])
    title = reader.labelled(LABELS["title"])
    return (reader.value_at(number, LABELS["assessment_number"]) if number else None,
            reader.value_at(title, LABELS["title"]) if title else None,
            (title or number).row if (title or number) else None)


def _reread_number(reader: FormReader, row) -> str:
    """A lone number in a wide cell is what whole-page OCR drops: read the number's cell alone."""
    at = reader.rows.index(row)
    header_row = reader.rows[at - 1] if at else row
    right = header_row.cells[1].x0 if len(header_row.cells) > 1 else header_row.cells[0].x1 + 60
    return reader.reread_number(row.page, (header_row.cells[0].x0 - 1.5, row.top - 2, right - 4, row.bottom + 2))


_FORM_VERSION_IN_CELL = re.compile(r"[\[［]\s*((?:平成|令和)\S*?年\S*?月\s*様式\s*[1-4])\s*[\]］]")


def _form_version(row) -> str | None:
    """The form version printed on the row: alone (OCR may lose a bracket) or in brackets
    beside other text."""
    whole = _FORM_VERSION.match(row.text)
    found = whole or _FORM_VERSION_IN_CELL.search(nfkc(row.text))
    return clean(found.group(1)) if found else None


def iso_date(text: str | None) -> str | None:
    parsed = parse_date(text)
    return parsed.isoformat() if parsed else None


GENERIC_RISK_QUESTION = "リスクへの対策は十分か"
# A risk's own label in the focused and full forms: 「リスク1: 目的外の入手が行われるリスク」
_RISK_LABEL = re.compile(r"^リスク\d*[:：]")
_NUMBERED = re.compile(r"^\d+\.\s*(\S.*)$")
# A numbered line this long, or a sentence, is a value (「1. ユーザの認証方法 …。」), not a heading.
HEADING_MAX_CHARS = 30


def _section_heading(text: str) -> str | None:
    """「4. 特定個人情報ファイルの取扱いの委託 [ ] 委託しない」 → the heading without its boxes: one of
    the risk sections the 様式 prints, or another short numbered heading."""
    heading = clean(re.split(r"\s*[\[［]", text, maxsplit=1)[0])
    match = _NUMBERED.match(heading or "")
    if not match:
        return None
    title = compact(match.group(1))
    if any(title.startswith(compact(_NUMBERED.match(known).group(1))) for known in bands.BASIC_RISK_SECTIONS):
        return heading
    return heading if len(title) <= HEADING_MAX_CHARS and "。" not in title else None


def risk_answers(reader: FormReader, start: int, end: int) -> list[dict]:
    """Every risk question between rows start and end: choice rows offering the risk (or
    education) answers. The section is the numbered sub-heading above, without its 「[ ] 委託しない」
    boxes. The question is the row's label, or — where the row only says 「リスクへの対策は十分か」 —
    the risk's own label row above it. An answer outside the choices is kept as printed (a
    `choice` finding, not ours to fix)."""
    if reader.ocr:
        return _ocr_risk_answers(reader, start, end)
    answers = []
    section = risk_label = above = None
    for row in reader.rows[start:end]:
        if len(row.cells) == 1 and CHOICE_LIST_MARK not in row.key:
            heading = _section_heading(row.cells[0].text)
            if heading:
                section, risk_label = heading, None
            elif _RISK_LABEL.match(row.key) or bands.form_question(row.cells[0].text) in bands.MULTI_LINE_QUESTIONS:
                risk_label = row.cells[0].text
            above = row
            continue
        if CHOICE_LIST_MARK not in row.key:
            above = None
            continue
        options = row.key.split(CHOICE_LIST_MARK, 1)[1]
        choices = vocabulary.RISK_ANSWERS if "特に力を入れている" in options else (
            vocabulary.EDUCATION_ANSWERS if "特に力を入れて行っている" in options else None)
        if choices is None:
            above = None
            continue
        # the question: the row's first cell (before a selection printed in it), or the label
        # row directly above a row that holds only the selection (a stacked label); where that
        # says only 「リスクへの対策は十分か」, the risk's own 「リスク1: …」 label before it
        question = re.split(r"\s*[\[［]", row.cells[0].text, maxsplit=1)[0]
        if not question and above is not None:
            question = above.cells[0].text
        if compact(question) == GENERIC_RISK_QUESTION:
            question = risk_label or question
        above = None
        if not question:
            continue
        answers.append({"section": section, "question": bands.form_question(question),
                        "answer": selected_text(row.text), "page": row.end_page or row.page})
    return answers


_BRACKET_MARKS = re.compile(r"[\[\]［］|]")
_OPTION_LINE = re.compile(r"^[0-9\]\)l|]{0,2}\)")
_HEADING_LINE = re.compile(r"^\d+\.\s*\S")


def _ocr_risk_answers(reader: FormReader, start: int, end: int) -> list[dict]:
    """Risk answers of a scanned basic form. OCR has no cells: the question wraps over the next
    lines' first pieces and the bracket sits on its first line. Questions and sections are the
    form's fixed texts, so each is matched to the nearest of them; an unmatched one is left out."""
    answers = []
    section = None
    rows = reader.rows[start:end]
    for index, row in enumerate(rows):
        first = row.cells[0].text
        if _HEADING_LINE.match(first):
            heading = re.split(r"\s*[\[［]", first, maxsplit=1)[0]
            section = nearest_option(heading, bands.BASIC_RISK_SECTIONS, cutoff=0.7) or section
            continue
        if "選択肢" not in row.key:
            continue
        if row.boxed and len(row.cells) >= 3:  # ruled cells found: question | [selection] | choices
            question = _BRACKET_MARKS.sub("", row.cells[0].text)
            selected = clean(_BRACKET_MARKS.sub("", row.cells[1].text))
        else:
            # the bracket may be half lost (「|| ]」): the question ends where any part of it begins
            question = re.split(r"\s*[|\[［\]]", row.text, maxsplit=1)[0]
            for following in rows[index + 1:index + 4]:
                text = following.cells[0].text
                if "選択肢" in following.key or _HEADING_LINE.match(text):
                    break
                if not _OPTION_LINE.match(text) and len(compact(text)) > 2:
                    question += text
            selected = bracket_value(row.text)
        question = nearest_option(question, bands.BASIC_RISK_QUESTIONS, cutoff=0.6)
        if question is None:
            continue
        answer = nearest_option(selected, vocabulary.RISK_ANSWERS + vocabulary.EDUCATION_ANSWERS, cutoff=0.7) or selected
        answers.append({"section": section, "question": question, "answer": answer, "page": row.page})
    return answers


# A cell of a table without rules belongs to the header column that starts within this many
# points of it (an empty cell is simply not printed there).
COLUMN_REACH = 6.0


def _by_column(row, columns: list[float]) -> list[str] | None:
    """The row's texts by the header's columns: as they stand when every cell is there (ruled
    tables), else each cell under the header column it starts at; None for a row that is not one
    of the table's (fewer than five cells and some not under a column)."""
    if len(row.cells) >= 5:
        return [c.text for c in row.cells] + [""] * (6 - len(row.cells))
    texts = [""] * max(6, len(columns))
    for cell in row.cells:
        near = [n for n, x in enumerate(columns) if abs(cell.x0 - x) <= COLUMN_REACH]
        if not near:
            return None
        texts[near[0]] = cell.text
    return texts if texts[0] else None


def parse_changes(reader: FormReader, heading: str) -> None:
    """The 変更箇所 table: one record per row after its header (a row continued on the next
    page was already joined by transform.layout)."""
    start = reader.heading_index(heading)
    if start is None:
        reader.mark_unread("changes")
        return
    header = reader.find(lambda r: tuple(c.key for c in r.cells[:5]) == CHANGE_HEADER
                         # OCR: 「変更日 | 項目 - | 変更前の記載 | 変更後の記載 」 | 提出時期」
                         or (reader.ocr and len(r.cells) >= 5 and r.cells[0].key == "変更日"
                             and "変更前の記載" in r.key), start)
    if header is None:
        reader.mark_unread("changes")
        return
    columns = [c.x0 for c in reader.rows[header].cells]
    changes: list[dict] = []
    for row in reader.rows[header + 1:]:
        if not row.boxed:
            if row.key.startswith(("(別添", "(備考")) or section_numeral(row.cells[0].text):
                break  # the next part of the document
            continue  # OCR noise between the pages of the table
        if row.cells[0].key == "変更日":  # the header printed again
            continue
        cells = _by_column(row, columns)
        if cells is None:
            continue
        changes.append({"date": iso_date(cells[0]), "item": clean(cells[1]), "before": clean(cells[2]),
                        "after": clean(cells[3]), "timing": bands.timing(cells[4]),
                        "note": clean(cells[5])})
    reader.put("changes", changes, reader.rows[header])

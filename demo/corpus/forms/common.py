"""What the three forms share: the cover page, selection rows, checkboxes, the change table."""

from __future__ import annotations

from demo.corpus.render import GOTHIC, Cell, Sheet
from demo.corpus.wording import era_date, numbered_choices, spaced
from ground.vocabulary import KIND_TEXT, TIMING_TEXT

ROMAN = {1: "Ⅰ", 2: "Ⅱ", 3: "Ⅲ", 4: "Ⅳ", 5: "Ⅴ", 6: "Ⅵ"}
LATIN = {1: "I", 2: "II", 3: "III", 4: "IV", 5: "V", 6: "VI"}

LABEL_WIDTH = 0.27

class Form:
    """One document being laid out: the spec, its office habits, and the sheet it fills."""

    def __init__(self, spec: dict, sheet: Sheet):
        self.spec = spec
        self.sheet = sheet
        self.variants = spec.get("variants") or {}
        self.fullwidth = bool(self.variants.get("fullwidth_digits"))
        self.look = sheet.look
        self.quirks = sheet.quirks
        self.risk_answers: list[dict] = []  # as printed, with their pages: the truth's risk_answers

    # --- wording -------------------------------------------------------------------------------
    def numeral(self, n: int) -> str:
        return (LATIN if self.variants.get("latin_numerals") else ROMAN)[n]

    def label(self, text: str) -> str:
        """Some offices space out the characters of short labels to fill the cell."""
        return spaced(text) if self.variants.get("spaced_labels") and len(text) <= 8 else text

    def date(self, value) -> str:
        return era_date(value, self.fullwidth)

    # --- rows ----------------------------------------------------------------------------------
    def section(self, number: int, title: str) -> None:
        self.sheet.heading(f"{self.numeral(number)}　{title}", size=11.0)

    def subheading(self, text: str) -> None:
        self.sheet.row([Cell(text, 1.0, GOTHIC, grey=True)])

    def field(self, label: str, value: str | None, stacked: bool | None = None) -> None:
        """A label and its value: side by side, or (stacked looks) the value in the row below."""
        # older 様式 versions word some labels differently (spec key `labels`: form label -> printed)
        label = (self.spec.get("labels") or {}).get(label, label)
        if label == "①事務の名称" and "label_glyph" in self.quirks:
            label = "①務事務の名称"  # the last glyph of the wrapped heading above, in the label cell
        if self.look.stacked if stacked is None else stacked:
            self.sheet.row([Cell(label, 1.0, grey=True)])
            self.sheet.row([Cell(value or "", 1.0)])
        else:
            self.sheet.row([Cell(label, LABEL_WIDTH, grey=True), Cell(value or "", 1 - LABEL_WIDTH)])

    def choice(self, label: str, selected: str | None, options, mark: str | None = None) -> None:
        """The forms' convention: the selected option in brackets, then the numbered choice list."""
        if mark:
            self.sheet.mark(mark)
        selection = f"[ {selected or '　'} ]"
        if mark == "subject_count_band" and "open_bracket" in self.quirks:
            selection = selection[:-2]  # the closing bracket lost when the cell was retyped
        if self.look.stacked:
            self.sheet.row([Cell(label, 1.0, grey=True)])
            self.sheet.row([Cell(selection, 0.4), Cell(numbered_choices(options), 0.6)])
            return
        self.sheet.row([Cell(label, LABEL_WIDTH, grey=True),
                        Cell(selection, 0.30),
                        Cell(numbered_choices(options), 1 - LABEL_WIDTH - 0.30)])

    def risk(self, section: str, question: str, answer: str | None, options, label: str | None = None) -> None:
        """A risk answer; the row may carry a generic label (リスクへの対策は十分か) under its question."""
        self.choice(label or question, answer, options)
        self.risk_answers.append({"section": section, "question": question, "answer": answer,
                                  "page": self.sheet.page_number})

    def checkboxes(self, label: str, options, checked) -> None:
        boxes = "　".join(f"[ {'○' if option in checked else '　'} ] {option}" for option in options)
        self.field(label, boxes)

    # --- cover and change table -----------------------------------------------------------------
    def cover(self, kind: str, contents: list[str]) -> None:
        spec = self.spec
        self.sheet.spacer(8)
        self.sheet.text(f"特定個人情報保護評価書（{KIND_TEXT[kind]}）", GOTHIC, 15.0, center=True)
        self.sheet.spacer(10)
        if self.look.stacked:  # 評価書番号 above 評価書名, each with its value below
            for label, value in (("評価書番号", str(spec["assessment_number"])), ("評価書名", spec["title"])):
                self.sheet.row([Cell(self.label(label), 1.0, GOTHIC, grey=True)])
                self.sheet.row([Cell(value, 1.0)])
        else:
            self.sheet.row([Cell(self.label("評価書番号"), 0.2, GOTHIC, grey=True),
                            Cell(self.label("評価書名"), 0.8, GOTHIC, grey=True)])
            self.sheet.row([Cell(str(spec["assessment_number"]), 0.2), Cell(spec["title"], 0.8)])
        self.sheet.spacer(8)
        self.subheading(self.label("個人のプライバシー等の権利利益の保護の宣言"))
        self.sheet.row([Cell(spec["declaration"], 1.0)])
        self.sheet.spacer(8)
        self.subheading(self.label("特記事項"))
        self.sheet.row([Cell(spec.get("remarks") or "", 1.0)])
        self.sheet.spacer(8)
        # the official 様式 prints these labels above their values
        stacked = self.look.stacked or self.look.stacked_cover
        self.sheet.mark("organization")
        self.field(self.label("評価実施機関名"), spec["organization"], stacked)
        self.field("個人情報保護委員会\n承認日 【行政機関等のみ】", "", stacked)
        self.sheet.mark("published_on")
        self.field(self.label("公表日"), self.date(spec.get("published_on")), stacked)
        self.sheet.spacer(6)
        self.sheet.text(f"[{spec['form_version']}]")
        if contents:
            self.sheet.spacer(10)
            self.subheading("項目一覧")
            self.sheet.row([Cell("\n".join(contents), 1.0)])
        self.sheet.new_page()

    def changes(self, heading: str) -> None:
        self.sheet.heading(heading, size=11.0)
        widths = (0.13, 0.2, 0.24, 0.24, 0.07, 0.12)
        titles = ("変更日", "項目", "変更前の記載", "変更後の記載", "提出時期", "提出時期に係る説明")
        header = [Cell(t, w, GOTHIC, grey=True) for t, w in zip(titles, widths)]
        self.sheet.row(header)
        self.sheet.repeated_header = header
        for change in self.spec.get("changes") or []:
            timing = TIMING_TEXT.get(change.get("timing"), change.get("timing") or "")
            values = (self.date(change.get("date")), change.get("item") or "", change.get("before") or "",
                      change.get("after") or "", timing, change.get("note") or "")
            self.sheet.row([Cell(v, w) for v, w in zip(values, widths)])
        self.sheet.repeated_header = None


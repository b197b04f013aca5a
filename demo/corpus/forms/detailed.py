"""様式3 重点項目評価書 and 様式4 全項目評価書: the two forms that describe every file in detail.

The full form is the focused form plus more items per file (入手の時期, 委託先への提供方法, 再委託の
許諾方法…), the reasons for handling the files, a separate Ⅳ その他のリスク対策 and the public
comment's ③期間を短縮する特段の理由. Section numbers and annex numbers shift accordingly.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

from demo.corpus.forms.common import Form
from demo.corpus.render import Cell
from demo.corpus.wording import (OUTSOURCED_HANDLER_CHOICES, RECORD_ITEM_CHOICES, THRESHOLD_RESULT_CHOICES,
                                 threshold_result_text)
from ground.vocabulary import EDUCATION_ANSWERS, FILE_SUBJECT_TEXT, INCIDENT_TEXT, RISK_ANSWERS, SUBJECT_COUNT_TEXT

PHRASES = Path(__file__).resolve().parent.parent / "phrases.yaml"

FILE_TYPES = ("システム用ファイル", "その他の電子ファイル（表計算ファイル等）")
SOURCES = ("本人又は本人の代理人", "評価実施機関内の他部署", "行政機関・独立行政法人等", "地方公共団体・地方独立行政法人",
           "民間事業者", "その他")
METHODS = ("紙", "電子記録媒体（フラッシュメモリを除く。）", "フラッシュメモリ", "電子メール", "専用線",
           "庁内連携システム", "情報提供ネットワークシステム", "その他")
USER_COUNTS = ("10人未満", "10人以上50人未満", "50人以上100人未満", "100人以上500人未満", "500人以上1,000人未満",
               "1,000人以上")
RETENTION = ("1年未満", "1年", "2年", "3年", "4年", "5年", "6年以上10年未満", "10年以上20年未満", "20年以上",
             "定められていない")
CONNECTIONS = ("情報提供ネットワークシステム", "庁内連携システム", "住民基本台帳ネットワークシステム",
               "既存住民基本台帳システム", "宛名システム等", "税務システム", "その他")
STORAGE_INCIDENT_RISK = "storage-1"
DEFAULT_ANSWER = "十分である"


@lru_cache(maxsize=2)
def risk_sections(kind: str) -> tuple[dict, ...]:
    """The form's risk sections: each a heading and its risks (key, label, default measure rows)."""
    key = "risk_sections" if kind == "full" else "focused_risk_sections"
    return tuple(yaml.safe_load(PHRASES.read_text(encoding="utf-8"))[key])


def comment_period_text(form: Form, start, end) -> str:
    if start is None:
        return ""
    days = (end - start).days + 1
    return f"{form.date(start)}から{form.date(end)}までの{days}日間"


class DetailedForm(Form):
    kind = "full"

    @property
    def full(self) -> bool:
        return self.kind == "full"

    def contents(self) -> list[str]:
        n = self.numeral
        if self.full:
            return [f"{n(1)} 基本情報", "（別添1） 事務の内容", f"{n(2)} 特定個人情報ファイルの概要",
                    "（別添2） 特定個人情報ファイル記録項目", f"{n(3)} 特定個人情報ファイルの取扱いプロセスにおけるリスク対策",
                    f"{n(4)} その他のリスク対策", f"{n(5)} 開示請求、問合せ", f"{n(6)} 評価実施手続", "（別添3） 変更箇所"]
        return [f"{n(1)} 基本情報", f"{n(2)} 特定個人情報ファイルの概要", "（別添1） 特定個人情報ファイル記録項目",
                f"{n(3)} リスク対策", f"{n(4)} 開示請求、問合せ", f"{n(5)} 評価実施手続", "（別添2） 変更箇所"]

    def build(self) -> None:
        self.cover(self.kind, self.contents())
        self.basic_information()
        for number, file in enumerate(self.spec.get("files") or [], 1):
            self.file_overview(number, file)
        self.record_items()
        for number, file in enumerate(self.spec.get("files") or [], 1):
            self.file_risks(number, file)
        if self.full:
            self.sheet.new_page()
            self.section(4, "その他のリスク対策")
            self.audit_and_education("1. 監査", "2. 従業者に対する教育・啓発")
        else:
            self.audit_and_education("8. 監査", "9. 従業者に対する教育・啓発")
        self.inquiries()
        self.procedure()
        self.sheet.new_page()
        self.changes("（別添3） 変更箇所" if self.full else "（別添2） 変更箇所")

    # --- Ⅰ ------------------------------------------------------------------------------------
    def basic_information(self) -> None:
        spec = self.spec
        self.section(1, "基本情報")
        self.subheading("1. 特定個人情報ファイルを取り扱う事務")
        self.sheet.mark("business_name")
        self.field("①事務の名称", spec["business_name"])
        self.field("②事務の内容 ※", spec.get("business_description"))
        self.choice("③対象人数", SUBJECT_COUNT_TEXT.get(spec.get("subject_count"), spec.get("subject_count")),
                    SUBJECT_COUNT_TEXT.values(), mark="subject_count_band")
        self.subheading("2. 特定個人情報ファイルを取り扱う事務において使用するシステム")
        for number, system in enumerate(spec.get("systems") or [], 1):
            self.subheading(f"システム{number}")
            self.field("①システムの名称", system["name"])
            self.field("②システムの機能", system.get("function"))
            self.checkboxes("③他のシステムとの接続", CONNECTIONS, system.get("connections") or ())
        self.subheading("3. 特定個人情報ファイル名")
        self.sheet.row([Cell("\n".join(f["name"] for f in spec.get("files") or []), 1.0)])
        number = 4
        if self.full:
            self.subheading("4. 特定個人情報ファイルを取り扱う理由")
            self.field("①事務実施上の必要性", spec.get("necessity"))
            self.field("②実現が期待されるメリット", spec.get("merit"))
            number = 5
        self.subheading(f"{number}. 個人番号の利用 ※")
        self.field("法令上の根拠", spec.get("legal_basis"))
        self.subheading(f"{number + 1}. 情報提供ネットワークシステムによる情報連携 ※")
        self.choice("①実施の有無", spec.get("network_linkage", "実施する"), ("実施する", "実施しない", "未定"))
        self.field("②法令上の根拠", spec.get("network_basis"))
        self.subheading(f"{number + 2}. 評価実施機関における担当部署")
        self.field("①部署", spec.get("department"))
        self.field("②所属長の役職名", spec.get("department_head"))
        self.subheading(f"{number + 3}. 他の評価実施機関")
        self.sheet.row([Cell(spec.get("other_bodies") or "", 1.0)])
        if self.full:
            self.sheet.new_page()
            self.sheet.heading("（別添1） 事務の内容", size=11.0)
            self.sheet.row([Cell(spec.get("business_flow") or "", 1.0)])

    # --- Ⅱ ------------------------------------------------------------------------------------
    def file_overview(self, number: int, file: dict) -> None:
        full = self.full
        self.sheet.new_page()
        self.section(2, "特定個人情報ファイルの概要")
        self.subheading("1. 特定個人情報ファイル名")
        self.sheet.row([Cell(f"（{number}）{file['name']}", 1.0)])
        self.subheading("2. 基本情報")
        self.choice("①ファイルの種類 ※", file.get("type", FILE_TYPES[0]), FILE_TYPES)
        self.choice("②対象となる本人の数", FILE_SUBJECT_TEXT.get(file.get("subject_band"), file.get("subject_band")),
                    FILE_SUBJECT_TEXT.values())
        self.field("③対象となる本人の範囲 ※", file.get("scope"))
        if full:
            self.field("その必要性", file.get("scope_reason"))
        self.choice("④記録される項目", file.get("record_items"), RECORD_ITEM_CHOICES)
        if full:
            self.field("主な記録項目 ※", "、".join(file.get("record_item_list") or []))
            self.field("その妥当性", file.get("record_reason"))
        self.field("⑤保有開始日", self.date(file.get("held_since")))
        self.field("⑥事務担当部署", file.get("departments"))
        self.subheading("3. 特定個人情報の入手・使用")
        n = iter("①②③④⑤⑥⑦⑧⑨")
        self.checkboxes(f"{next(n)}入手元 ※", SOURCES, file.get("sources") or ())
        self.checkboxes(f"{next(n)}入手方法", METHODS, file.get("methods") or ())
        if full:
            self.field(f"{next(n)}入手の時期・頻度", file.get("timing"))
            self.field(f"{next(n)}入手に係る妥当性", file.get("acquisition_reason"))
            self.field(f"{next(n)}本人への明示", file.get("notice"))
        self.field(f"{next(n)}使用目的 ※", file.get("purpose"))
        self.field(f"{next(n)}使用の主体　使用部署 ※", file.get("users"))
        self.choice("　使用者数", file.get("user_count", "100人以上500人未満"), USER_COUNTS)
        self.field(f"{next(n)}使用方法 ※", file.get("usage"))
        self.field(f"{next(n)}使用開始日", self.date(file.get("use_start")))
        self.outsourcing(file)
        self.provisions(file)
        self.subheading("6. 特定個人情報の保管・消去")
        self.field("①保管場所 ※", file.get("storage"))
        if full:
            self.choice("②保管期間　期間", file.get("retention", "20年以上"), RETENTION)
            self.field("　その妥当性", file.get("retention_reason"))
        self.field("③消去方法" if full else "②消去方法", file.get("deletion"))
        self.subheading("7. 備考")
        self.sheet.row([Cell(file.get("note") or "", 1.0)])

    def outsourcing(self, file: dict) -> None:
        entries = file.get("outsourcing") or []
        full = self.full
        self.sheet.row([Cell("4. 特定個人情報ファイルの取扱いの委託", 0.6, grey=True),
                        Cell(f"[ {'委託する' if entries else '委託しない'} ]" +
                             (f"　（ {len(entries)} ）件" if entries else ""), 0.4)])
        for number, entry in enumerate(entries, 1):
            self.subheading(f"委託事項{number}　{entry['content']}")
            n = iter("①②③④⑤⑥⑦⑧⑨")
            self.field(f"{next(n)}委託内容", entry.get("detail") or entry["content"])
            if full:
                self.choice(f"{next(n)}取扱いを委託する特定個人情報ファイルの範囲", entry.get("scope", "特定個人情報ファイルの全体"),
                            ("特定個人情報ファイルの全体", "特定個人情報ファイルの一部"))
            self.choice(f"{next(n)}委託先における取扱者数", entry.get("handlers"), OUTSOURCED_HANDLER_CHOICES)
            if full:
                self.checkboxes(f"{next(n)}委託先への特定個人情報ファイルの提供方法", METHODS, entry.get("methods") or ())
                self.field(f"{next(n)}委託先名の確認方法", entry.get("disclosure", "委託先名は、市ホームページで公表している契約結果により確認できる。"))
            self.field(f"{next(n)}委託先名", entry.get("contractor"))
            self.choice(f"再委託　{next(n)}再委託の有無 ※", "再委託する" if entry.get("subcontracting") else "再委託しない",
                        ("再委託する", "再委託しない"))
            if full:
                self.field(f"{next(n)}再委託の許諾方法", entry.get("subcontract_approval") if entry.get("subcontracting") else "")
                self.field(f"{next(n)}再委託事項", entry.get("subcontract_scope") if entry.get("subcontracting") else "")

    def provisions(self, file: dict) -> None:
        provisions = file.get("provisions") or []
        transfers = file.get("transfers") or []
        self.sheet.row([Cell("5. 特定個人情報の提供・移転（委託に伴うものを除く。）", 0.5, grey=True),
                        Cell(f"[ {'○' if provisions else '　'} ] 提供を行っている　（ {len(provisions)} ）件\n"
                             f"[ {'○' if transfers else '　'} ] 移転を行っている　（ {len(transfers)} ）件\n"
                             f"[ {'　' if provisions or transfers else '○'} ] 行っていない", 0.5)])
        for word, entries in (("提供", provisions), ("移転", transfers)):
            for number, entry in enumerate(entries, 1):
                self.subheading(f"{word}先{number}　{entry['recipient']}")
                self.field("①法令上の根拠", entry.get("basis"))
                self.field(f"②{word}先における用途", entry.get("use"))
                self.field(f"③{word}する情報", entry.get("info"))
                self.choice(f"④{word}する情報の対象となる本人の数",
                            FILE_SUBJECT_TEXT.get(entry.get("band"), entry.get("band")), FILE_SUBJECT_TEXT.values())
                self.field(f"⑤{word}する情報の対象となる本人の範囲", entry.get("scope") or file.get("scope"))
                self.checkboxes(f"⑥{word}方法", METHODS, entry.get("methods") or ())
                self.field("⑦時期・頻度", entry.get("frequency"))

    def record_items(self) -> None:
        self.sheet.new_page()
        self.sheet.heading("（別添2） 特定個人情報ファイル記録項目" if self.full else "（別添1） 特定個人情報ファイル記録項目",
                           size=11.0)
        for number, file in enumerate(self.spec.get("files") or [], 1):
            self.subheading(f"（{number}）{file['name']}")
            items = file.get("record_item_list") or []
            self.sheet.row([Cell("\n".join(f"{i}. {item}" for i, item in enumerate(items, 1)), 1.0)])

    # --- Ⅲ ------------------------------------------------------------------------------------
    def file_risks(self, number: int, file: dict) -> None:
        city = self.spec.get("declarant", "")
        answers = file.get("risk_answers") or {}
        measures = file.get("measures") or {}
        self.sheet.new_page()
        self.section(3, "特定個人情報ファイルの取扱いプロセスにおけるリスク対策" if self.full else "リスク対策")
        self.subheading("1. 特定個人情報ファイル名")
        self.sheet.row([Cell(f"（{number}）{file['name']}", 1.0)])
        for section in risk_sections(self.kind):
            self.subheading(section["heading"])
            for risk in section["risks"]:
                self.sheet.row([Cell(risk["label"], 1.0, grey=True)])
                for label, text in risk["measures"]:
                    self.field(label, measures.get(risk["key"], text).replace("{city}", city))
                if risk["key"] == STORAGE_INCIDENT_RISK:
                    self.incident(file)
                self.risk(section["heading"], risk["label"], answers.get(risk["key"], DEFAULT_ANSWER), RISK_ANSWERS,
                          label="リスクへの対策は十分か")

    def incident(self, file: dict) -> None:
        occurred = self.spec.get("serious_incident_past_3_years")
        # the same question is item ⑨ of 様式4's リスク1 and item ② of 様式3's only storage risk
        self.choice(f"{'⑨' if self.full else '②'}過去3年以内に、評価実施機関において、個人情報に関する重大事故が発生したか",
                    None if occurred is None else INCIDENT_TEXT[0 if occurred else 1], INCIDENT_TEXT,
                    mark="serious_incident_past_3_years")
        if occurred:
            self.field("その内容", self.spec.get("incident_detail"))
            self.field("再発防止策の内容", self.spec.get("incident_measures"))

    def audit_and_education(self, audit_heading: str, education_heading: str) -> None:
        spec = self.spec
        self.subheading(audit_heading)
        self.checkboxes("実施の有無", ("自己点検", "内部監査", "外部監査"), spec.get("audits", ("自己点検", "内部監査")))
        self.field("具体的な方法", spec.get("audit_method"))
        self.subheading(education_heading)
        answer = (spec.get("risk_answers") or {}).get("education", "十分に行っている")
        self.risk(education_heading, "従業者に対する教育・啓発", answer, EDUCATION_ANSWERS)
        self.field("具体的な方法", spec.get("education_method"))

    # --- Ⅳ/Ⅴ, Ⅴ/Ⅵ --------------------------------------------------------------------------------
    def inquiries(self) -> None:
        spec = self.spec
        self.sheet.new_page()
        self.section(5 if self.full else 4, "開示請求、問合せ")
        self.subheading("1. 特定個人情報の開示・訂正・利用停止請求")
        self.field("①請求先", spec.get("disclosure_contact"))
        self.field("②対応方法", spec.get("disclosure_handling", "請求の受付時に記録を残し、請求内容に応じて関係部署と連携して対応する。"))
        self.subheading("2. 特定個人情報ファイルの取扱いに関する問合せ")
        self.field("①連絡先", spec.get("inquiry_contact"))
        self.field("②対応方法", spec.get("inquiry_handling", "問合せの受付時に対応記録を残す。"))

    def procedure(self) -> None:
        spec = self.spec
        optional = "" if self.full else "【任意】"
        self.section(6 if self.full else 5, "評価実施手続")
        self.subheading("1. 基礎項目評価")
        self.sheet.mark("basic_assessment_date")
        self.field("①実施日", self.date(spec.get("basic_assessment_date")))
        result = spec.get("threshold_result")
        options = [threshold_result_text(r, v, self.kind) for r, v in THRESHOLD_RESULT_CHOICES[self.kind]]
        self.choice("②しきい値判断結果",
                    threshold_result_text(result, bool(spec.get("threshold_result_voluntary")), self.kind) if result else None,
                    options, mark="threshold_result")
        comment = spec.get("public_comment") or {}
        self.subheading(f"2. 国民・住民等からの意見の聴取{optional}")
        self.field("①方法", comment.get("method"))
        self.sheet.mark("public_comment_start")
        self.field("②実施日・期間", comment_period_text(self, comment.get("start"), comment.get("end")))
        if self.full:
            self.field("③期間を短縮する特段の理由", comment.get("shortened_reason"))
        self.field("④主な意見の内容" if self.full else "③主な意見の内容", comment.get("opinions"))
        if self.full:
            self.field("⑤評価書への反映", comment.get("reflection"))
        review = spec.get("third_party_review") or {}
        self.subheading(f"3. 第三者点検{optional}")
        self.sheet.mark("third_party_review_dates")
        self.field("①実施日", "、".join(self.date(d) for d in review.get("dates") or []))
        self.field("②方法", review.get("method"))
        self.field("③結果", review.get("result"))
        self.subheading("4. 個人情報保護委員会の承認【行政機関等のみ】")
        self.field("①提出日", "")
        self.field("②個人情報保護委員会による審査", "")


class FocusedForm(DetailedForm):
    kind = "focused"


class FullForm(DetailedForm):
    kind = "full"

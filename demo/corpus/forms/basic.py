"""様式2 基礎項目評価書: Ⅰ 関連情報, Ⅱ しきい値判断項目, Ⅲ しきい値判断結果, Ⅳ リスク対策, 変更箇所."""

from __future__ import annotations

from demo.corpus.forms.common import LABEL_WIDTH, Form
from demo.corpus.render import Cell
from demo.corpus.wording import threshold_result_text
from ground.vocabulary import (EDUCATION_ANSWERS, HANDLERS_500_OR_MORE_TEXT, INCIDENT_TEXT, RISK_ANSWERS,
                               SUBJECT_COUNT_TEXT, SUBMITTED_KINDS_TEXT)

# Ⅳ: (section heading, ((answer key, question), …)); each question takes a RISK_ANSWERS answer.
RISK_SECTIONS = (
    ("2. 特定個人情報の入手（情報提供ネットワークシステムを通じた入手を除く。）",
     (("acquisition", "目的外の入手が行われるリスクへの対策は十分か"),)),
    ("3. 特定個人情報の使用",
     (("linking", "目的を超えた紐付け、事務に必要のない情報との紐付けが行われるリスクへの対策は十分か"),
      ("misuse", "権限のない者（元職員、アクセス権限のない職員等）によって不正に使用されるリスクへの対策は十分か"))),
    ("4. 特定個人情報ファイルの取扱いの委託",
     (("outsourcing", "委託先における不正な使用等のリスクへの対策は十分か"),)),
    ("5. 特定個人情報の提供・移転（委託や情報提供ネットワークシステムを通じた提供を除く。）",
     (("provision", "不正な提供・移転が行われるリスクへの対策は十分か"),)),
    ("6. 情報提供ネットワークシステムとの接続",
     (("network_acquisition", "目的外の入手が行われるリスクへの対策は十分か"),
      ("network_provision", "不正な提供が行われるリスクへの対策は十分か"))),
    ("7. 特定個人情報の保管・消去",
     (("storage", "特定個人情報の漏えい・滅失・毀損リスクへの対策は十分か"),)),
)
# The "not done" boxes printed beside sections 4–6 (spec key `not_done` lists the ticked ones).
NOT_DONE_BOXES = {
    "4": lambda nd: f"　[ {'○' if '委託しない' in nd else '　'} ] 委託しない",
    "5": lambda nd: f"　[ {'○' if '提供・移転しない' in nd else '　'} ] 提供・移転しない",
    "6": lambda nd: (f"　[ {'○' if '接続しない（入手）' in nd else '　'} ] 接続しない（入手）"
                     f"　[ {'○' if '接続しない（提供）' in nd else '　'} ] 接続しない（提供）"),
}
EDUCATION = ("9. 従業者に対する教育・啓発", "education", "従業者に対する教育・啓発")
DEFAULT_ANSWER = "十分である"
DEFAULT_EDUCATION = "十分に行っている"


def yes_no(value: bool | None, yes: str, no: str) -> str | None:
    return None if value is None else (yes if value else no)


class BasicForm(Form):
    kind = "basic"

    def build(self) -> None:
        spec = self.spec
        self.cover("basic", [])
        self.related_information()
        # Ⅱ–Ⅲ and Ⅳ each start a page, as the form's print areas do.
        self.sheet.new_page()
        self.section(2, "しきい値判断項目")
        self.subheading("1. 対象人数")
        self.choice("評価対象の事務の対象人数は何人か",
                    SUBJECT_COUNT_TEXT.get(spec.get("subject_count"), spec.get("subject_count")),
                    SUBJECT_COUNT_TEXT.values(), mark="subject_count_band")
        self.sheet.mark("subject_count_as_of")
        self.field("いつ時点の計数か", f"{self.date(spec.get('subject_count_as_of'))} 時点")
        self.subheading("2. 取扱者数")
        self.choice("特定個人情報ファイル取扱者数は500人以上か",
                    yes_no(spec.get("handlers_500_or_more"), *HANDLERS_500_OR_MORE_TEXT), HANDLERS_500_OR_MORE_TEXT,
                    mark="handler_count_500_or_more")
        self.field("いつ時点の計数か", f"{self.date(spec.get('subject_count_as_of'))} 時点")
        self.subheading("3. 重大事故")
        self.choice("過去1年以内に、評価実施機関において特定個人情報に関する重大事故が発生したか",
                    yes_no(spec.get("serious_incident_past_year"), *INCIDENT_TEXT), INCIDENT_TEXT,
                    mark="serious_incident_past_year")
        self.section(3, "しきい値判断結果")
        self.sheet.mark("threshold_result")
        result = spec.get("threshold_result")
        text = threshold_result_text(result, False, "basic") if result else ""
        if "selection_in_label_row" in self.quirks:
            self.sheet.row([Cell("しきい値判断結果", LABEL_WIDTH, grey=True), Cell(f"[ {text} ]", 1 - LABEL_WIDTH)])
        else:
            self.subheading("しきい値判断結果")
            self.sheet.row([Cell(text, 1.0)])
        self.sheet.new_page()
        self.risk_measures()
        self.sheet.new_page()
        self.changes("変更箇所")

    def related_information(self) -> None:
        spec = self.spec
        self.section(1, "関連情報")
        self.subheading("1. 特定個人情報ファイルを取り扱う事務")
        self.sheet.mark("business_name")
        self.field("①事務の名称", spec["business_name"])
        self.field("②事務の概要", spec.get("business_description"))
        self.field("③システムの名称", "\n".join(s["name"] for s in spec.get("systems") or []))
        self.subheading("2. 特定個人情報ファイル名")
        self.sheet.row([Cell("\n".join(spec.get("file_names") or []), 1.0)])
        self.subheading("3. 個人番号の利用")
        self.field("法令上の根拠", spec.get("legal_basis"))
        self.subheading("4. 情報提供ネットワークシステムによる情報連携")
        self.choice("①実施の有無", spec.get("network_linkage", "実施する"), ("実施する", "実施しない", "未定"))
        self.field("②法令上の根拠", spec.get("network_basis"))
        self.subheading("5. 評価実施機関における担当部署")
        self.field("①部署", spec.get("department"))
        self.field("②所属長の役職名", spec.get("department_head"))
        self.subheading("6. 他の評価実施機関")
        self.sheet.row([Cell(spec.get("other_bodies") or "", 1.0)])
        self.subheading("7. 特定個人情報の開示・訂正・利用停止請求")
        self.field("請求先", spec.get("disclosure_contact"))
        self.subheading("8. 特定個人情報ファイルの取扱いに関する問合せ")
        self.field("連絡先", spec.get("inquiry_contact"))

    def risk_measures(self) -> None:
        spec = self.spec
        answers = spec.get("risk_answers") or {}
        self.section(4, "リスク対策")
        self.subheading("1. 提出する特定個人情報保護評価書の種類")
        submitted = tuple(spec.get("submitted_kinds") or ())
        self.choice("提出する特定個人情報保護評価書の種類", SUBMITTED_KINDS_TEXT.get(submitted),
                    SUBMITTED_KINDS_TEXT.values())
        self.sheet.row([Cell("2)又は3)を選択した評価実施機関については、それぞれ重点項目評価書又は全項目評価書において、"
                             "リスク対策の詳細が記載されている。", 1.0)])
        not_done = spec.get("not_done") or ()
        for heading, questions in RISK_SECTIONS:
            self.subheading(heading + NOT_DONE_BOXES.get(heading[0], lambda nd: "")(not_done))
            for key, question in questions:
                self.risk(heading, question, answers.get(key, DEFAULT_ANSWER), RISK_ANSWERS)
        self.subheading("8. 監査")
        self.checkboxes("実施の有無", ("自己点検", "内部監査", "外部監査"),
                        spec.get("audits", ("自己点検", "内部監査")))
        heading, key, question = EDUCATION
        self.subheading(heading)
        self.risk(heading, question, answers.get(key, DEFAULT_EDUCATION), EDUCATION_ANSWERS)

"""Inputs that are not readable assessments, for the error paths of download and parse.

truncated.pdf (a real assessment cut off mid-stream), encrypted.pdf (user password), empty.pdf
(zero bytes), html-error-page.pdf (a CMS error page saved under a .pdf name), minutes.pdf (a
real PDF of council minutes — readable, but not an assessment) and large.pdf (an assessment of
300+ pages for memory and time limits; it takes seconds to render, so it is not committed but
written by ``python -m demo.corpus`` or on demand by ``ensure_large_pdf``).
"""

from __future__ import annotations

import copy
import io
from pathlib import Path

from reportlab.lib.pagesizes import A4
from reportlab.lib.pdfencrypt import StandardEncryption
from reportlab.pdfgen import canvas

from demo.corpus.documents import BROKEN_DIR, SPEC_DIR, lay_out, load_spec, render
from demo.corpus.render import GOTHIC, MINCHO, Sheet, Style, draw

TRUNCATE_SOURCE = "271403-sakai-01-basic"
LARGE_SOURCE = "271403-sakai-01-full"
LARGE_MIN_PAGES = 310
ENCRYPTED_USER_PASSWORD = "piawatch-demo"

HTML_ERROR_PAGE = """<!DOCTYPE html>
<html lang="ja">
<head><meta charset="UTF-8"><title>ページが見つかりません｜北九州市</title></head>
<body>
<header><a href="/kitakyushu/">北九州市</a></header>
<main>
<h1>お探しのページは見つかりませんでした（404 Not Found）</h1>
<p>お探しのページは、移動または削除された可能性があります。</p>
<p>特定個人情報保護評価書の一覧は<a href="/kitakyushu/pia/">こちら</a>からご覧ください。</p>
</main>
<footer>Copyright &copy; City of Kitakyushu All Rights Reserved.</footer>
</body>
</html>
"""

MINUTES = (
    ("令和6年度 第2回 豊橋市個人情報保護審議会 会議録", GOTHIC, 13.0),
    ("1 日時　令和6年11月14日（木）午後2時00分から午後3時30分まで", MINCHO, 9.5),
    ("2 場所　豊橋市役所東館8階 特別会議室", MINCHO, 9.5),
    ("3 出席者　委員7名（うち会長1名）、事務局（総務部行政課）4名", MINCHO, 9.5),
    ("4 議題", GOTHIC, 10.5),
    ("（1）特定個人情報保護評価書（全項目評価書）の第三者点検について\n（2）個人情報の保護に関する法律施行条例の運用状況について\n（3）その他", MINCHO, 9.5),
    ("5 会議の経過", GOTHIC, 10.5),
    ("会長　ただいまから令和6年度第2回豊橋市個人情報保護審議会を開会します。本日は委員7名全員に出席いただいて"
     "おり、会議は成立しています。議題（1）について事務局から説明をお願いします。", MINCHO, 9.5),
    ("事務局　住民基本台帳に関する事務の全項目評価書（案）について、評価書の概要と、前回の評価からの主な変更点"
     "を説明します。今回の再評価では、マイナポータルを通じた電子申請の開始に伴い、入手方法とリスク対策を見直しました。", MINCHO, 9.5),
    ("委員A　委託先における取扱者数が増えているが、委託先への監査はどのように実施しているのか。", MINCHO, 9.5),
    ("事務局　委託契約書に監査条項を設けており、年1回、実地で確認しています。結果は評価書のⅣ その他のリスク対策に"
     "記載しています。", MINCHO, 9.5),
    ("委員B　住民への周知について、パブリックコメントの期間は何日間を予定しているか。", MINCHO, 9.5),
    ("事務局　30日間を予定しています。市ホームページと各窓口で閲覧できるようにします。", MINCHO, 9.5),
    ("会長　ほかに意見がなければ、議題（1）については、適切であると認めることとしてよろしいか。（異議なし）", MINCHO, 9.5),
    ("会長　議題（2）について、事務局から報告をお願いします。", MINCHO, 9.5),
    ("事務局　令和5年度の保有個人情報の開示請求は412件、訂正請求は3件、利用停止請求は0件でした。", MINCHO, 9.5),
    ("会長　以上で本日の議題はすべて終了しました。これをもちまして閉会します。", MINCHO, 9.5),
)


def truncated_pdf() -> bytes:
    """A real assessment cut off after 40% of its bytes, as an interrupted download leaves it."""
    whole = render(load_spec(SPEC_DIR / f"{TRUNCATE_SOURCE}.yaml"))
    return whole[: len(whole) * 2 // 5]


def encrypted_pdf() -> bytes:
    """A one-page cover that only opens with a user password."""
    buffer = io.BytesIO()
    encryption = StandardEncryption(ENCRYPTED_USER_PASSWORD, ownerPassword=ENCRYPTED_USER_PASSWORD + "-owner",
                                    canPrint=1, canModify=0, canCopy=0, strength=128)
    pdf = canvas.Canvas(buffer, pagesize=A4, invariant=1, encrypt=encryption)
    pdf.setFont(GOTHIC, 15)
    pdf.drawCentredString(A4[0] / 2, A4[1] - 90, "特定個人情報保護評価書（基礎項目評価書）")
    pdf.setFont(MINCHO, 10)
    pdf.drawString(60, A4[1] - 140, "評価書番号 12　介護保険に関する事務　基礎項目評価書")
    pdf.drawString(60, A4[1] - 160, "評価実施機関名　北九州市長")
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def minutes_pdf() -> bytes:
    sheet = Sheet(header_left="豊橋市個人情報保護審議会", header_right="会議録")
    for text, font, size in MINUTES:
        sheet.text(text, font, size, center=size > 12)
        sheet.spacer(4)
    return draw(sheet, Style(), title="令和6年度第2回豊橋市個人情報保護審議会 会議録", author="豊橋市")


def large_spec() -> dict:
    """The Sakai full assessment with its provision list repeated until it passes 300 pages."""
    spec = copy.deepcopy(load_spec(SPEC_DIR / f"{LARGE_SOURCE}.yaml"))
    spec["id"] = "271403-sakai-large-full"
    provisions = spec["files"][0]["provisions"]
    base = copy.deepcopy(provisions)
    pages = lay_out(spec).pages
    provisions.extend(copy.deepcopy(base))
    per_copy = lay_out(spec).pages - pages
    # one estimate from the page cost of a copy, then top up (rows near page ends vary a little)
    provisions.extend(copy.deepcopy(base) * max(0, -(-(LARGE_MIN_PAGES - pages) // per_copy) - 1))
    while lay_out(spec).pages < LARGE_MIN_PAGES:
        provisions.extend(copy.deepcopy(base))
    return spec


def broken_files() -> dict[str, bytes]:
    """The broken inputs by file name, except large.pdf (see ``large_pdf``: it takes seconds)."""
    return {
        "truncated.pdf": truncated_pdf(),
        "encrypted.pdf": encrypted_pdf(),
        "empty.pdf": b"",
        "html-error-page.pdf": HTML_ERROR_PAGE.encode("utf-8"),
        "minutes.pdf": minutes_pdf(),
    }


def large_pdf() -> bytes:
    return render(large_spec())


def ensure_large_pdf() -> Path:
    """``broken/large.pdf``, rendered first if it is not there yet."""
    path = BROKEN_DIR / "large.pdf"
    if not path.exists():
        path.write_bytes(large_pdf())
    return path


def write_broken() -> list[Path]:
    BROKEN_DIR.mkdir(exist_ok=True)
    written = []
    for name, data in {**broken_files(), "large.pdf": large_pdf()}.items():
        (BROKEN_DIR / name).write_bytes(data)
        written.append(BROKEN_DIR / name)
    return written

"""The overview's charts: Vega-Lite specs made with Altair, rendered to static SVG at build time.

vl-convert bundles Vega, so rendering needs no network and the SVG loads nothing: the page shows
it as an image, with the same numbers in a table beside it for screen readers.
"""

from __future__ import annotations

import altair as alt
import pandas as pd
import vl_convert

FONT = "IPAexGothic, IPAGothic, 'Noto Sans CJK JP', sans-serif"
KIND_COLORS = {"基礎項目評価書": "#4c78a8", "重点項目評価書": "#f58518", "全項目評価書": "#54a24b"}
SEVERITY_COLORS = {"エラー": "#c0392b", "警告": "#e6a100", "情報": "#7f8c8d"}
MAX_CITIES = 30  # a bar per city stays legible up to about this many


def _config(chart: alt.Chart) -> dict:
    return chart.configure(font=FONT).configure_axis(labelFontSize=12, titleFontSize=12).configure_legend(
        labelFontSize=12, titleFontSize=12, orient="bottom").to_dict()


def publications_by_kind(points: list[dict]) -> dict:
    """``points``: {year, kind, count}: latest versions by the year of their 公表日."""
    frame = pd.DataFrame(points, columns=["year", "kind", "count"])
    chart = alt.Chart(frame, title="公表年ごとの評価書数（最新版、種類別）").mark_bar().encode(
        x=alt.X("year:O", title="公表年"),
        y=alt.Y("count:Q", title="評価書数"),
        color=alt.Color("kind:N", title="種類", scale=alt.Scale(domain=list(KIND_COLORS), range=list(KIND_COLORS.values()))),
        xOffset=alt.XOffset("kind:N", sort=list(KIND_COLORS)),
    ).properties(width=560, height=240)
    return _config(chart)


def problems_by_city(points: list[dict]) -> dict:
    """``points``: {city, severity, count}: open findings, the cities with the most first."""
    frame = pd.DataFrame(points, columns=["city", "severity", "count"])
    order = frame.groupby("city", sort=False)["count"].sum().sort_values(ascending=False).index.tolist()
    chart = alt.Chart(frame, title="未解決の問題（自治体別）").mark_bar().encode(
        y=alt.Y("city:N", title=None, sort=order),
        x=alt.X("count:Q", title="件数"),
        color=alt.Color("severity:N", title="重大度",
                        scale=alt.Scale(domain=list(SEVERITY_COLORS), range=list(SEVERITY_COLORS.values()))),
        order=alt.Order("severity:N"),
    ).properties(width=480, height=max(60, 22 * len(order)))
    return _config(chart)


def required_vs_published(points: list[dict]) -> dict:
    """``points``: {city, kind, measure, count}: measure 必要 (own threshold results) or 公表."""
    frame = pd.DataFrame(points, columns=["city", "kind", "measure", "count"])
    cities = list(dict.fromkeys(frame["city"]))
    chart = alt.Chart(frame).mark_bar().encode(
        y=alt.Y("city:N", title=None, sort=cities),
        yOffset=alt.YOffset("measure:N", sort=["必要", "公表"]),
        x=alt.X("count:Q", title="評価書数"),
        color=alt.Color("measure:N", title="", sort=["必要", "公表"],
                        scale=alt.Scale(domain=["必要", "公表"], range=["#9e9e9e", "#54a24b"])),
    ).properties(width=240, height=max(60, 30 * len(cities))).facet(
        column=alt.Column("kind:N", title=None, sort=["重点項目評価書", "全項目評価書"]),
        title="しきい値判断結果が求める評価書と公表済みの評価書（自治体別）",
    )
    return _config(chart)


def render_svg(spec: dict) -> str:
    return vl_convert.vegalite_to_svg(spec)

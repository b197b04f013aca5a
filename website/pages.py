"""The site's pages as plain data: one context per page, built from ``SiteData``.

Each function returns ``{path: context}``; the renderer turns a context into HTML only when its
content hash changed (``website.render``). So a context holds what its page shows and nothing
that moves on every run (run ids, timestamps of a crawl that found nothing new), except where the
page is about that (the overview's last run, a city's last successful crawl).
"""

from __future__ import annotations

import json
import os
from collections import Counter, defaultdict
from pathlib import Path

from ground.schema import FIELDS, KINDS
from quality.rules import RULES
from quality.threshold import KIND_REQUIRED_BY_RESULT, KIND_WEIGHT
from website.labels import (FAMILY_LABELS, FIELD_LABELS, FILE_SUBJECT_LABELS, RULE_TEXTS, SEVERITY_LABELS,
                            SEVERITY_ORDER, TIMING_LABELS, evidence_rows, kind_label, printed,
                            rule_title)

# Fields shown in the document page's table of fields; lists of objects get tables of their own.
_TABLE_FIELDS = [f for f in FIELDS if f.name not in ("files", "changes", "risk_answers", "source")]
RECENT_LIMIT = 50  # rows in the overview's "new since the previous run" lists
# Findings listed on a rule's page; beyond that the page links to the search page filtered by the
# rule, which lists every flagged document (a country-wide rule can flag tens of thousands).
RULE_PAGE_LIMIT = 1000


def chain_key(row: dict) -> tuple:
    """One assessment across its versions: city, kind and 評価書番号 (or the version itself)."""
    number = row.get("assessment_number")
    return (row["city_code"], row["kind"], number if number is not None else "sha256:" + row["sha256"])


def doc_slug(row: dict, city_slug: str | None) -> str:
    """``232017-toyohashi-02-basic``: the corpus's own naming, stable across versions."""
    number = row.get("assessment_number")
    part = f"{number:02d}" if number is not None else row["sha256"][:12]
    return "-".join(p for p in (row["city_code"], city_slug, part, row["kind"] or "unknown") if p)


def raw_prefix(raw_dir: Path, out_dir: Path) -> str:
    """The stored PDFs' folder relative to the site's root (the site and raw/ share the data root)."""
    return Path(os.path.relpath(raw_dir, out_dir)).as_posix()


def raw_pdf(prefix: str, sha256: str) -> str:
    """A stored PDF (raw/<sha[:2]>/<sha>.pdf), relative to the site's root."""
    return f"{prefix}/{sha256[:2]}/{sha256}.pdf"


def finding_pages(finding: dict) -> list[int]:
    """The pages the disagreeing values are printed on (findings.pages when the warehouse has it)."""
    pages = finding.get("pages")
    if pages is None:
        pages = ((finding.get("evidence") or {}).get("pages") or {}).values()
    return sorted({int(p) for p in pages if isinstance(p, int) or str(p).isdigit()})


def _values(finding: dict) -> list[dict]:
    evidence = finding.get("evidence") or {}
    return evidence_rows(evidence.get("values") or {}, evidence.get("pages") or {})


class Site:
    """Indexes over ``SiteData`` that several pages share."""

    def __init__(self, data, raw_dir: Path, out_dir: Path):
        self.data = data
        self.raw = raw_prefix(raw_dir, out_dir)
        self.data_root = raw_prefix(raw_dir.parent, out_dir)  # latest_assessments.raw_path is relative to it
        self._finding_items: dict[str, dict] = {}
        self.cities = {c["city_code"]: c for c in data.cities}
        self.latest_run = data.runs[-1] if data.runs else None
        self.previous_run = data.runs[-2] if len(data.runs) > 1 else None
        self.versions = defaultdict(list)
        for v in data.versions:
            self.versions[chain_key(v)].append(v)
        self.diffs = defaultdict(list)
        for d in data.diffs:
            self.diffs[(d["city_code"], d["kind"], d["assessment_number"])].append(d)
        self.findings_by_sha = defaultdict(list)
        for f in data.findings:
            self.findings_by_sha[(f["sha256"], f["city_code"])].append(f)
        self.docs = []
        for row in data.latest:
            city = self.cities.get(row["city_code"], {})
            self.docs.append({**row, "slug": doc_slug(row, city.get("slug")), "city_name": city.get("name") or row["city_code"]})
        self.doc_by_chain = {chain_key(d): d for d in self.docs}
        self.doc_by_sha = {}
        for key, versions in self.versions.items():
            if key in self.doc_by_chain:
                for v in versions:
                    self.doc_by_sha[(v["sha256"], v["city_code"])] = self.doc_by_chain[key]
        self.open_findings = [f for f in data.findings if f["is_open"]]
        self.open_findings_by_rule = defaultdict(list)
        for f in self.open_findings:
            self.open_findings_by_rule[f["rule"]].append(f)
        self.docs_by_city = defaultdict(list)
        for d in self.docs:
            self.docs_by_city[d["city_code"]].append(d)
        self.versions_by_city = defaultdict(list)
        for v in data.versions:
            self.versions_by_city[v["city_code"]].append(v)

    def city_name(self, code: str) -> str:
        return (self.cities.get(code) or {}).get("name") or code

    def doc_link(self, sha256: str, city_code: str) -> str | None:
        doc = self.doc_by_sha.get((sha256, city_code))
        return f"doc/{doc['slug']}.html" if doc else None

    def finding_item(self, f: dict) -> dict:
        """A finding as every page lists it: one sentence, its values and pages, links."""
        if f["finding_id"] not in self._finding_items:
            self._finding_items[f["finding_id"]] = self._finding_item(f)
        return self._finding_items[f["finding_id"]]

    def _finding_item(self, f: dict) -> dict:
        pages = finding_pages(f)
        return {
            "rule": f["rule"], "rule_title": rule_title(f["rule"]), "severity": f["severity"],
            "severity_label": SEVERITY_LABELS.get(f["severity"], f["severity"]),
            "message": f["message"], "disagreeing": _values(f), "pages": pages,
            "pdf": raw_pdf(self.raw, f["sha256"]) + (f"#page={pages[0]}" if pages else ""),
            "source": f.get("url") or f.get("source"),
            # open_findings.page_url (migration 030): the document's latest URL at the evidence's page
            "source_page": f.get("page_url") or (f.get("url") or f.get("source") or "") + (f"#page={pages[0]}" if pages else ""),
            "dismissed": bool(f.get("dismissed")),
            "city_code": f["city_code"], "city_name": self.city_name(f["city_code"]),
            "assessment_number": f.get("assessment_number"), "title": f.get("title"),
            "doc": self.doc_link(f["sha256"], f["city_code"]), "first_seen_run": f.get("first_seen_run"),
            "is_open": f["is_open"],
        }

    # The kinds a city's own basic documents require (their しきい値判断結果) against what it publishes.
    def required_and_published(self, city_code: str) -> list[dict]:
        rows = []
        docs = [d for d in self.docs_by_city[city_code] if d.get("currently_linked", True)]
        numbers = sorted({d["assessment_number"] for d in docs if d["assessment_number"] is not None})
        for number in numbers:
            of_number = [d for d in docs if d["assessment_number"] == number]
            basic = next((d for d in of_number if d["kind"] == "basic"), None)
            required = KIND_REQUIRED_BY_RESULT.get(basic.get("threshold_result")) if basic else None
            published = sorted({d["kind"] for d in of_number}, key=KINDS.index)
            rows.append({"number": number, "business": next((d.get("business_name") or d.get("title") for d in of_number), None),
                         "result": printed("threshold_result", basic.get("threshold_result")) if basic else None,
                         "required": kind_label(required) if required else None,
                         "required_kind": required,
                         "published": [kind_label(k) for k in published],
                         "ended": any(d.get("ended_on") for d in of_number),
                         "ok": required is None or any(_weight(k) >= _weight(required) for k in published if k != "basic")})
        return rows


def _weight(kind: str) -> int:
    return KIND_WEIGHT.get(kind, 0)


def _severity_sorted(items: list[dict]) -> list[dict]:
    return sorted(items, key=lambda f: (SEVERITY_ORDER.get(f["severity"], 9), f["city_code"],
                                        f["assessment_number"] if f["assessment_number"] is not None else 1 << 30, f["rule"]))


def document_pages(site: Site):
    """(path, context) of each document page, one at a time (there can be tens of thousands)."""
    for doc in site.docs:
        key = chain_key(doc)
        versions = site.versions.get(key, [])
        pages_of = (doc.get("source") or {}).get("field_pages") or {}
        pdf = f"{site.data_root}/{doc['raw_path']}" if doc.get("raw_path") else raw_pdf(site.raw, doc["sha256"])
        source_url = doc.get("last_url") or doc.get("url")
        fields = []
        for f in _TABLE_FIELDS:
            if doc.get("kind") not in f.kinds:
                continue
            value = doc.get(f.name)
            page = pages_of.get(f.name)
            fields.append({"name": f.name, "label": f.label, "printed": printed(f.name, value),
                           "typed": value, "page": page,
                           "pdf": f"{pdf}#page={page}" if page else None,
                           "unread": f.name in ((doc.get("source") or {}).get("unread_fields") or [])})
        history = []
        diffs = site.diffs.get((doc["city_code"], doc["kind"], doc.get("assessment_number")), [])
        for i, v in enumerate(versions, start=1):
            history.append({
                "version": i, "sha256": v["sha256"], "published_on": v.get("published_on"),
                "first_seen_at": (v.get("first_seen_at") or "")[:10], "pages": v.get("pages"),
                "pdf": raw_pdf(site.raw, v["sha256"]), "url": v.get("url"),
                "changes": [version_change(d) for d in diffs if d["new_sha256"] == v["sha256"]],
            })
        findings = [site.finding_item(f) for v in versions for f in site.findings_by_sha.get((v["sha256"], v["city_code"]), [])]
        yield f"doc/{doc['slug']}.html", {
            "page_title": f"{doc['city_name']} 評価書番号{doc.get('assessment_number') or '不明'} {kind_label(doc['kind'])}",
            "doc": {"slug": doc["slug"], "title": doc.get("title"), "kind": kind_label(doc["kind"]),
                    "number": doc.get("assessment_number"), "city_code": doc["city_code"],
                    "city_name": doc["city_name"], "sha256": doc["sha256"], "pages": doc.get("pages"),
                    "bytes": doc.get("bytes"), "pdf": pdf, "source_url": source_url,
                    "currently_linked": doc.get("currently_linked"), "parser_version": doc.get("parser_version"),
                    "first_seen_at": (doc.get("first_seen_at") or "")[:10]},
            "fields": fields,
            "files": [{"name": x.get("name"), "band": FILE_SUBJECT_LABELS.get(x.get("subject_band"), x.get("subject_band")),
                       "items": x.get("record_items_count"), "held_since": printed("held_since", x.get("held_since")),
                       "outsourcing": len(x.get("outsourcing") or [])} for x in doc.get("files") or []],
            "files_page": pages_of.get("files"),
            "changes": [{"date": printed("date", c.get("date")), "item": c.get("item"), "before": c.get("before"),
                         "after": c.get("after"), "timing": TIMING_LABELS.get(c.get("timing"), c.get("timing")),
                         "note": c.get("note")} for c in doc.get("changes") or []],
            "changes_page": pages_of.get("changes"),
            "risks": [{"section": r.get("section"), "question": r.get("question"), "answer": r.get("answer"),
                       "page": r.get("page"), "open": r.get("answer") == "課題が残されている"}
                      for r in doc.get("risk_answers") or []],
            "open_findings": _severity_sorted([f for f in findings if f["is_open"]]),
            "resolved_findings": _severity_sorted([f for f in findings if not f["is_open"]]),
            "history": list(reversed(history)),
        }


_LIST_FIELDS = ("files", "changes", "risk_answers")


def _diff_text(field: str, text: str | None) -> str | None:
    if text is None:
        return None
    if field == "submitted_kinds":
        return printed(field, [k.strip() for k in text.strip("[]").split(",") if k.strip()])
    return printed(field, text) or text


def _list_items(text: str | None) -> list[str]:
    """A list field's rows as one line each (the diff view stores them as JSON text)."""
    try:
        items = json.loads(text) if text else []
    except ValueError:
        return [text]
    return [" ".join(str(v) for k, v in item.items() if v is not None and k != "page") if isinstance(item, dict)
            else str(item) for item in items or []]


def version_change(d: dict) -> dict:
    """One changed field between two versions: the values, or for a list the rows dropped and added."""
    field = d["field"]
    row = {"label": FIELD_LABELS.get(field, field), "field": field, "counts": None}
    if field in _LIST_FIELDS:
        old, new = _list_items(d["old_value"]), _list_items(d["new_value"])
        row["removed"] = [x for x in old if x not in new]
        row["added"] = [x for x in new if x not in old]
        row["counts"] = (len(old), len(new))
    else:
        row["old"], row["new"] = _diff_text(field, d["old_value"]), _diff_text(field, d["new_value"])
    return row


def city_pages(site: Site):
    health = {s["city_code"]: s for s in site.data.sources}
    failures = defaultdict(list)
    for x in site.data.failures:
        failures[x["city_code"]].append(x)
    findings = defaultdict(list)
    for f in site.data.findings:
        findings[f["city_code"]].append(f)
    for city in site.data.cities:
        code = city["city_code"]
        mine = sorted(site.docs_by_city[code], key=lambda d: (d.get("published_on") or "", d.get("assessment_number") or 0), reverse=True)
        open_failures = [x for x in failures[code] if _failure_open(x)]
        timeline = sorted(({"date": v.get("first_seen_at", "")[:10] if v.get("first_seen_at") else None,
                            "published_on": printed("published_on", v.get("published_on")),
                            "title": v.get("title"), "kind": kind_label(v["kind"]), "number": v.get("assessment_number"),
                            "doc": site.doc_link(v["sha256"], v["city_code"])}
                           for v in site.versions_by_city[code]),
                          key=lambda t: (t["date"] or "", t["number"] or 0), reverse=True)
        items = [site.finding_item(f) for f in findings[code]]
        yield f"city/{code}.html", {
            "page_title": f"{city.get('name') or code}（{city.get('prefecture') or ''}）",
            "city": {"code": code, "name": city.get("name") or code, "prefecture": city.get("prefecture"),
                     "urls": city.get("urls") or [], "demo": city.get("demo")},
            "documents": [{"slug": d["slug"], "kind": kind_label(d["kind"]), "number": d.get("assessment_number"),
                           "title": d.get("title"), "published_on": printed("published_on", d.get("published_on")),
                           "published_iso": d.get("published_on"),
                           "band": printed("subject_count_band", d.get("subject_count_band")),
                           "handlers": printed("handler_count_500_or_more", d.get("handler_count_500_or_more")),
                           "incident": printed("serious_incident_past_year", d.get("serious_incident_past_year")),
                           "result": printed("threshold_result", d.get("threshold_result")),
                           "versions": d.get("versions"), "linked": d.get("currently_linked"),
                           "open": sum(1 for f in site.findings_by_sha.get((d["sha256"], code), []) if f["is_open"])}
                          for d in mine],
            "required": site.required_and_published(code),
            "open_findings": _severity_sorted([f for f in items if f["is_open"]]),
            "resolved_findings": _severity_sorted([f for f in items if not f["is_open"]]),
            "health": {"pages": (health.get(code) or {}).get("pages") or 0,
                       "last_success": ((health.get(code) or {}).get("last_success") or "")[:10] or None,
                       "failures": [{"stage": x["stage"], "code": x["code"], "url": x.get("url"), "reason": x.get("reason"),
                                     "since": x.get("first_seen_run")} for x in open_failures]},
            "timeline": timeline,
        }


def _failure_open(failure: dict) -> bool:
    if failure.get("status") is not None:  # failures.status (migration 030): open / resolved / gone
        return failure["status"] == "open"
    return not failure.get("resolved")


def rule_pages(site: Site):
    for rule in RULES.values():
        title, checks, citation = RULE_TEXTS[rule.id]
        flagged = _severity_sorted([site.finding_item(f) for f in site.open_findings_by_rule.get(rule.id, [])])
        yield f"rule/{rule.id}.html", {
            "page_title": f"ルール {rule.id}", "rule": {"id": rule.id, "title": title, "checks": checks,
                                                       "citation": citation, "family": FAMILY_LABELS.get(rule.family, rule.family),
                                                       "severity": SEVERITY_LABELS[rule.severity]},
            "findings": flagged[:RULE_PAGE_LIMIT], "total": len(flagged),
        }


def rules_index(site: Site) -> dict:
    counts = Counter(f["rule"] for f in site.open_findings)
    return {"page_title": "ルール一覧", "rules": [
        {"id": r.id, "title": RULE_TEXTS[r.id][0], "family": FAMILY_LABELS.get(r.family, r.family),
         "severity": SEVERITY_LABELS[r.severity], "open": counts.get(r.id, 0)} for r in RULES.values()]}


def search_index(site: Site) -> dict:
    """What the search page filters, in a compact form: one array per document."""
    rules = defaultdict(set)
    for f in site.open_findings:
        doc = site.doc_by_sha.get((f["sha256"], f["city_code"]))
        if doc:
            rules[doc["slug"]].add(f["rule"])
    cities = sorted(({"code": c["city_code"], "name": c.get("name") or c["city_code"], "prefecture": c.get("prefecture") or ""}
                     for c in site.data.cities), key=lambda c: c["code"])
    return {
        "columns": ["slug", "city_code", "kind", "number", "title", "published_on", "rules"],
        "docs": [[d["slug"], d["city_code"], d["kind"], d.get("assessment_number"), d.get("title") or "",
                  d.get("published_on") or "", sorted(rules.get(d["slug"], ()))] for d in site.docs],
        "cities": {c["code"]: [c["name"], c["prefecture"]] for c in cities},
    }


def search_page(site: Site) -> dict:
    cities = sorted(site.data.cities, key=lambda c: (c.get("prefecture") or "", c["city_code"]))
    return {"page_title": "評価書を探す",
            "cities": [{"code": c["city_code"], "name": c.get("name") or c["city_code"]} for c in cities],
            "prefectures": sorted({c.get("prefecture") for c in cities if c.get("prefecture")}),
            "kinds": [{"id": k, "label": kind_label(k)} for k in KINDS],
            "rules": [{"id": r.id, "title": RULE_TEXTS[r.id][0]} for r in RULES.values()]}


def overview(site: Site, data_docs: str | None) -> dict:
    latest_run = site.latest_run or {}
    previous_run_id = (site.previous_run or {}).get("run_id")
    run_id = latest_run.get("run_id")
    kinds = Counter(d["kind"] for d in site.docs if d.get("currently_linked", True))
    by_family = Counter((f["family"], f["severity"]) for f in site.open_findings)
    new_docs = [d for d in site.docs if run_id and d.get("first_seen_run") == run_id and previous_run_id]
    new_findings = [site.finding_item(f) for f in site.open_findings
                    if run_id and f.get("first_seen_run") == run_id and previous_run_id]
    resolved = [site.finding_item(f) for f in site.data.findings
                if not f["is_open"] and previous_run_id and f.get("last_seen_run") == previous_run_id]
    run_failures = [x for x in site.data.failures if run_id and x.get("last_seen_run") == run_id and _failure_open(x)]
    open_by_city = Counter(f["city_code"] for f in site.open_findings)
    return {
        "page_title": "概要",
        "totals": {"cities": len(site.data.cities), "documents": len(site.docs),
                   "versions": len(site.data.versions), "open_findings": len(site.open_findings),
                   "kinds": [{"label": kind_label(k), "count": kinds.get(k, 0)} for k in KINDS]},
        "families": [{"family": fam, "label": FAMILY_LABELS[fam],
                      "counts": [by_family.get((fam, s), 0) for s in SEVERITY_LABELS]}
                     for fam in FAMILY_LABELS],
        "severities": list(SEVERITY_LABELS.values()),
        "run": {"id": run_id, "status": latest_run.get("status"), "started_at": latest_run.get("started_at"),
                "finished_at": latest_run.get("finished_at"), "previous": previous_run_id,
                "documents_new": latest_run.get("documents_new"), "fetch_failures": latest_run.get("fetch_failures"),
                "parse_failures": latest_run.get("parse_failures")},
        "failures": [{"city": site.city_name(x["city_code"]), "city_code": x["city_code"], "stage": x["stage"],
                      "code": x["code"], "url": x.get("url"), "reason": x.get("reason")} for x in run_failures],
        "new_docs": [{"slug": d["slug"], "city": d["city_name"], "kind": kind_label(d["kind"]),
                      "number": d.get("assessment_number"), "title": d.get("title")} for d in new_docs[:RECENT_LIMIT]],
        "new_docs_total": len(new_docs),
        "new_findings": _severity_sorted(new_findings)[:RECENT_LIMIT], "new_findings_total": len(new_findings),
        "resolved": resolved[:RECENT_LIMIT], "resolved_total": len(resolved),
        "cities": [{"code": c["city_code"], "name": c.get("name") or c["city_code"], "prefecture": c.get("prefecture"),
                    "documents": sum(c.get(f"{k}_documents") or 0 for k in KINDS),
                    "open": open_by_city.get(c["city_code"], 0), "failures": c.get("open_failures") or 0,
                    "newest": printed("published_on", c.get("newest_published_on"))}
                   for c in sorted(site.data.cities, key=lambda c: c["city_code"])],
        "data_docs": data_docs,
    }


def chart_points(site: Site) -> dict[str, list[dict]]:
    """The numbers behind each chart (also shown as tables on the overview)."""
    by_year = Counter((str(d["published_on"])[:4], kind_label(d["kind"])) for d in site.docs if d.get("published_on"))
    publications = [{"year": y, "kind": k, "count": n} for (y, k), n in sorted(by_year.items())]
    per_city = Counter((f["city_code"], f["severity"]) for f in site.open_findings)
    totals = Counter(f["city_code"] for f in site.open_findings)
    top = [code for code, _ in sorted(totals.items(), key=lambda t: (-t[1], t[0]))[:30]]
    problems = [{"city": site.city_name(code), "severity": SEVERITY_LABELS[s], "count": per_city[(code, s)]}
                for code in top for s in SEVERITY_LABELS if per_city.get((code, s))]
    needs = []
    for city in site.data.cities:
        rows = site.required_and_published(city["city_code"])
        for kind in ("focused", "full"):
            required = sum(1 for r in rows if r["required_kind"] == kind and not r["ended"])
            published = sum(1 for d in site.docs_by_city[city["city_code"]] if d["kind"] == kind
                            and d.get("currently_linked", True))
            if required or published:
                needs.append({"city": site.city_name(city["city_code"]), "kind": kind_label(kind),
                              "required": required, "published": published})
    shortfall = Counter()
    for n in needs:
        shortfall[n["city"]] += max(0, n["required"] - n["published"])
    shown = sorted({n["city"] for n in needs}, key=lambda c: (-shortfall[c], c))[:30]
    required = [{"city": n["city"], "kind": n["kind"], "measure": m, "count": n[key]}
                for n in needs if n["city"] in shown for m, key in (("必要", "required"), ("公表", "published"))]
    return {"publications": publications, "problems": problems, "required": required}

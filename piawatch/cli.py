"""The ``piawatch`` command line: a thin layer over the Python API.

Each command does one thing; errors from the API become one-line messages and a non-zero exit.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from ground.errors import PiaWatchError
from ground.settings import DEMO_PORT
from piawatch import __version__

# Each command imports what it uses inside its function: `piawatch --help` or `piawatch cities`
# should not wait seconds for DuckDB, pandas and Great Expectations to import.

EPILOG = """\
examples:
  piawatch parse demo/corpus/pdf/271403-sakai-01-full.pdf
  piawatch check demo/corpus/pdf/232017-toyohashi-*.pdf
  piawatch discover https://www.city.kani.lg.jp/9237.htm --depth 1
  piawatch doctor                what this machine and configuration can do (--send-test)
  piawatch run --demo            crawl, parse, load, check and alert without Airflow
  piawatch report                summary of the last run
  piawatch reparse               after an upgrade: parse the stored PDFs again and load them
  piawatch runs                  the latest runs and how they ended
  piawatch export out/ --format parquet
  piawatch site --serve          build the static site and serve it on 127.0.0.1
  piawatch findings list         the open findings, with the ids alerts show
  piawatch findings dismiss 3f5a09c2 --reason "…"   a false positive: not alerted again
  piawatch migrate               create the warehouse, or bring its schema up to date
  piawatch maintain              merge the lake's small files, expire old snapshots, delete unused files
  piawatch migrate --copy-from data/warehouse/piawatch.duckdb   move a file warehouse into a DuckLake
  piawatch demo run              what `make run` does: the nightly DAG on the demo websites

configuration (environment): PIAWATCH_DATA_DIR (default ./data), PIAWATCH_REGISTRY
(default config/cities.yaml), PIAWATCH_WAREHOUSE (a DuckDB file, default
$PIAWATCH_DATA_DIR/warehouse/piawatch.duckdb, or ducklake:postgres:<libpq settings>),
PIAWATCH_LAKE_DATA_PATH, PIAWATCH_ALERT_WEBHOOK_URL, PIAWATCH_SMTP_URL, PIAWATCH_CONTACT,
PIAWATCH_FAILED_SHARE (default 0.5), PIAWATCH_STALE_RUN_HOURS (default 12). Any other PIAWATCH_*
variable is warned about (`piawatch doctor`).
"""


def _print_json(value) -> None:
    print(json.dumps(value, ensure_ascii=False, indent=2, default=str))


def _print_rows(rows: list, fmt: str, text_line) -> None:
    """JSON for scripts, or one line a row for people."""
    if fmt == "json":
        _print_json(rows)
        return
    for row in rows:
        print(text_line(row))


def cmd_parse(args) -> int:
    from transform.sandbox import parse_pdf_limited

    record = parse_pdf_limited(args.file)  # the pipeline's sandbox: a bomb is one line, not a crash
    if args.format == "json":
        _print_json(record)
    else:
        for key, value in record.items():
            if key not in ("files", "changes", "risk_answers", "source"):
                print(f"{key}: {value}")
        print(f"files: {len(record['files'])}, changes: {len(record['changes'])}, "
              f"risk answers: {len(record['risk_answers'])}, pages: {record['source'].get('pages')}")
    return 0


def cmd_check(args) -> int:
    from quality import check_records
    from transform.sandbox import Sandbox

    records, sources, unreadable = [], [], 0
    with Sandbox() as sandbox:
        for path in args.files:
            try:
                records.append(sandbox.parse(path))
                sources.append(str(path))
            except PiaWatchError as exc:
                unreadable += 1
                print(f"{path}: {exc.reason}", file=sys.stderr)
    findings = check_records(records, sources=sources)
    _print_rows(findings, args.format, lambda f: f"{f['severity']:7} {f['rule']:40} {f['source']}: {f['message']}")
    if args.format == "text":
        print(f"{len(findings)} findings in {len(records)} documents")
    return 1 if unreadable and not records else 0


def cmd_discover(args) -> int:
    from extract.discover import discover_pdf_links
    from ground.settings import load_settings

    links = discover_pdf_links(args.url, depth=args.depth, allow_private=args.allow_private,
                               settings=load_settings())
    _print_rows(links, args.format, lambda link: f"{link['url']}\t{link['link_text']}\t(on {link['found_on']})")
    return 0


def cmd_cities(args) -> int:
    from extract.registry import load_registry
    from ground.settings import load_settings

    cities = load_registry(load_settings().registry_path)
    rows = [{"code": c.code, "slug": c.slug, "name": c.name, "prefecture": c.prefecture,
             "demo": c.demo, "urls": list(c.urls)} for c in cities]
    _print_rows(rows, args.format, lambda r: f"{r['code']}  {r['slug']:14} {r['prefecture']}{r['name']:8} "
                                             f"{'demo' if r['demo'] else '    '}  {' '.join(r['urls'])}")
    return 0


def cmd_run(args) -> int:
    from ground.settings import load_settings
    from piawatch.pipeline import run_all
    from piawatch.progress import Progress, configure_logging

    configure_logging(args.verbosity)
    status, summary = run_all(load_settings(), only=args.city or None, demo=args.demo,
                              progress=Progress(args.verbosity))
    print(summary)
    # A run that ended failed exits 1, so a cron job or a shell script notices.
    return 1 if status == "failed" else 0


def cmd_reparse(args) -> int:
    from ground.settings import load_settings
    from piawatch.pipeline import report_step
    from piawatch.progress import Progress, configure_logging
    from piawatch.reparse import reparse
    from transform.parse import PARSER_VERSION

    configure_logging(args.verbosity)
    settings = load_settings()
    done = reparse(settings, all_versions=args.all, since=args.since, city=args.city,
                   progress=Progress(args.verbosity))
    print(f"parser {PARSER_VERSION}: {done['chosen']} document versions to read again, {done['parsed']} parsed, "
          f"{done['failed']} failed (see the failures table), {done['missing']} without a stored PDF")
    if done["run_id"] is None:
        return 0
    print(report_step(settings, done["run_id"]))
    return 1 if done["status"] == "failed" else 0


def cmd_report(args) -> int:
    from ground.settings import load_settings
    from piawatch.pipeline import report_step
    from piawatch.report import run_facts

    settings = load_settings()
    if args.format == "json":
        _print_json(run_facts(settings, args.run_id))
    else:
        print(report_step(settings, args.run_id))
    return 0


def cmd_runs(args) -> int:
    from ground.settings import load_settings
    from piawatch.report import list_runs, run_line

    _print_rows(list_runs(load_settings(), args.limit), args.format, run_line)
    return 0


def cmd_doctor(args) -> int:
    from ground.settings import load_settings
    from piawatch.doctor import FAIL, as_json, run_checks

    checks = run_checks(load_settings(), send_test=args.send_test)
    if args.format == "json":
        _print_json(as_json(checks))
    else:
        for check in checks:
            print(check.line())
    return 1 if any(c.status == FAIL for c in checks) else 0


def cmd_export(args) -> int:
    from ground.settings import load_settings
    from load.export import export
    from piawatch.report import readable

    for path in export(readable(load_settings().warehouse), Path(args.out_dir), fmt=args.format, bom=args.bom):
        print(path)
    return 0


def cmd_findings_list(args) -> int:
    from alerts.ledger import open_findings
    from ground.settings import load_settings
    from load.export import open_read_only

    with open_read_only(load_settings().warehouse) as con:
        rows = open_findings(con, severity=args.severity)
    _print_rows(rows, args.format, lambda r: f"{r['finding_id'][:12]}  {r['severity']:7} {r['city']} "
                                             f"評価書番号{r['assessment_number']}  {r['rule']}  {r['message']}"
                                             + ("  [dismissed]" if r["dismissed"] else ""))
    return 0


def cmd_findings_dismiss(args) -> int:
    import getpass

    from alerts.ledger import dismiss
    from ground.settings import load_settings
    from load.connection import connect

    with connect(load_settings().warehouse) as con:
        done = dismiss(con, args.finding_id, by=args.by or getpass.getuser(), reason=args.reason)
    print(f"dismissed {done['finding_id']} ({done['rule']}, {done['city_code']} 評価書番号{done['assessment_number']}) "
          f"by {done['dismissed_by']}: {done['reason']}")
    return 0


def cmd_migrate(args) -> int:
    from ground.settings import load_settings
    from load.backend import create_catalog_database
    from load.connection import connect

    warehouse = load_settings().warehouse
    if create_catalog_database(warehouse):
        print(f"created the catalog database of {warehouse}")
    if args.copy_from:
        from load.export import copy_into_lake

        if not warehouse.is_lake:
            raise PiaWatchError("--copy-from copies a DuckDB file into a DuckLake: set PIAWATCH_WAREHOUSE=ducklake:…")
        copy_into_lake(args.copy_from, warehouse)
        print(f"copied {args.copy_from} into {warehouse}")
    with connect(warehouse) as con:
        version, name = con.execute(
            "SELECT version, name FROM schema_version ORDER BY version DESC LIMIT 1").fetchone()
    print(f"{warehouse.backend} warehouse {warehouse} is at schema version {version} ({name})")
    return 0


def cmd_maintain(args) -> int:
    from ground.settings import load_settings
    from load.maintenance import summary
    from piawatch.pipeline import maintain_step

    result = maintain_step(load_settings())
    if args.format == "json":
        _print_json(result)
    else:
        print(summary(result))
    return 0


def cmd_demo_serve(args) -> int:
    from demo.server import serve_forever

    serve_forever(port=args.port, edition=args.edition)
    return 0


def cmd_demo_run(args) -> int:
    from piawatch.demo_run import run_demo

    return run_demo(edition=args.edition, fresh=args.fresh)


def cmd_site(args) -> int:
    from ground.settings import load_settings
    from website.serve import serve

    return serve(load_settings(), open_browser=args.open, serve=args.serve, port=args.port)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="piawatch",
        description="Crawl, parse, store and check the 特定個人情報保護評価書 Japanese cities publish.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"piawatch {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name, func, help_text, description=None):
        p = sub.add_parser(name, help=help_text, description=description or help_text,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        p.set_defaults(func=func)
        return p

    def add_format(p, default="json"):
        p.add_argument("--format", choices=["json", "text"], default=default,
                       help=f"output format (default: {default})")

    p = add("parse", cmd_parse, "parse one assessment PDF and print its record",
            "Parse one PDF into the CONTRACT record (JSON). Exits 1 with a one-line reason when the "
            "file is not a readable assessment (HTML, truncated, encrypted, scanned without OCR, minutes…) "
            "or breaks the parse limits the nightly run uses (PIAWATCH_PARSE_TIMEOUT seconds, default 120; "
            "PIAWATCH_PARSE_MEMORY_MB, default 1024).")
    p.add_argument("file", type=Path, metavar="FILE.pdf")
    add_format(p)

    p = add("check", cmd_check, "parse PDFs and run every data-quality rule on them",
            "Parse the files and run every data-quality rule (required, threshold, dates, procedure, "
            "choice, extraction), including the cross-document ones across the files given. Prints "
            "the findings as a JSON list. Each file is parsed within the same limits as `parse`; a file "
            "that cannot be read is one line on stderr and the others are still checked.")
    p.add_argument("files", type=Path, nargs="+", metavar="FILE.pdf")
    add_format(p)

    p = add("discover", cmd_discover, "list the PDF links reachable from a city's page",
            "Follow links from URL (same scheme, host and port, up to --depth) and print the PDF links found, with "
            "their link text and the page they were found on. Obeys robots.txt and the per-host delay.")
    p.add_argument("url")
    p.add_argument("--depth", type=int, default=2, help="how many links deep to follow (default: 2)")
    p.add_argument("--allow-private", action="store_true",
                   help="permit loopback/private addresses (the demo and tests only)")
    add_format(p)

    p = add("cities", cmd_cities, "validate and list the city registry",
            "Load the registry ($PIAWATCH_REGISTRY, default config/cities.yaml), validate every "
            "entry and list them. A bad entry exits 1 naming the entry and the value.")
    add_format(p, default="text")

    p = add("run", cmd_run, "run the whole nightly job in this process (no Airflow)",
            "Crawl, fetch, parse, load, check and alert, one step after the other, exactly as the "
            "nightly DAG does, then print the run summary.")
    p.add_argument("--city", action="append", metavar="CODE", help="only this 団体コード (repeatable)")
    p.add_argument("--demo", action="store_true",
                   help="the demo cities (serve them first: piawatch demo serve) instead of the real ones")
    loudness = p.add_mutually_exclusive_group()
    loudness.add_argument("-q", "--quiet", dest="verbosity", action="store_const", const=0, default=1,
                          help="no progress: only warnings, errors and the summary")
    loudness.add_argument("-v", "--verbose", dest="verbosity", action="store_const", const=2,
                          help="also every module's log lines (each page and PDF)")

    p = add("reparse", cmd_reparse, "parse the stored PDFs again after a parser upgrade, and load them",
            "Read again, from the raw store (nothing is downloaded), the document versions whose stored "
            "record was made by another parser version than this one, through the same sandbox and "
            "limits as the nightly run; load the new records in one transaction, record parse failures "
            "as the run does, and run the quality checks. Takes the run lock, and is recorded in "
            "`piawatch runs` as reparse__<time>; the next nightly run sends the alerts. Exits 1 if the "
            "run ended failed.")
    choice = p.add_mutually_exclusive_group()
    choice.add_argument("--all", action="store_true",
                        help="every stored version, parsed afresh even if this parser version read it "
                             "(e.g. after installing fonts or OCR)")
    choice.add_argument("--since", metavar="VERSION",
                        help="only versions made by a parser older than VERSION (YYYY.MM.DD-N)")
    p.add_argument("--city", metavar="CODE", help="only the documents of this 団体コード")
    p.add_argument("-q", "--quiet", dest="verbosity", action="store_const", const=0, default=1,
                   help="no progress: only warnings, errors and the summary")

    p = add("report", cmd_report, "print the summary of a run (default: the last one)",
            "Print the summary of a run (default: the last one): its status (success, partial, failed, "
            "and why), counts, findings, alerts and open failures. While a run writes a DuckDB "
            "warehouse, it reads the copy the last finished run published.")
    p.add_argument("--run-id", default=None)
    add_format(p, default="text")

    p = add("runs", cmd_runs, "list the latest runs and how they ended",
            "One line per run, newest first: run id, status (running, success, partial, failed), "
            "start, duration, counts, and why a run failed.")
    p.add_argument("--limit", type=int, default=20, help="how many runs (default: 20)")
    add_format(p, default="text")

    p = add("doctor", cmd_doctor, "check what this machine and configuration can do",
            "Check the environment (unknown PIAWATCH_* variables), the data directory, the registry, the "
            "warehouse (reachable, migrated), every alert channel's configuration, OCR (engine and "
            "Japanese data), the optional programs (fonts, PostgreSQL, Redis, Chromium, LibreOffice) and "
            "the stack's services where a stack is configured. One line each: ok, warn or fail; exits 1 "
            "if any check fails. `piawatch run` runs the same checks before it crawls.")
    p.add_argument("--send-test", action="store_true", help="also send a test message on every alert channel")
    add_format(p, default="text")

    p = add("export", cmd_export, "export every warehouse table and view to Parquet, CSV or Excel",
            "Write one file per table and view of the warehouse to OUT_DIR, for people who do not "
            "use DuckDB. CSV is UTF-8 with a byte-order mark, text quoted (codes keep their leading "
            "zeros), lists as JSON; xlsx has one sheet per file. While a run holds a DuckDB file for "
            "writing, the copy the last finished run published is exported; a DuckLake is exported as "
            "of its latest commit.")
    p.add_argument("out_dir", metavar="OUT_DIR")
    p.add_argument("--format", choices=["parquet", "csv", "xlsx"], default="parquet")
    p.add_argument("--no-bom", dest="bom", action="store_false",
                   help="CSV without the UTF-8 byte-order mark (which Excel needs to read Japanese)")

    p = add("migrate", cmd_migrate, "create the warehouse or bring its schema up to date",
        "Create the warehouse named by $PIAWATCH_WAREHOUSE (a DuckDB file, by default "
        "data/warehouse/piawatch.duckdb, or a ducklake: catalog), apply the migrations it lacks and "
        "re-create the views. For a DuckLake with a PostgreSQL catalog, the catalog database is "
        "created first if missing. The pipeline does this by itself; run it to set a warehouse up "
        "before the first run, or after an upgrade.")
    p.add_argument("--copy-from", metavar="DUCKDB_FILE", type=Path,
                   help="first copy this DuckDB file warehouse, history and all, into the new, empty "
                        "DuckLake (switching an existing deployment to the lake)")

    p = add("maintain", cmd_maintain, "merge the lake's small files, expire old snapshots, delete unused files",
            "What the nightly DAG's last task does. On a DuckLake: rows held in the catalog written out, "
            "small data files merged and files with deleted rows rewritten, snapshots older than "
            "PIAWATCH_LAKE_SNAPSHOT_DAYS (default 7) expired, and files no snapshot needs deleted once "
            "unneeded for an hour; prints the files on disk and in the catalog, and the snapshots, before "
            "and after. On a DuckDB file: a CHECKPOINT (a file keeps no snapshots or old files).")
    add_format(p, default="text")

    p = add("site", cmd_site, "build the static site of every city, document and problem",
            "Build the static site (Japanese, offline, no server needed) from the warehouse's published "
            "read-only copy into $PIAWATCH_DATA_DIR/reports/site/, re-rendering only the pages whose "
            "content changed, and print the path of its index.html. Every run ends by doing the same.")
    p.add_argument("--open", action="store_true", help="then open it in the default browser")
    p.add_argument("--serve", action="store_true",
                   help="then serve it (and the stored PDFs it links) on http://127.0.0.1 until interrupted")
    p.add_argument("--port", type=int, default=8000, help="port for --serve (default: 8000; 0: any free port)")

    findings = sub.add_parser("findings", help="list open findings; dismiss a false positive",
                              description="The data-quality findings of the latest check.")
    findings_sub = findings.add_subparsers(dest="findings_command", required=True, metavar="FINDINGS_COMMAND")
    p = findings_sub.add_parser("list", help="the open findings, errors first, with their ids")
    p.set_defaults(func=cmd_findings_list)
    p.add_argument("--severity", choices=["error", "warning", "info"], help="only this severity")
    add_format(p, default="text")
    p = findings_sub.add_parser(
        "dismiss", help="record that a finding is a false positive: it is not alerted again",
        description="Record who dismissed the finding and why (table dismissals). Its open alert is "
                    "closed as dismissed, and the same finding (same document, rule and values, also "
                    "in a later version of the document) is not alerted again until its values change.")
    p.set_defaults(func=cmd_findings_dismiss)
    p.add_argument("finding_id", metavar="ID", help="the finding id (the alert's アラートID), or its first 8+ characters")
    p.add_argument("--reason", required=True, help="why it is not a problem")
    p.add_argument("--by", help="who dismisses it (default: the login name)")

    demo = sub.add_parser("demo", help="the bundled demo municipal websites",
                          description="The bundled demo: 8 municipal websites on 127.0.0.1.")
    demo_sub = demo.add_subparsers(dest="demo_command", required=True, metavar="DEMO_COMMAND")
    p = demo_sub.add_parser("serve", help="serve the demo websites until interrupted")
    p.set_defaults(func=cmd_demo_serve)
    p.add_argument("--port", type=int, default=DEMO_PORT)
    p.add_argument("--edition", type=int, default=1, choices=[1, 2],
                   help="2 = the sites after some cities republished documents")
    p = demo_sub.add_parser("run", help="run the nightly DAG on the demo (what `make run` does)",
                            description="Serve the demo websites, run the nightly DAG once with "
                            "`airflow dags test` on a throw-away SQLite AIRFLOW_HOME, and print the summary.")
    p.set_defaults(func=cmd_demo_run)
    p.add_argument("--edition", type=int, default=1, choices=[1, 2])
    p.add_argument("--fresh", action="store_true", help="delete the data directory first")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code = args.func(args)
        sys.stdout.flush()  # a closed pipe shows here, inside the handler below
        return code
    except PiaWatchError as exc:
        print(f"piawatch {args.command}: {exc.reason}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # The reader (head, less) stopped reading: not an error. Point stdout at /dev/null so the
        # interpreter's last flush at exit does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())

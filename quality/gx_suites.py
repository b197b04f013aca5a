"""The data-quality rules as Great Expectations 1.x suites over the frames of quality.frames.

Each ``Check`` is one expectation tagged with the rule it implements; ``validate`` runs every
suite in an ephemeral context on pandas batches and returns the failing rows per check.
Great Expectations is imported inside ``validate`` only: it takes seconds to import, and
``piawatch parse`` or DAG parsing must not pay for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ground.schema import CHANGE_TIMINGS, FIELDS, FILE_SUBJECT_BANDS, REQUIRED_FIELDS
from quality.frames import INDEX_COLUMNS
from quality.rules import (DRAFT_MISSING_PUBLISHED_ON_SEVERITY, MIN_COMMENT_DAYS,
                           RISK_ANSWER_SETS, RULES)


@dataclass(frozen=True)
class Check:
    """One expectation: ``where`` is a list of (column, operator, value) conditions, all true."""

    name: str
    rule: str
    frame: str
    expectation: str  # class name in great_expectations.expectations
    kwargs: dict
    where: tuple = ()
    severity: str | None = None  # None: the rule's own
    fields: tuple[str, ...] = field(default=())  # the record fields the check reads
    key: str | None = None  # which part of the document it is about, when one row is one document
    # The check reports blank fields: a blank the parser says it could not read is reported as
    # extraction.unread_section instead, not blamed on the city.
    about_blanks: bool = False

    @property
    def effective_severity(self) -> str:
        return self.severity or RULES[self.rule].severity


def _required_checks() -> list[Check]:
    """One expectation per field, on the rows of the kinds whose form requires it."""
    kinds_by_field: dict[str, list[str]] = {}
    for kind, names in REQUIRED_FIELDS.items():
        for name in names:
            kinds_by_field.setdefault(name, []).append(kind)
    checks = []
    for name, kinds in kinds_by_field.items():
        base = dict(rule="required.missing_field", frame="documents",
                    expectation="ExpectColumnValuesToNotBeNull", kwargs={"column": name},
                    fields=(name,), key=name, about_blanks=True)
        of_kind = ("kind", "in", tuple(kinds))
        if name == "published_on":
            # Drafts are published for comment before they get a 公表日.
            checks.append(Check(name=f"required.{name}", **base, where=(of_kind, ("is_draft", "==", False))))
            checks.append(Check(name=f"required.{name}.draft", **base, where=(of_kind, ("is_draft", "==", True)),
                                severity=DRAFT_MISSING_PUBLISHED_ON_SEVERITY))
        else:
            checks.append(Check(name=f"required.{name}", **base, where=(of_kind,)))
    return checks


def _choice_checks() -> list[Check]:
    checks = [
        Check(name=f"choice.{f.name}", rule="choice.invalid_answer", frame="documents",
              expectation="ExpectColumnValuesToBeInSet",
              kwargs={"column": f.name, "value_set": list(f.choices)}, fields=(f.name,), key=f.name)
        for f in FIELDS if f.choices
    ]
    checks += [
        Check(name="choice.changes.timing", rule="choice.invalid_answer", frame="changes",
              expectation="ExpectColumnValuesToBeInSet",
              kwargs={"column": "timing", "value_set": list(CHANGE_TIMINGS)}, fields=("changes",)),
        Check(name="choice.files.subject_band", rule="choice.invalid_answer", frame="files",
              expectation="ExpectColumnValuesToBeInSet",
              kwargs={"column": "subject_band", "value_set": list(FILE_SUBJECT_BANDS)},
              fields=("files",)),
    ]
    checks += [
        Check(name=f"choice.risk_answers.{question_kind}", rule="choice.invalid_answer", frame="risk_answers",
              expectation="ExpectColumnValuesToBeInSet", kwargs={"column": "answer", "value_set": list(choices)},
              where=(("question_kind", "==", question_kind),), fields=("risk_answers",))
        for question_kind, choices in RISK_ANSWER_SETS.items()
    ]
    return checks


NOT_DRAFT_FULL = (("kind", "==", "full"), ("is_draft", "==", False))

CHECKS: tuple[Check, ...] = (
    *_required_checks(),
    Check(name="threshold.result_mismatch", rule="threshold.result_mismatch", frame="documents",
          expectation="ExpectColumnPairValuesToBeEqual",
          kwargs={"column_A": "threshold_result", "column_B": "expected_threshold_result",
                  "ignore_row_if": "either_value_is_missing"},
          key="threshold_result", fields=("threshold_result", "subject_count_band", "handler_count_500_or_more",
                  "serious_incident_past_year")),
    Check(name="threshold.kind_lighter_than_result", rule="threshold.kind_lighter_than_result",
          frame="documents", expectation="ExpectColumnPairValuesAToBeGreaterThanB",
          kwargs={"column_A": "kind_weight", "column_B": "stated_result_kind_weight",
                  "or_equal": True, "ignore_row_if": "either_value_is_missing"},
          where=(("kind", "!=", "basic"),), key="kind", fields=("kind", "threshold_result")),
    Check(name="threshold.missing_required_document", rule="threshold.missing_required_document",
          frame="documents", expectation="ExpectColumnValuesToBeInSet",
          kwargs={"column": "required_document_present", "value_set": [True]},
          fields=("threshold_result", "assessment_number")),
    Check(name="dates.change_after_publication", rule="dates.change_after_publication",
          frame="changes", expectation="ExpectColumnPairValuesAToBeGreaterThanB",
          kwargs={"column_A": "published_on", "column_B": "date", "or_equal": True,
                  "ignore_row_if": "either_value_is_missing"},
          fields=("published_on", "changes")),
    Check(name="dates.count_after_publication", rule="dates.count_after_publication",
          frame="documents", expectation="ExpectColumnPairValuesAToBeGreaterThanB",
          kwargs={"column_A": "published_on", "column_B": "subject_count_as_of", "or_equal": True,
                  "ignore_row_if": "either_value_is_missing"},
          key="subject_count_as_of", fields=("published_on", "subject_count_as_of")),
    Check(name="dates.review_after_publication", rule="dates.review_after_publication",
          frame="reviews", expectation="ExpectColumnPairValuesAToBeGreaterThanB",
          kwargs={"column_A": "published_on", "column_B": "date", "or_equal": True,
                  "ignore_row_if": "either_value_is_missing"},
          fields=("published_on", "third_party_review_dates")),
    Check(name="dates.comment_after_publication", rule="dates.comment_after_publication",
          frame="documents", expectation="ExpectColumnPairValuesAToBeGreaterThanB",
          kwargs={"column_A": "published_on", "column_B": "public_comment_last_day",
                  "or_equal": True, "ignore_row_if": "either_value_is_missing"},
          key="public_comment_period", fields=("published_on", "public_comment_start", "public_comment_end")),
    Check(name="procedure.no_public_comment", rule="procedure.no_public_comment",
          frame="documents", expectation="ExpectColumnValuesToNotBeNull",
          kwargs={"column": "public_comment_last_day"}, where=NOT_DRAFT_FULL,
          key="public_comment_period", fields=("public_comment_start", "public_comment_end"),
          about_blanks=True),
    Check(name="procedure.no_third_party_review", rule="procedure.no_third_party_review",
          frame="documents", expectation="ExpectColumnValuesToBeBetween",
          kwargs={"column": "third_party_review_count", "min_value": 1}, where=NOT_DRAFT_FULL,
          key="third_party_review_dates", fields=("third_party_review_dates",), about_blanks=True),
    Check(name="procedure.short_comment_period", rule="procedure.short_comment_period",
          frame="documents", expectation="ExpectColumnValuesToBeBetween",
          kwargs={"column": "public_comment_days", "min_value": MIN_COMMENT_DAYS},
          where=(("kind", "==", "full"), ("public_comment_shortened_reason", "is_null", None)),
          key="public_comment_period",
          fields=("public_comment_start", "public_comment_end", "public_comment_shortened_reason")),
    Check(name="procedure.stale_full_assessment", rule="procedure.stale_full_assessment",
          frame="documents", expectation="ExpectColumnPairValuesAToBeGreaterThanB",
          kwargs={"column_A": "published_on", "column_B": "stale_before", "or_equal": True,
                  "ignore_row_if": "either_value_is_missing"},
          # An ended task is not assessed again.
          where=(("kind", "==", "full"), ("ended_on", "is_null", None)), key="published_on", fields=("published_on",)),
    *_choice_checks(),
    Check(name="extraction.unread_section", rule="extraction.unread_section", frame="field_reads",
          expectation="ExpectColumnValuesToBeInSet", kwargs={"column": "read", "value_set": [True]}),
)

assert {c.rule for c in CHECKS} == set(RULES), "every rule has at least one check"


# Great Expectations is imported inside the two functions that use it: importing it takes
# seconds, and the rest of the checks (frames, findings) do not need it.
def _row_condition(where: tuple):
    from great_expectations.expectations.row_conditions import Column

    condition = None
    for column, op, value in where:
        col = Column(column)
        part = {"==": lambda: col == value, "!=": lambda: col != value,
                "in": lambda: col.is_in(value), "is_null": col.is_null}[op]()
        condition = part if condition is None else condition & part
    return condition


def _expectation(check: Check):
    import great_expectations.expectations as gxe

    kwargs = dict(check.kwargs, meta={"check": check.name, "rule": check.rule})
    if check.where:
        kwargs["row_condition"] = _row_condition(check.where)
    return getattr(gxe, check.expectation)(**kwargs)


def _exception_message(exception_info: dict) -> str | None:
    """The error an expectation ran into, if any: GX reports it flat, or per metric when a
    metric failed (and then marks the expectation merely unsuccessful, which must not pass for
    "no findings")."""
    infos = [exception_info] if "raised_exception" in exception_info else list(exception_info.values())
    return next((info.get("exception_message") or "unknown error"
                 for info in infos if info.get("raised_exception")), None)


def validate(frames: dict, data_docs_dir: Path | None = None) -> tuple[dict[str, list[dict]], str | None]:
    """Run every suite; return ({check name: failing rows (index columns + values)}, docs index).

    Frames without rows are not validated (nothing can fail in them, and an empty frame has no
    columns for an expectation to refer to).
    """
    import great_expectations as gx
    from great_expectations.data_context.types.base import (DataContextConfig,
                                                            InMemoryStoreBackendDefaults,
                                                            ProgressBarsConfig)

    # In memory, without the temporary docs site an ephemeral context makes by default: the only
    # site is the caller's directory.
    sites = {}
    if data_docs_dir is not None:
        data_docs_dir = Path(data_docs_dir)
        data_docs_dir.mkdir(parents=True, exist_ok=True)
        sites["piawatch"] = {
            "class_name": "SiteBuilder",
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(data_docs_dir)},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        }
    context = gx.get_context(mode="ephemeral", project_config=DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        data_docs_sites=sites, progress_bars=ProgressBarsConfig(globally=False),
        analytics_enabled=False))
    source = context.data_sources.add_pandas("piawatch")
    checks_by_name = {c.name: c for c in CHECKS}
    failures: dict[str, list[dict]] = {}
    for frame_name, frame in frames.items():
        checks = [c for c in CHECKS if c.frame == frame_name]
        if frame.empty or not checks:
            continue
        batch_definition = source.add_dataframe_asset(frame_name).add_batch_definition_whole_dataframe(frame_name)
        # Built whole and added once: adding expectations one by one re-serialises the suite each time.
        suite = context.suites.add(gx.ExpectationSuite(
            name=f"piawatch_{frame_name}", expectations=[_expectation(c) for c in checks]))
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(name=f"piawatch_{frame_name}", data=batch_definition, suite=suite))
        checkpoint = context.checkpoints.add(gx.Checkpoint(
            name=f"piawatch_{frame_name}", validation_definitions=[definition],
            # No UpdateDataDocsAction: it rebuilt the docs site after each suite, and
            # build_data_docs below renders every suite's results once (the check step took
            # 9.0 s on 3,008 assessments with the action, 5.8 s without, the same pages written).
            actions=[],
            result_format={"result_format": "COMPLETE",
                           "unexpected_index_column_names": INDEX_COLUMNS[frame_name]}))
        outcome = checkpoint.run(batch_parameters={"dataframe": frame})
        for validation in outcome.run_results.values():
            for result in validation.results:
                name = result.expectation_config.meta["check"]
                problem = _exception_message(result.exception_info)
                if problem:
                    raise RuntimeError(f"expectation {name} could not run: {problem}")
                if not result.success:
                    failures[checks_by_name[name].name] = result.result.get("unexpected_index_list") or []
    docs_index = None
    if data_docs_dir is not None:
        context.build_data_docs(site_names=["piawatch"])
        docs_index = str(data_docs_dir / "index.html")
    return failures, docs_index

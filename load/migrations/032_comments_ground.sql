-- 032: column comments brought up to date; the files that applied them are never edited (their
-- checksums are recorded), so a later migration says it again.
-- The errors and the record schema now live in the ground package (ground.errors, ground.schema).
COMMENT ON COLUMN failures.code IS 'machine-readable cause, the code of a ground.errors exception (http_status, timeout, encrypted_pdf, not_an_assessment…) | — | staging failures[].code, parse staging error.code';
COMMENT ON COLUMN assessments.blank_fields IS 'fields of this kind''s form the parser found left empty: their NULL (scalars) or [] (lists) means the document states nothing | record field names | load: kind''s fields (ground.schema FIELDS.kinds) minus unread_fields, where the value is null or []';
-- A run may end partial (some cities failed, piawatch.lifecycle), and `piawatch reparse` runs have ids of their own.
COMMENT ON COLUMN runs.status IS 'running / success / partial (some cities or documents failed) / failed | — | record_run_start, record_run_end (piawatch.lifecycle.run_outcome)';
COMMENT ON COLUMN runs.run_id IS 'the run id (UTC start time, the Airflow run id made file-safe, or reparse__<UTC time> for a piawatch reparse) | — | piawatch.pipeline, piawatch.reparse';

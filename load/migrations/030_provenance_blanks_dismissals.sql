-- 030: provenance as columns (pages), blank vs not on the form, failures that are gone,
-- dismissed findings. 031 brings the rows already stored to these rules.

-- Pages, as columns rather than inside JSON.
ALTER TABLE findings ADD COLUMN pages INTEGER[];
COMMENT ON COLUMN findings.pages IS 'the pages the disagreeing values are printed on, smallest first ([] when none is known) | page numbers, from 1 | quality: evidence.pages';
ALTER TABLE change_rows ADD COLUMN page INTEGER;
COMMENT ON COLUMN change_rows.page IS 'page the row is printed on; when the parser gives no page per row, the page the 変更箇所 table starts on | page number, from 1 | record.changes[].page, else record.source.field_pages.changes';
ALTER TABLE assessment_files ADD COLUMN page INTEGER;
COMMENT ON COLUMN assessment_files.page IS 'page the file''s description starts on; when the parser gives no page per file, the page section II starts on | page number, from 1 | record.files[].page, else record.source.field_pages.files';
ALTER TABLE file_outsourcing ADD COLUMN page INTEGER;
COMMENT ON COLUMN file_outsourcing.page IS 'page the 委託 entry is printed on; when the parser gives none, its file''s page | page number, from 1 | record.files[].outsourcing[].page, else assessment_files.page';
-- Blank is not the same as not applicable: two lists say which NULLs are which.
ALTER TABLE assessments ADD COLUMN unread_fields VARCHAR[];
COMMENT ON COLUMN assessments.unread_fields IS 'fields of this kind''s form the parser could not locate: their NULL means unknown | record field names | parse staging record.source.unread_fields';
ALTER TABLE assessments ADD COLUMN blank_fields VARCHAR[];
COMMENT ON COLUMN assessments.blank_fields IS 'fields of this kind''s form the parser found left empty: their NULL (scalars) or [] (lists) means the document states nothing | record field names | load: kind''s fields (transform.record FIELDS.kinds) minus unread_fields, where the value is null or []';
-- A failure is open, resolved (a later run succeeded) or gone (the city no longer links the URL).
ALTER TABLE failures ADD COLUMN status VARCHAR;
COMMENT ON COLUMN failures.status IS 'open; resolved: a later run fetched or parsed it; gone: a later crawl of the city no longer linked the URL (or the PDF version), so it will not be retried | — | load_run';
COMMENT ON COLUMN failures.resolved_run IS 'the run that closed it, as resolved or gone (null while open) | — | load_run(run_id)';
-- Dismissing a false positive: who, why, and the values it was about.
CREATE TABLE dismissals (
    dismissal_id VARCHAR NOT NULL,
    finding_id VARCHAR NOT NULL,
    city_code VARCHAR,
    assessment_number INTEGER,
    kind VARCHAR,
    rule VARCHAR NOT NULL,
    finding_key VARCHAR,
    values_digest VARCHAR NOT NULL,
    dismissed_by VARCHAR NOT NULL,
    reason VARCHAR NOT NULL,
    dismissed_at TIMESTAMPTZ NOT NULL
);
COMMENT ON TABLE dismissals IS 'findings a person judged false positives (piawatch findings dismiss); a finding of the same document, rule, key and values is not alerted again';
COMMENT ON COLUMN dismissals.dismissal_id IS 'sha256 of finding_id + dismissed_at | hex digest | piawatch findings dismiss';
COMMENT ON COLUMN dismissals.finding_id IS 'the finding dismissed | hex digest | findings.finding_id';
COMMENT ON COLUMN dismissals.city_code IS 'the publishing city | 6 digits | findings.city_code';
COMMENT ON COLUMN dismissals.assessment_number IS '評価書番号 of the document; later versions of it are covered too | — | findings.assessment_number';
COMMENT ON COLUMN dismissals.kind IS 'basic / focused / full | — | assessments.kind';
COMMENT ON COLUMN dismissals.rule IS 'dotted rule id | — | findings.rule';
COMMENT ON COLUMN dismissals.finding_key IS 'which part of the document | — | findings.finding_key';
COMMENT ON COLUMN dismissals.values_digest IS 'md5 of the disagreeing values when dismissed: when they change, the finding alerts again | hex digest | findings.evidence.values';
COMMENT ON COLUMN dismissals.dismissed_by IS 'who dismissed it (--by, else the login name) | — | piawatch findings dismiss';
COMMENT ON COLUMN dismissals.reason IS 'why it is not a problem | — | piawatch findings dismiss --reason';
COMMENT ON COLUMN dismissals.dismissed_at IS 'when | point in time (shown in the TimeZone setting of the session) | piawatch findings dismiss';

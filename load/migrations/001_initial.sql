-- 001: the warehouse as first released. Never edit once applied: add 002_… instead.
-- Both warehouse backends run it, so it uses only what DuckLake accepts too: no PRIMARY KEY,
-- UNIQUE or CHECK constraints. Keys and allowed values are declared in load/schema.py and
-- checked before every write commits.
-- Column comments read "description | unit | source"; docs/data-dictionary.md is generated from them.

CREATE TABLE municipalities (
    city_code VARCHAR NOT NULL,
    slug VARCHAR NOT NULL,
    name VARCHAR NOT NULL,
    prefecture VARCHAR,
    demo BOOLEAN NOT NULL,
    urls VARCHAR[],
    first_seen_run VARCHAR,
    last_seen_run VARCHAR
);
COMMENT ON TABLE municipalities IS 'the cities in the registry (config/cities.yaml), one row per 団体コード';
COMMENT ON COLUMN municipalities.city_code IS '全国地方公共団体コード with its check digit | 6 digits | registry code';
COMMENT ON COLUMN municipalities.slug IS 'romanised name used in ids, fixtures and tests | — | registry slug';
COMMENT ON COLUMN municipalities.name IS 'the city''s name, e.g. 堺市 | — | registry name';
COMMENT ON COLUMN municipalities.prefecture IS 'the prefecture, e.g. 大阪府 | — | registry prefecture';
COMMENT ON COLUMN municipalities.demo IS 'true for the bundled demo cities (fictional content under a real code) | — | registry demo';
COMMENT ON COLUMN municipalities.urls IS 'the listing pages the crawler starts from | — | registry urls';
COMMENT ON COLUMN municipalities.first_seen_run IS 'first run that loaded this registry entry | — | load_run(run_id)';
COMMENT ON COLUMN municipalities.last_seen_run IS 'latest run that loaded this registry entry | — | load_run(run_id)';

CREATE TABLE sources (
    url VARCHAR NOT NULL,
    city_code VARCHAR NOT NULL,
    entry_page BOOLEAN NOT NULL,
    found_on VARCHAR,
    encoding VARCHAR,
    last_status INTEGER,
    first_seen_run VARCHAR NOT NULL,
    last_seen_run VARCHAR NOT NULL,
    first_seen_at TIMESTAMPTZ,
    last_seen_at TIMESTAMPTZ
);
COMMENT ON TABLE sources IS 'the HTML listing and detail pages the crawler read, one row per URL';
COMMENT ON COLUMN sources.url IS 'page URL after redirects | — | crawl staging pages[].url';
COMMENT ON COLUMN sources.city_code IS 'the city whose site it is | 6 digits | crawl staging city_code';
COMMENT ON COLUMN sources.entry_page IS 'true for a start page from the registry, false for a page reached by a link | — | crawl staging pages[].found_on is null';
COMMENT ON COLUMN sources.found_on IS 'the page that linked to it (null for a start page) | — | crawl staging pages[].found_on';
COMMENT ON COLUMN sources.encoding IS 'character encoding the page was decoded with, e.g. shift_jis | — | crawl staging pages[].encoding';
COMMENT ON COLUMN sources.last_status IS 'HTTP status of the latest fetch | HTTP status code | crawl staging pages[].status';
COMMENT ON COLUMN sources.first_seen_run IS 'first run that read the page | — | load_run(run_id)';
COMMENT ON COLUMN sources.last_seen_run IS 'latest run that read the page | — | load_run(run_id)';
COMMENT ON COLUMN sources.first_seen_at IS 'when the crawl that first read it ran | point in time (shown in the TimeZone setting of the session) | crawl staging crawled_at';
COMMENT ON COLUMN sources.last_seen_at IS 'when the crawl that last read it ran | point in time (shown in the TimeZone setting of the session) | crawl staging crawled_at';

CREATE TABLE documents (
    sha256 VARCHAR NOT NULL,
    city_code VARCHAR NOT NULL,
    url VARCHAR NOT NULL,
    last_url VARCHAR NOT NULL,
    bytes BIGINT,
    pages INTEGER,
    kind VARCHAR,
    link_text VARCHAR,
    found_on VARCHAR,
    content_type VARCHAR,
    etag VARCHAR,
    last_modified VARCHAR,
    first_seen_run VARCHAR NOT NULL,
    last_seen_run VARCHAR NOT NULL,
    first_seen_at TIMESTAMPTZ,
    last_seen_at TIMESTAMPTZ
);
COMMENT ON TABLE documents IS 'one row per distinct PDF version (its bytes) a city published; a republished PDF adds a row';
COMMENT ON COLUMN documents.sha256 IS 'SHA-256 of the PDF bytes; the raw file is data/raw/<sha[:2]>/<sha256>.pdf | hex digest | crawl staging documents[].sha256';
COMMENT ON COLUMN documents.city_code IS 'the city that links to it | 6 digits | crawl staging city_code';
COMMENT ON COLUMN documents.url IS 'URL this version was first fetched from | — | crawl staging documents[].url';
COMMENT ON COLUMN documents.last_url IS 'URL this version was most recently seen at | — | crawl staging documents[].url';
COMMENT ON COLUMN documents.bytes IS 'size of the PDF | bytes | crawl staging documents[].bytes';
COMMENT ON COLUMN documents.pages IS 'number of pages (null until parsed) | pages | parse staging record.source.pages';
COMMENT ON COLUMN documents.kind IS 'basic / focused / full (null until parsed) | — | parse staging record.kind';
COMMENT ON COLUMN documents.link_text IS 'text of the link to the PDF, NFKC as printed on the page | — | crawl staging documents[].link_text';
COMMENT ON COLUMN documents.found_on IS 'the page that links to the PDF | — | crawl staging documents[].found_on';
COMMENT ON COLUMN documents.content_type IS 'Content-Type header of the download | — | crawl staging documents[].content_type';
COMMENT ON COLUMN documents.etag IS 'ETag header of the latest download | — | crawl staging documents[].etag';
COMMENT ON COLUMN documents.last_modified IS 'Last-Modified header of the latest download, as sent | — | crawl staging documents[].last_modified';
COMMENT ON COLUMN documents.first_seen_run IS 'run that first saw this version | — | load_run(run_id)';
COMMENT ON COLUMN documents.last_seen_run IS 'latest run that saw this version still linked | — | load_run(run_id)';
COMMENT ON COLUMN documents.first_seen_at IS 'when this version was first fetched | point in time (shown in the TimeZone setting of the session) | crawl staging documents[].fetched_at';
COMMENT ON COLUMN documents.last_seen_at IS 'when this version was last fetched or confirmed unchanged | point in time (shown in the TimeZone setting of the session) | crawl staging documents[].fetched_at';

CREATE TABLE assessments (
    sha256 VARCHAR NOT NULL,
    city_code VARCHAR NOT NULL,
    url VARCHAR,
    parser_version VARCHAR,
    loaded_run VARCHAR,
    kind VARCHAR,
    assessment_number INTEGER,
    title VARCHAR,
    organization VARCHAR,
    published_on DATE,
    form_version VARCHAR,
    is_draft BOOLEAN,
    ended_on DATE,
    business_name VARCHAR,
    subject_count_band VARCHAR,
    subject_count_as_of DATE,
    handler_count_500_or_more BOOLEAN,
    serious_incident_past_year BOOLEAN,
    serious_incident_past_3_years BOOLEAN,
    threshold_result VARCHAR,
    threshold_result_voluntary BOOLEAN,
    submitted_kinds VARCHAR[],
    basic_assessment_date DATE,
    public_comment_start DATE,
    public_comment_end DATE,
    public_comment_shortened_reason VARCHAR,
    third_party_review_dates DATE[],
    files JSON,
    changes JSON,
    risk_answers JSON,
    source JSON
);
COMMENT ON TABLE assessments IS 'one row per parsed document version (sha256) and city: every record field as a typed column';
COMMENT ON COLUMN assessments.sha256 IS 'SHA-256 of the PDF bytes: the document version | hex digest | parse staging sha256';
COMMENT ON COLUMN assessments.city_code IS '団体コード of the city that published it | 6 digits | crawl staging city_code';
COMMENT ON COLUMN assessments.url IS 'URL the parsed PDF was fetched from | — | parse staging url';
COMMENT ON COLUMN assessments.parser_version IS 'version of the parser that made the record | — | parse staging parser_version';
COMMENT ON COLUMN assessments.loaded_run IS 'run that loaded this record | — | load_run(run_id)';
COMMENT ON COLUMN assessments.kind IS '評価書の種類: basic (様式2) / focused (様式3) / full (様式4), from the title on page 1 | — | parse staging record.kind';
COMMENT ON COLUMN assessments.assessment_number IS '評価書番号: the task''s number in the city''s assessment plan | — | parse staging record.assessment_number';
COMMENT ON COLUMN assessments.title IS '評価書名: as printed, including （案） or 【…終了】 | — | parse staging record.title';
COMMENT ON COLUMN assessments.organization IS '評価実施機関名: the office that made the assessment, e.g. 堺市長 | — | parse staging record.organization';
COMMENT ON COLUMN assessments.published_on IS '公表日: publication date; null in drafts | date | parse staging record.published_on';
COMMENT ON COLUMN assessments.form_version IS '様式: form version from the cover, e.g. 平成30年5月 様式4 | — | parse staging record.form_version';
COMMENT ON COLUMN assessments.is_draft IS '（案）: the title marks a draft for public comment (案 / 素案) | — | parse staging record.is_draft';
COMMENT ON COLUMN assessments.ended_on IS '【…終了】: the date the task ended, from the title | date | parse staging record.ended_on';
COMMENT ON COLUMN assessments.business_name IS '事務の名称: name of the task (I 1 ①) | — | parse staging record.business_name';
COMMENT ON COLUMN assessments.subject_count_band IS '対象人数: number of people the task covers, as a band | — | parse staging record.subject_count_band';
COMMENT ON COLUMN assessments.subject_count_as_of IS 'いつ時点の計数か: the date the count refers to (basic only) | date | parse staging record.subject_count_as_of';
COMMENT ON COLUMN assessments.handler_count_500_or_more IS '取扱者数: 500 or more people handle the file (basic only) | — | parse staging record.handler_count_500_or_more';
COMMENT ON COLUMN assessments.serious_incident_past_year IS '重大事故: a serious incident in the past year (basic Ⅱ 3) (basic only) | — | parse staging record.serious_incident_past_year';
COMMENT ON COLUMN assessments.serious_incident_past_3_years IS '重大事故の発生: a serious personal-information incident in the past 3 years (focused/full risk section) (focused/full only) | — | parse staging record.serious_incident_past_3_years';
COMMENT ON COLUMN assessments.threshold_result IS 'しきい値判断結果: what the document says is mandatory (a 任意 suffix does not change it) | — | parse staging record.threshold_result';
COMMENT ON COLUMN assessments.threshold_result_voluntary IS '任意に…を実施: the stated result carries 「任意に…を実施」 | — | parse staging record.threshold_result_voluntary';
COMMENT ON COLUMN assessments.submitted_kinds IS '提出する評価書の種類: basic Ⅳ 1: the documents the office submits (basic only) | — | parse staging record.submitted_kinds';
COMMENT ON COLUMN assessments.basic_assessment_date IS '基礎項目評価の実施日: focused V 1 ① / full VI 1 ① (focused/full only) | date | parse staging record.basic_assessment_date';
COMMENT ON COLUMN assessments.public_comment_start IS '意見の聴取 実施日・期間: first day of the public comment period (focused/full only) | date | parse staging record.public_comment_start';
COMMENT ON COLUMN assessments.public_comment_end IS '意見の聴取 実施日・期間: last day of the public comment period (focused/full only) | date | parse staging record.public_comment_end';
COMMENT ON COLUMN assessments.public_comment_shortened_reason IS '期間を短縮する特段の理由: reason stated for a comment period under 30 days (focused/full only) | — | parse staging record.public_comment_shortened_reason';
COMMENT ON COLUMN assessments.third_party_review_dates IS '第三者点検 実施日: dates of the third-party review (focused/full only) | date | parse staging record.third_party_review_dates';
COMMENT ON COLUMN assessments.files IS '特定個人情報ファイル: each file: name, subject_band, … (focused/full only) | — | parse staging record.files';
COMMENT ON COLUMN assessments.changes IS '変更箇所: change rows: date, item, before, after, timing, note | — | parse staging record.changes';
COMMENT ON COLUMN assessments.risk_answers IS 'リスク対策: section, question, answer | — | parse staging record.risk_answers';
COMMENT ON COLUMN assessments.source IS '出典: sha256, pages, extractor facts, per-field page numbers | — | parse staging record.source';

CREATE TABLE assessment_files (
    sha256 VARCHAR NOT NULL,
    city_code VARCHAR NOT NULL,
    file_index INTEGER NOT NULL,
    name VARCHAR,
    subject_band VARCHAR,
    record_items_count VARCHAR,
    held_since DATE,
    provisions JSON
);
COMMENT ON TABLE assessment_files IS 'the 特定個人情報ファイル (II) each assessment describes, one row per file';
COMMENT ON COLUMN assessment_files.sha256 IS 'the document version | hex digest | parse staging sha256';
COMMENT ON COLUMN assessment_files.city_code IS 'the publishing city | 6 digits | crawl staging city_code';
COMMENT ON COLUMN assessment_files.file_index IS 'position of the file in the document, from 1 | — | order of record.files';
COMMENT ON COLUMN assessment_files.name IS 'ファイル名, e.g. 住民基本台帳ファイル | — | record.files[].name';
COMMENT ON COLUMN assessment_files.subject_band IS '②対象となる本人の数 as a band (file-level bands differ from 対象人数) | — | record.files[].subject_band';
COMMENT ON COLUMN assessment_files.record_items_count IS '④記録される項目 as printed, e.g. 50項目以上100項目未満 | — | record.files[].record_items_count';
COMMENT ON COLUMN assessment_files.held_since IS '⑤保有開始日 | date | record.files[].held_since';
COMMENT ON COLUMN assessment_files.provisions IS '提供先・移転先: a list of {kind: provision (提供) or transfer (移転), recipient} | JSON | record.files[].provisions';

CREATE TABLE file_outsourcing (
    sha256 VARCHAR NOT NULL,
    city_code VARCHAR NOT NULL,
    file_index INTEGER NOT NULL,
    outsourcing_index INTEGER NOT NULL,
    contractor VARCHAR,
    handler_count VARCHAR,
    subcontracting BOOLEAN
);
COMMENT ON TABLE file_outsourcing IS 'the 委託 (outsourcing) entries of each file, one row per 委託事項';
COMMENT ON COLUMN file_outsourcing.sha256 IS 'the document version | hex digest | parse staging sha256';
COMMENT ON COLUMN file_outsourcing.city_code IS 'the publishing city | 6 digits | crawl staging city_code';
COMMENT ON COLUMN file_outsourcing.file_index IS 'the file (assessment_files.file_index) | — | order of record.files';
COMMENT ON COLUMN file_outsourcing.outsourcing_index IS 'position of the 委託事項 within the file, from 1 | — | order of record.files[].outsourcing';
COMMENT ON COLUMN file_outsourcing.contractor IS '⑥委託先名 | — | record.files[].outsourcing[].contractor';
COMMENT ON COLUMN file_outsourcing.handler_count IS '③委託先における取扱者数 as printed, e.g. 10人以上50人未満 | — | record.files[].outsourcing[].handler_count';
COMMENT ON COLUMN file_outsourcing.subcontracting IS '⑦再委託の有無: true for 再委託する, false for 再委託しない | — | record.files[].outsourcing[].subcontracting';

CREATE TABLE risk_answers (
    sha256 VARCHAR NOT NULL,
    city_code VARCHAR NOT NULL,
    answer_index INTEGER NOT NULL,
    section VARCHAR,
    question VARCHAR,
    answer VARCHAR,
    page INTEGER
);
COMMENT ON TABLE risk_answers IS 'the answers of the リスク対策 sections, one row per question; answers outside the form''s choices are kept (rule choice.invalid_answer reports them)';
COMMENT ON COLUMN risk_answers.sha256 IS 'the document version | hex digest | parse staging sha256';
COMMENT ON COLUMN risk_answers.city_code IS 'the publishing city | 6 digits | crawl staging city_code';
COMMENT ON COLUMN risk_answers.answer_index IS 'position of the answer in the document, from 1 | — | order of record.risk_answers';
COMMENT ON COLUMN risk_answers.section IS 'the risk section, e.g. III 2 特定個人情報の入手 | — | record.risk_answers[].section';
COMMENT ON COLUMN risk_answers.question IS 'the question, e.g. リスクへの対策は十分か | — | record.risk_answers[].question';
COMMENT ON COLUMN risk_answers.answer IS 'the selected answer, e.g. 課題が残されている | — | record.risk_answers[].answer';
COMMENT ON COLUMN risk_answers.page IS 'page the answer is printed on | page number, from 1 | record.risk_answers[].page';

CREATE TABLE change_rows (
    sha256 VARCHAR NOT NULL,
    city_code VARCHAR NOT NULL,
    change_index INTEGER NOT NULL,
    change_date DATE,
    item VARCHAR,
    before_text VARCHAR,
    after_text VARCHAR,
    timing VARCHAR,
    note VARCHAR
);
COMMENT ON TABLE change_rows IS 'the 変更箇所 table of each document, one row per change';
COMMENT ON COLUMN change_rows.sha256 IS 'the document version | hex digest | parse staging sha256';
COMMENT ON COLUMN change_rows.city_code IS 'the publishing city | 6 digits | crawl staging city_code';
COMMENT ON COLUMN change_rows.change_index IS 'position of the row in the table, from 1 | — | order of record.changes';
COMMENT ON COLUMN change_rows.change_date IS '変更日 | date | record.changes[].date';
COMMENT ON COLUMN change_rows.item IS '項目 changed | — | record.changes[].item';
COMMENT ON COLUMN change_rows.before_text IS '変更前の記載 | — | record.changes[].before';
COMMENT ON COLUMN change_rows.after_text IS '変更後の記載 | — | record.changes[].after';
COMMENT ON COLUMN change_rows.timing IS '提出時期: pre (事前) or post (事後) | — | record.changes[].timing';
COMMENT ON COLUMN change_rows.note IS '提出時期に係る説明 | — | record.changes[].note';

CREATE TABLE fetch_log (
    run_id VARCHAR NOT NULL,
    city_code VARCHAR NOT NULL,
    seq INTEGER NOT NULL,
    url VARCHAR NOT NULL,
    method VARCHAR,
    status INTEGER,
    bytes BIGINT,
    sha256 VARCHAR,
    elapsed_ms INTEGER,
    conditional BOOLEAN,
    not_modified BOOLEAN,
    error VARCHAR,
    fetched_at TIMESTAMPTZ
);
COMMENT ON TABLE fetch_log IS 'every HTTP request the crawler made, one row per request (retries included)';
COMMENT ON COLUMN fetch_log.run_id IS 'the run | — | load_run(run_id)';
COMMENT ON COLUMN fetch_log.city_code IS 'the city being crawled | 6 digits | crawl staging city_code';
COMMENT ON COLUMN fetch_log.seq IS 'order of the request within the city''s crawl, from 1 | — | order of crawl staging fetches';
COMMENT ON COLUMN fetch_log.url IS 'requested URL | — | crawl staging fetches[].url';
COMMENT ON COLUMN fetch_log.method IS 'HTTP method | — | crawl staging fetches[].method';
COMMENT ON COLUMN fetch_log.status IS 'HTTP status (null when no response arrived) | HTTP status code | crawl staging fetches[].status';
COMMENT ON COLUMN fetch_log.bytes IS 'size of the response body | bytes | crawl staging fetches[].bytes';
COMMENT ON COLUMN fetch_log.sha256 IS 'SHA-256 of the body when it was kept | hex digest | crawl staging fetches[].sha256';
COMMENT ON COLUMN fetch_log.elapsed_ms IS 'time to the full response | milliseconds | crawl staging fetches[].elapsed_ms';
COMMENT ON COLUMN fetch_log.conditional IS 'the request carried If-None-Match / If-Modified-Since | — | crawl staging fetches[].conditional';
COMMENT ON COLUMN fetch_log.not_modified IS 'the server answered 304 Not Modified | — | crawl staging fetches[].not_modified';
COMMENT ON COLUMN fetch_log.error IS 'what went wrong (timeout, refused…), null on success | — | crawl staging fetches[].error';
COMMENT ON COLUMN fetch_log.fetched_at IS 'when the request was made | point in time (shown in the TimeZone setting of the session) | crawl staging fetches[].fetched_at';

CREATE TABLE failures (
    failure_id VARCHAR NOT NULL,
    run_id VARCHAR NOT NULL,
    stage VARCHAR NOT NULL,
    city_code VARCHAR,
    url VARCHAR,
    sha256 VARCHAR,
    code VARCHAR NOT NULL,
    reason VARCHAR,
    first_seen_run VARCHAR NOT NULL,
    last_seen_run VARCHAR NOT NULL,
    occurrences INTEGER NOT NULL,
    resolved BOOLEAN NOT NULL,
    resolved_run VARCHAR
);
COMMENT ON TABLE failures IS 'what could not be fetched or parsed, and why; retried every run and marked resolved when it succeeds';
COMMENT ON COLUMN failures.failure_id IS 'sha256 of stage + city + url (fetch) or stage + document sha256 (parse): the same problem keeps its id | hex digest | derived';
COMMENT ON COLUMN failures.run_id IS 'the run that last changed the row (saw the failure again, or resolved it) | — | load_run(run_id)';
COMMENT ON COLUMN failures.stage IS 'discover / fetch / crawl / parse | — | crawl staging failures[].stage, or parse';
COMMENT ON COLUMN failures.city_code IS 'the city being crawled | 6 digits | crawl staging city_code';
COMMENT ON COLUMN failures.url IS 'the URL that failed (the PDF''s URL for a parse failure) | — | crawl staging failures[].url, parse staging url';
COMMENT ON COLUMN failures.sha256 IS 'the document version that could not be parsed (parse failures) | hex digest | parse staging sha256';
COMMENT ON COLUMN failures.code IS 'machine-readable cause, the code of a piawatch.errors exception (http_status, timeout, encrypted_pdf, not_an_assessment…) | — | staging failures[].code, parse staging error.code';
COMMENT ON COLUMN failures.reason IS 'one-line human reason of the latest occurrence | — | staging failures[].reason, parse staging error.reason';
COMMENT ON COLUMN failures.first_seen_run IS 'first run that failed this way | — | load_run(run_id)';
COMMENT ON COLUMN failures.last_seen_run IS 'latest run that failed this way | — | load_run(run_id)';
COMMENT ON COLUMN failures.occurrences IS 'number of runs that failed this way | runs | counted by load_run';
COMMENT ON COLUMN failures.resolved IS 'a later run fetched or parsed it successfully | — | load_run';
COMMENT ON COLUMN failures.resolved_run IS 'the run that succeeded (null while unresolved) | — | load_run(run_id)';

CREATE TABLE findings (
    finding_id VARCHAR NOT NULL,
    run_id VARCHAR NOT NULL,
    sha256 VARCHAR,
    city_code VARCHAR,
    rule VARCHAR NOT NULL,
    family VARCHAR NOT NULL,
    severity VARCHAR NOT NULL,
    message VARCHAR NOT NULL,
    source VARCHAR,
    organization VARCHAR,
    assessment_number INTEGER,
    title VARCHAR,
    evidence JSON,
    first_seen_run VARCHAR NOT NULL,
    last_seen_run VARCHAR NOT NULL
);
COMMENT ON TABLE findings IS 'data-quality findings, one row per document version, rule and key (written by the quality checks)';
COMMENT ON COLUMN findings.finding_id IS 'sha256 of document sha256 + rule + key: the same problem keeps its id across runs | hex digest | quality';
COMMENT ON COLUMN findings.run_id IS 'the run whose checks last wrote the row | — | quality';
COMMENT ON COLUMN findings.sha256 IS 'the document version the finding is about | hex digest | quality';
COMMENT ON COLUMN findings.city_code IS 'the publishing city | 6 digits | quality';
COMMENT ON COLUMN findings.rule IS 'dotted rule id, e.g. threshold.result_mismatch | — | quality';
COMMENT ON COLUMN findings.family IS 'the part of the rule before the dot: required, threshold, dates, procedure, choice, extraction | — | quality';
COMMENT ON COLUMN findings.severity IS 'error / warning / info | — | quality';
COMMENT ON COLUMN findings.message IS 'one Japanese sentence naming the values that disagree | — | quality';
COMMENT ON COLUMN findings.source IS 'the document''s URL or file path | — | quality';
COMMENT ON COLUMN findings.organization IS '評価実施機関名 of the document | — | quality';
COMMENT ON COLUMN findings.assessment_number IS '評価書番号 of the document | — | quality';
COMMENT ON COLUMN findings.title IS '評価書名 of the document | — | quality';
COMMENT ON COLUMN findings.evidence IS 'the values that disagree and their page numbers | JSON | quality';
COMMENT ON COLUMN findings.first_seen_run IS 'first run that found it | — | quality';
COMMENT ON COLUMN findings.last_seen_run IS 'latest run that found it; a finding is open while the latest checked run found it | — | quality';

CREATE TABLE alerts (
    alert_id VARCHAR NOT NULL,
    finding_id VARCHAR NOT NULL,
    sha256 VARCHAR,
    city_code VARCHAR,
    assessment_number INTEGER,
    rule VARCHAR NOT NULL,
    severity VARCHAR NOT NULL,
    message VARCHAR NOT NULL,
    status VARCHAR NOT NULL,
    created_run VARCHAR NOT NULL,
    sent_at TIMESTAMPTZ,
    resolved_run VARCHAR,
    resolved_by_sha256 VARCHAR
);
COMMENT ON TABLE alerts IS 'deduplicated alerts, one per finding that deserved one (written by the alerts step)';
COMMENT ON COLUMN alerts.alert_id IS 'document sha256 + rule + key, equal to the finding_id | hex digest | alerts';
COMMENT ON COLUMN alerts.finding_id IS 'the finding alerted on | hex digest | alerts';
COMMENT ON COLUMN alerts.sha256 IS 'the document version | hex digest | alerts';
COMMENT ON COLUMN alerts.city_code IS 'the publishing city | 6 digits | alerts';
COMMENT ON COLUMN alerts.assessment_number IS '評価書番号 of the document | — | alerts';
COMMENT ON COLUMN alerts.rule IS 'dotted rule id | — | alerts';
COMMENT ON COLUMN alerts.severity IS 'error / warning / info | — | alerts';
COMMENT ON COLUMN alerts.message IS 'the message sent | — | alerts';
COMMENT ON COLUMN alerts.status IS 'open, or resolved once the finding is gone | — | alerts';
COMMENT ON COLUMN alerts.created_run IS 'run that raised the alert | — | alerts';
COMMENT ON COLUMN alerts.sent_at IS 'first successful delivery (null until sent) | point in time (shown in the TimeZone setting of the session) | alerts';
COMMENT ON COLUMN alerts.resolved_run IS 'run in which the finding was no longer found | — | alerts';
COMMENT ON COLUMN alerts.resolved_by_sha256 IS 'the new document version that fixed it, when a republication did | hex digest | alerts';

CREATE TABLE alert_deliveries (
    alert_id VARCHAR NOT NULL,
    channel VARCHAR NOT NULL,
    attempt INTEGER NOT NULL,
    status VARCHAR NOT NULL,
    error VARCHAR,
    attempted_at TIMESTAMPTZ NOT NULL
);
COMMENT ON TABLE alert_deliveries IS 'every attempt to deliver an alert on a channel';
COMMENT ON COLUMN alert_deliveries.alert_id IS 'the alert | hex digest | alerts';
COMMENT ON COLUMN alert_deliveries.channel IS 'log / webhook / smtp | — | alerts';
COMMENT ON COLUMN alert_deliveries.attempt IS 'attempt number on this channel, from 1 | — | alerts';
COMMENT ON COLUMN alert_deliveries.status IS 'sent / failed | — | alerts';
COMMENT ON COLUMN alert_deliveries.error IS 'why the attempt failed (null when sent) | — | alerts';
COMMENT ON COLUMN alert_deliveries.attempted_at IS 'when the attempt was made (named attempted_at because AT is an SQL keyword) | point in time (shown in the TimeZone setting of the session) | alerts';

CREATE TABLE runs (
    run_id VARCHAR NOT NULL,
    started_at TIMESTAMPTZ,
    finished_at TIMESTAMPTZ,
    status VARCHAR NOT NULL,
    error VARCHAR,
    cities INTEGER,
    pages INTEGER,
    fetches INTEGER,
    documents_seen INTEGER,
    documents_new INTEGER,
    assessments_loaded INTEGER,
    fetch_failures INTEGER,
    parse_failures INTEGER,
    failures_resolved INTEGER,
    findings INTEGER,
    alerts_opened INTEGER,
    alerts_resolved INTEGER,
    alerts_sent INTEGER,
    crawl_seconds DOUBLE,
    parse_seconds DOUBLE,
    load_seconds DOUBLE,
    check_seconds DOUBLE,
    alert_seconds DOUBLE,
    loaded_at TIMESTAMPTZ,
    checked_at TIMESTAMPTZ,
    alerted_at TIMESTAMPTZ
);
COMMENT ON TABLE runs IS 'one row per pipeline run, with its counts and timings';
COMMENT ON COLUMN runs.run_id IS 'the run id (UTC start time, or the Airflow run id made file-safe) | — | piawatch.pipeline';
COMMENT ON COLUMN runs.started_at IS 'when the run started | point in time (shown in the TimeZone setting of the session) | record_run_start';
COMMENT ON COLUMN runs.finished_at IS 'when the run ended (null while running) | point in time (shown in the TimeZone setting of the session) | record_run_end';
COMMENT ON COLUMN runs.status IS 'running / success / failed | — | record_run_start, record_run_end';
COMMENT ON COLUMN runs.error IS 'why a failed run failed | — | record_run_end';
COMMENT ON COLUMN runs.cities IS 'cities crawled | cities | load_run: crawl staging files';
COMMENT ON COLUMN runs.pages IS 'HTML pages read | pages | load_run: crawl staging pages';
COMMENT ON COLUMN runs.fetches IS 'HTTP requests made | requests | load_run: crawl staging fetches';
COMMENT ON COLUMN runs.documents_seen IS 'PDF versions linked from the sites this run | documents | load_run: crawl staging documents';
COMMENT ON COLUMN runs.documents_new IS 'PDF versions seen for the first time | documents | load_run';
COMMENT ON COLUMN runs.assessments_loaded IS 'records inserted or replaced in assessments | records | load_run: parse staging';
COMMENT ON COLUMN runs.fetch_failures IS 'discover / fetch / crawl failures staged this run | failures | load_run';
COMMENT ON COLUMN runs.parse_failures IS 'documents that could not be parsed this run | failures | load_run';
COMMENT ON COLUMN runs.failures_resolved IS 'earlier failures that succeeded this run | failures | load_run';
COMMENT ON COLUMN runs.findings IS 'findings the checks reported | findings | record_run_step(check)';
COMMENT ON COLUMN runs.alerts_opened IS 'alerts raised | alerts | record_run_step(alert)';
COMMENT ON COLUMN runs.alerts_resolved IS 'alerts resolved | alerts | record_run_step(alert)';
COMMENT ON COLUMN runs.alerts_sent IS 'alert deliveries that succeeded | deliveries | record_run_step(alert)';
COMMENT ON COLUMN runs.crawl_seconds IS 'wall time of the crawl step | seconds | record_run_step(crawl)';
COMMENT ON COLUMN runs.parse_seconds IS 'wall time of the parse step | seconds | record_run_step(parse)';
COMMENT ON COLUMN runs.load_seconds IS 'wall time of the load | seconds | load_run';
COMMENT ON COLUMN runs.check_seconds IS 'wall time of the quality checks | seconds | record_run_step(check)';
COMMENT ON COLUMN runs.alert_seconds IS 'wall time of the alert step | seconds | record_run_step(alert)';
COMMENT ON COLUMN runs.loaded_at IS 'when the load committed | point in time (shown in the TimeZone setting of the session) | load_run';
COMMENT ON COLUMN runs.checked_at IS 'when the quality checks finished writing findings; the latest checked run decides which findings are open | point in time (shown in the TimeZone setting of the session) | record_run_step(check)';
COMMENT ON COLUMN runs.alerted_at IS 'when the alert step finished | point in time (shown in the TimeZone setting of the session) | record_run_step(alert)';

-- 031: existing rows brought to 030's rules from what they already hold. Separate from 030
-- because DuckDB refuses to commit an UPDATE of a table altered in the same transaction.
UPDATE findings SET pages = list_sort(list_distinct(list_transform(
    coalesce(json_extract(evidence, '$.pages.*'), []), x -> TRY_CAST(CAST(x AS VARCHAR) AS INTEGER))))
WHERE evidence IS NOT NULL;
UPDATE change_rows SET page = (SELECT TRY_CAST(json_extract_string(a.source, '$.field_pages.changes') AS INTEGER)
                               FROM assessments a WHERE a.sha256 = change_rows.sha256 AND a.city_code = change_rows.city_code);
UPDATE assessment_files SET page = (SELECT TRY_CAST(json_extract_string(a.source, '$.field_pages.files') AS INTEGER)
                                    FROM assessments a WHERE a.sha256 = assessment_files.sha256 AND a.city_code = assessment_files.city_code);
UPDATE file_outsourcing SET page = (SELECT f.page FROM assessment_files f WHERE f.sha256 = file_outsourcing.sha256
                                    AND f.city_code = file_outsourcing.city_code AND f.file_index = file_outsourcing.file_index);
UPDATE assessments SET unread_fields = coalesce(json_extract_string(source, '$.unread_fields[*]'), []);
-- A list the form does not have, or that could not be read, is NULL; an empty one stays [].
UPDATE assessments SET submitted_kinds = NULL WHERE kind IS DISTINCT FROM 'basic' OR list_contains(unread_fields, 'submitted_kinds');
UPDATE assessments SET third_party_review_dates = NULL WHERE kind NOT IN ('focused', 'full') OR kind IS NULL OR list_contains(unread_fields, 'third_party_review_dates');
UPDATE assessments SET files = NULL WHERE kind NOT IN ('focused', 'full') OR kind IS NULL OR list_contains(unread_fields, 'files');
UPDATE assessments SET changes = NULL WHERE list_contains(unread_fields, 'changes');
UPDATE assessments SET risk_answers = NULL WHERE list_contains(unread_fields, 'risk_answers');
UPDATE assessments SET blank_fields = list_filter([
    CASE WHEN assessment_number IS NULL THEN 'assessment_number' END,
    CASE WHEN title IS NULL THEN 'title' END,
    CASE WHEN organization IS NULL THEN 'organization' END,
    CASE WHEN published_on IS NULL THEN 'published_on' END,
    CASE WHEN form_version IS NULL THEN 'form_version' END,
    CASE WHEN is_draft IS NULL THEN 'is_draft' END,
    CASE WHEN ended_on IS NULL THEN 'ended_on' END,
    CASE WHEN business_name IS NULL THEN 'business_name' END,
    CASE WHEN subject_count_band IS NULL THEN 'subject_count_band' END,
    CASE WHEN subject_count_as_of IS NULL AND kind = 'basic' THEN 'subject_count_as_of' END,
    CASE WHEN handler_count_500_or_more IS NULL AND kind = 'basic' THEN 'handler_count_500_or_more' END,
    CASE WHEN serious_incident_past_year IS NULL AND kind = 'basic' THEN 'serious_incident_past_year' END,
    CASE WHEN serious_incident_past_3_years IS NULL AND kind IN ('focused', 'full') THEN 'serious_incident_past_3_years' END,
    CASE WHEN threshold_result IS NULL THEN 'threshold_result' END,
    CASE WHEN threshold_result_voluntary IS NULL THEN 'threshold_result_voluntary' END,
    CASE WHEN len(submitted_kinds) = 0 THEN 'submitted_kinds' END,
    CASE WHEN basic_assessment_date IS NULL AND kind IN ('focused', 'full') THEN 'basic_assessment_date' END,
    CASE WHEN public_comment_start IS NULL AND kind IN ('focused', 'full') THEN 'public_comment_start' END,
    CASE WHEN public_comment_end IS NULL AND kind IN ('focused', 'full') THEN 'public_comment_end' END,
    CASE WHEN public_comment_shortened_reason IS NULL AND kind IN ('focused', 'full') THEN 'public_comment_shortened_reason' END,
    CASE WHEN len(third_party_review_dates) = 0 THEN 'third_party_review_dates' END,
    CASE WHEN json_array_length(files) = 0 THEN 'files' END,
    CASE WHEN json_array_length(changes) = 0 THEN 'changes' END,
    CASE WHEN json_array_length(risk_answers) = 0 THEN 'risk_answers' END
], x -> x IS NOT NULL AND NOT list_contains(unread_fields, x));
UPDATE failures SET status = CASE WHEN resolved THEN 'resolved' ELSE 'open' END;

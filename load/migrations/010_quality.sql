-- 010: the key that says which part of a document a finding is about (a field, a change row…).
-- finding_id is a digest of document sha256 + rule + key; keeping the key lets the alerts step
-- ask whether a later version of the same document still has the same problem.
ALTER TABLE findings ADD COLUMN finding_key VARCHAR;
COMMENT ON COLUMN findings.finding_key IS 'which part of the document the finding is about: a field name, changes[N], risk_answers[N]… | — | quality';

-- 020: a delivery is either of the alert itself or of the notice that a new version fixed it.
ALTER TABLE alert_deliveries ADD COLUMN notice VARCHAR;
UPDATE alert_deliveries SET notice = 'opened';
COMMENT ON COLUMN alert_deliveries.notice IS 'opened: the alert itself; resolved: the notice that a new version of the document fixed it | — | alerts';

-- The feed WatchConsent streams from: one row whenever the decision about a
-- dossier (consent, permission, reason) changes, and one when a dossier is
-- created. Written by the access log's writer in the same transaction as
-- the change that caused it (or by the expiry scan), under the log's lock,
-- so `seq` is in commit order: a watcher reading `seq > cursor` in order
-- never skips a change and never sees one twice.
CREATE TABLE decision_changes (
    seq             BIGINT NOT NULL PRIMARY KEY,
    company_name    TEXT   NOT NULL,
    dossier_id      TEXT   NOT NULL,
    consent         TEXT   NOT NULL,   -- PENDING | GRANTED | DECLINED
    gave_permission BIGINT NOT NULL,
    reason          TEXT   NOT NULL,   -- COMPANY_CHOICE | DEFAULT_CHOICE | NO_CHOICE | CHOICE_EXPIRED
    change_time     BIGINT NOT NULL    -- milliseconds since the epoch
);

-- A company's changes after a cursor.
CREATE INDEX decision_changes_by_company ON decision_changes (company_name, seq);
-- A dossier's last published decision, to tell a change from a repeat.
CREATE INDEX decision_changes_by_dossier ON decision_changes (dossier_id, seq);

-- The expiry scan: the grants whose end has just passed.
CREATE INDEX choice_versions_by_expiry ON choice_versions (expire_time);

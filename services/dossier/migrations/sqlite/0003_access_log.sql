-- The access log (NEN 7513): who asked about which patient, when, on whose
-- behalf, and what was answered. Written by services/dossier/access_log/ in
-- groups, each entry hash-chained to the one before (`hash`: SHA-256 over
-- the previous entry's hash and this entry's fields, the id first), so an
-- edit, removal or insertion is found by `toestemming audit verify`. Holds
-- no BSN, token or name of a patient.
CREATE TABLE access_log (
    id              BIGINT NOT NULL PRIMARY KEY,   -- 1, 2, 3, ... in chain order
    entry_time      BIGINT NOT NULL,               -- milliseconds since the epoch
    action          TEXT   NOT NULL,               -- CHECK_PERMISSION | CREATE_DOSSIER | DELETE_DOSSIER | SET_CHOICE | CLEAR_CHOICE
    pseudoniem      TEXT   NOT NULL,               -- the patient concerned
    company_name    TEXT   NOT NULL,               -- as Identity spells it; '' for the patient's default
    company_key     TEXT   NOT NULL,               -- company_name lowercased, for the patient's filter
    actor           TEXT   NOT NULL,               -- PATIENT | HEALTHCARE_COMPANY
    on_behalf_of    TEXT   NOT NULL,               -- role:subject of the end user, else of the caller
    refused         BIGINT NOT NULL,               -- 1: a refused attempt (no dossier)
    gave_permission BIGINT NOT NULL,               -- 1: CheckPermission gave permission
    consent         TEXT   NOT NULL,               -- PENDING | GRANTED | DECLINED | ''
    reason          TEXT   NOT NULL,               -- COMPANY_CHOICE | DEFAULT_CHOICE | NO_CHOICE | CHOICE_EXPIRED | ''
    request_id      TEXT   NOT NULL,
    hash            TEXT   NOT NULL
);

-- A patient's entries, newest first (ListMyAccessLog).
CREATE INDEX access_log_by_patient ON access_log (pseudoniem, id);

-- Where the chain stood when older entries were archived (docs/consent.md,
-- "Retention"): verify starts from the checkpoint before the first entry.
CREATE TABLE access_log_checkpoints (
    id            BIGINT NOT NULL PRIMARY KEY,     -- the last archived entry's id
    hash          TEXT   NOT NULL,                 -- its hash
    archived_time BIGINT NOT NULL
);

CREATE TRIGGER access_log_is_never_updated BEFORE UPDATE ON access_log
BEGIN
    SELECT RAISE(ABORT, 'access_log is append-only');
END;

CREATE TRIGGER access_log_is_never_deleted BEFORE DELETE ON access_log
BEGIN
    SELECT RAISE(ABORT, 'access_log is append-only');
END;

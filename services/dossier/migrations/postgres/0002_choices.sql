-- The patients' choices, apart from the companies' dossiers: a choice is the
-- patient's own record, and a dossier's consent is derived from it, never
-- stored on it (services/dossier/consent.rs). Append-only: every change is a
-- new version, withdrawing a choice is a CLEARED version, and the triggers
-- below refuse UPDATE, DELETE and TRUNCATE (SQLSTATE 42501). Patients appear
-- by pseudoniem only.
CREATE TABLE choice_versions (
    pseudoniem   TEXT   NOT NULL,
    company_name TEXT   NOT NULL,   -- as Identity spells it; '' for the default (every company)
    version      BIGINT NOT NULL,   -- 1, 2, 3, ... per (pseudoniem, company_name), in commit order
    consent      TEXT   NOT NULL,   -- GRANTED | DECLINED | CLEARED (the choice withdrawn)
    expire_time  BIGINT,            -- GRANTED only: when the grant stops (ms since the epoch)
    create_time  BIGINT NOT NULL,   -- when the patient made this version (ms since the epoch)
    PRIMARY KEY (pseudoniem, company_name, version),
    CHECK (consent IN ('GRANTED', 'DECLINED', 'CLEARED')),
    CHECK (expire_time IS NULL OR consent = 'GRANTED')
);

-- ListMyChoices pages through one patient's versions, newest first.
CREATE INDEX choice_versions_by_time ON choice_versions (pseudoniem, create_time);

-- The decisions patients made on today's dossiers become their choices for
-- those companies, as first versions, made when the dossier last changed.
INSERT INTO choice_versions (pseudoniem, company_name, version, consent, expire_time, create_time)
SELECT pseudoniem, company_name, 1, consent, NULL, update_time
FROM dossiers WHERE consent IN ('GRANTED', 'DECLINED');

-- A dossier is a company's request: it no longer holds a consent.
ALTER TABLE dossiers DROP COLUMN consent;
ALTER TABLE dossiers DROP COLUMN update_time;

CREATE FUNCTION choice_versions_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'choice_versions is append-only: a choice changes by a new version'
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER choice_versions_are_never_changed BEFORE UPDATE OR DELETE ON choice_versions
    FOR EACH ROW EXECUTE FUNCTION choice_versions_append_only();

CREATE TRIGGER choice_versions_are_never_truncated BEFORE TRUNCATE ON choice_versions
    FOR EACH STATEMENT EXECUTE FUNCTION choice_versions_append_only();

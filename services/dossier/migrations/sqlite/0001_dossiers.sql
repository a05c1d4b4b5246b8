-- One row per (company, patient). Patients appear by pseudoniem only: no BSN here.
CREATE TABLE dossiers (
    id           TEXT   NOT NULL PRIMARY KEY,
    company_name TEXT   NOT NULL,
    pseudoniem   TEXT   NOT NULL,
    consent      TEXT   NOT NULL,   -- PENDING | GRANTED | DECLINED
    create_time  BIGINT NOT NULL,   -- milliseconds since the epoch
    update_time  BIGINT NOT NULL,
    UNIQUE (company_name, pseudoniem)
);

-- ListMyDossiers pages through one patient's dossiers by (create_time, id).
CREATE INDEX dossiers_by_patient ON dossiers (pseudoniem, create_time, id);

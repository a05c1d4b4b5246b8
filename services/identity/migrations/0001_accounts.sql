-- Patients are known by pseudoniem only: Identity never stores a BSN.
CREATE TABLE patients (
    pseudoniem    TEXT   NOT NULL PRIMARY KEY,
    first_name    TEXT   NOT NULL,
    last_name     TEXT   NOT NULL,
    password_hash TEXT   NOT NULL,   -- argon2id, PHC string
    created_at    BIGINT NOT NULL
);

-- Company names are unique case-insensitively: name_key is the lowercased name.
CREATE TABLE companies (
    id          TEXT   NOT NULL PRIMARY KEY,
    name        TEXT   NOT NULL,
    name_key    TEXT   NOT NULL UNIQUE,
    secret_hash TEXT   NOT NULL,     -- SHA-256 of the random client secret, hex
    created_at  BIGINT NOT NULL
);

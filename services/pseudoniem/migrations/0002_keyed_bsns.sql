-- BSNs are stored only as HMAC-SHA256 under PSEUDONIEM_BSN_KEY, a key kept
-- outside the database: a copy of this table names no patient. The clear
-- table of the release before (`pseudoniemen`) is moved here by the service
-- at start-up, which holds the key (services/pseudoniem/clear_bsns.rs), and
-- then dropped.
CREATE TABLE bsn_pseudoniemen (
    bsn_hmac   TEXT   NOT NULL PRIMARY KEY,   -- HMAC-SHA256 of the BSN, lowercase hex
    pseudoniem TEXT   NOT NULL UNIQUE,
    created_at BIGINT NOT NULL                -- milliseconds since the epoch
);

-- The only BSN -> pseudoniem table in the mesh. No other database holds a BSN.
CREATE TABLE pseudoniemen (
    bsn        TEXT   NOT NULL PRIMARY KEY,
    pseudoniem TEXT   NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);

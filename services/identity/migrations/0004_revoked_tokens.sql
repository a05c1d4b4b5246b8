-- Revoked tokens (RevokeToken, called by the website at sign-out): the
-- token's `jti` and `exp` (seconds since the epoch), refused until then.
-- `seq` is the position ListRevokedTokens' cursor names: the next number
-- after the largest, taken in the inserting statement, so a later row
-- always has a larger one and becomes visible only after the rows before
-- it (a concurrent insert that took the same number fails on the key and
-- is tried again). Rows past their `exp` are purged, all but the newest,
-- which keeps the numbering going.
CREATE TABLE revoked_tokens (
    seq BIGINT NOT NULL PRIMARY KEY,
    jti TEXT NOT NULL UNIQUE,
    exp BIGINT NOT NULL,
    revoked_at BIGINT NOT NULL
);

CREATE INDEX revoked_tokens_by_exp ON revoked_tokens (exp);

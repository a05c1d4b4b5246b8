-- A company is unverified until an operator verifies it
-- (`toestemming companies verify NAME`): a patient's default choice for every
-- company covers verified companies only, since anyone may register a name.
-- NULL: unverified; else when it was verified (milliseconds since the epoch).
ALTER TABLE companies ADD COLUMN verified_time BIGINT;

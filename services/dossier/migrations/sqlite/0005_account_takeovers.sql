-- When a patient first signed in through the identity provider and so took
-- over a password account that anyone who knew the BSN could have made
-- (Identity says so: RecordAccountTakeover). A grant recorded before that
-- moment is suspended (it denies, AWAITING_CONFIRMATION) until the patient
-- grants again. One row per patient; the first moment counts.
CREATE TABLE account_takeovers (
    pseudoniem    TEXT   NOT NULL PRIMARY KEY,
    taken_over_at BIGINT NOT NULL   -- milliseconds since the epoch
);

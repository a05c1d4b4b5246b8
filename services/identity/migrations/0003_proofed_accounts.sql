-- Patients signed in through the OpenID provider (a DigiD broker in
-- production): `proofed_at` is when the provider first vouched for the
-- patient behind the pseudoniem. Such an account has no password
-- (password_hash is empty) and never gets one: knowing a BSN proves
-- nothing, so only the provider signs it in. NULL: a password account of
-- the development mode, which the first proofed sign-in for its BSN takes
-- over.
ALTER TABLE patients ADD COLUMN proofed_at BIGINT;

-- New company names are unique by their look: the UTS #39 skeleton of the
-- name without case (src/ids/look_alike.rs), computed by Identity, which
-- fills it in for earlier companies at start-up. A name registered before
-- the rule that looks like an older one keeps its spelling and no skeleton
-- (NULL: a unique index admits any number of them); Identity reports it,
-- and every later look-alike is refused.
ALTER TABLE companies ADD COLUMN name_skeleton TEXT;
CREATE UNIQUE INDEX companies_name_skeleton ON companies (name_skeleton);

#!/usr/bin/env bash
# Creates one database and one role per service, least privilege:
#   identity   → database identity,   role identity
#   pseudoniem → database pseudoniem, role pseudoniem  (the only BSN table)
#   dossier    → database dossier,    role dossier, owned by dossier_owner
# Identity's and Pseudoniem's roles own their databases (they run their
# migrations there). Dossier's does not: its access log and its patients'
# choices are append-only evidence, and an owner can grant itself anything
# back, so the role `dossier_owner`, which no service runs as, owns the
# database and applies the migrations (`toestemming migrate dossier
# --grant-to dossier`, compose's dossier-migrate, Kubernetes' init
# container), and grants `dossier` only what it needs: no UPDATE or DELETE
# on the log or the choices. No role may connect to another service's
# database, so Identity's and Dossier's roles cannot read Pseudoniem's table.
#
# The official postgres image runs this from /docker-entrypoint-initdb.d/ on
# first start, as POSTGRES_USER. The tests run it against a throwaway
# cluster with PGHOST/PGPORT/PGPASSWORD set. The passwords come from
# IDENTITY_DB_PASSWORD, PSEUDONIEM_DB_PASSWORD, DOSSIER_DB_PASSWORD and
# DOSSIER_OWNER_DB_PASSWORD, or from the files named by the same variables
# with _FILE appended (Docker secrets).
set -euo pipefail

secret() {
    local name="$1" file_var="$1_FILE"
    if [[ -n "${!file_var:-}" ]]; then
        local value
        value="$(cat "${!file_var}")"
        printf '%s' "${value%$'\n'}"
    elif [[ -n "${!name:-}" ]]; then
        printf '%s' "${!name}"
    else
        echo "init-databases.sh: set $name or $file_var" >&2
        exit 1
    fi
}

psql_admin() {
    psql -v ON_ERROR_STOP=1 -X -q --username "${POSTGRES_USER:-postgres}" "$@"
}

for service in identity pseudoniem; do
    variable="$(printf '%s' "$service" | tr '[:lower:]' '[:upper:]')_DB_PASSWORD"
    password="$(secret "$variable")"
    # psql's :'name' quotes the value as a literal, so any password is safe.
    psql_admin --dbname postgres -v service="$service" -v password="$password" <<'SQL'
CREATE ROLE :"service" LOGIN PASSWORD :'password' NOSUPERUSER NOCREATEDB NOCREATEROLE;
CREATE DATABASE :"service" OWNER :"service";
REVOKE ALL ON DATABASE :"service" FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE :"service" TO :"service";
SQL
    echo "init-databases.sh: database and role $service created"
done

psql_admin --dbname postgres -v password="$(secret DOSSIER_DB_PASSWORD)" \
    -v owner_password="$(secret DOSSIER_OWNER_DB_PASSWORD)" <<'SQL'
CREATE ROLE dossier_owner LOGIN PASSWORD :'owner_password' NOSUPERUSER NOCREATEDB NOCREATEROLE;
CREATE ROLE dossier LOGIN PASSWORD :'password' NOSUPERUSER NOCREATEDB NOCREATEROLE;
CREATE DATABASE dossier OWNER dossier_owner;
REVOKE ALL ON DATABASE dossier FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE dossier TO dossier_owner;
GRANT CONNECT ON DATABASE dossier TO dossier;
SQL
# PostgreSQL 15: the schema public belongs to the database's owner, and
# PUBLIC may use it but not create in it; `dossier` gets its table rights
# from the migrations' owner.
psql_admin --dbname dossier <<'SQL'
REVOKE ALL ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO dossier;
SQL
echo "init-databases.sh: database dossier, its owner dossier_owner and the service role dossier created"

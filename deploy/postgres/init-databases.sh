#!/usr/bin/env bash
# Creates one database and one role per service, least privilege:
#   identity   → database identity,   role identity
#   pseudoniem → database pseudoniem, role pseudoniem  (the only BSN table)
#   dossier    → database dossier,    role dossier
# Each role owns its own database (it runs its service's migrations there)
# and nothing else: no role may connect to another service's database, so
# Identity's and Dossier's roles cannot read Pseudoniem's BSN table.
#
# The official postgres image runs this from /docker-entrypoint-initdb.d/ on
# first start, as POSTGRES_USER. The tests run it against a throwaway
# cluster with PGHOST/PGPORT/PGPASSWORD set. The passwords come from
# IDENTITY_DB_PASSWORD, PSEUDONIEM_DB_PASSWORD, DOSSIER_DB_PASSWORD, or from
# the files named by the same variables with _FILE appended (Docker secrets).
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

for service in identity pseudoniem dossier; do
    variable="$(printf '%s' "$service" | tr '[:lower:]' '[:upper:]')_DB_PASSWORD"
    password="$(secret "$variable")"
    # psql's :'name' quotes the value as a literal, so any password is safe.
    psql -v ON_ERROR_STOP=1 -X -q --username "${POSTGRES_USER:-postgres}" --dbname postgres \
        -v service="$service" -v password="$password" <<'SQL'
CREATE ROLE :"service" LOGIN PASSWORD :'password' NOSUPERUSER NOCREATEDB NOCREATEROLE;
CREATE DATABASE :"service" OWNER :"service";
REVOKE ALL ON DATABASE :"service" FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE :"service" TO :"service";
SQL
    echo "init-databases.sh: database and role $service created"
done

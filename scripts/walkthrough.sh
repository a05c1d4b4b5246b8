#!/usr/bin/env bash
# The contract's grpcurl walkthrough, run against a mesh that is already up.
#
#   RegisterCompany -> IssueCompanyToken -> RegisterPatient -> CreateDossier
#   (PENDING) -> CheckPermission (false) -> LoginPatient -> ListMyDossiers ->
#   SetConsent GRANTED -> CheckPermission (true) -> DeleteDossier ->
#   CheckPermission (NOT_FOUND) -> CreateDossier again (GRANTED, reason
#   COMPANY_CHOICE: the patient's choice outlived the dossier) -> SetConsent
#   DECLINED -> DeleteDossier -> CreateDossier again (DECLINED) -> SetChoice
#   every_company GRANTED -> a second, verified company's CreateDossier
#   (GRANTED, reason DEFAULT_CHOICE) -> ListMyChoices (both choices) ->
#   ListMyAccessLog (every step about the patient, a refused attempt
#   included) -> WatchConsent as the company while the patient grants (the
#   change arrives within a second)
#
# With WALKTHROUGH_PATIENT_SIGNIN (a command that, given a BSN, prints the
# Patient token of a sign-in through the identity provider, such as
# scripts/provider_signin.py), the password steps are replaced: where
# password sign-in is off (compose), RegisterPatient and LoginPatient must be
# FAILED_PRECONDITION, and the patient signs in through the provider.
#
# plus: every address lists its service through reflection, CreateDossier
# without a token is UNAUTHENTICATED, and a company token on Pseudoniem's
# GetPseudoniem is PERMISSION_DENIED.
#
# Uses server reflection only (no -proto) over plaintext. Every run makes a
# new company and a new random BSN, so it can be repeated against the same
# data. It prints step names and non-sensitive fields only: never a token, a
# secret, a password or a BSN. JSON is parsed with python3 (no jq).
#
# Environment: IDENTITY_ADDR (127.0.0.1:50051), PSEUDONIEM_ADDR
# (127.0.0.1:50052), DOSSIER_ADDR (127.0.0.1:50053), GRPCURL (default
# .venv/bin/grpcurl from scripts/install-test-deps.sh, else grpcurl on PATH),
# WALKTHROUGH_SENSITIVE_FILE (optional, see remember_sensitive),
# WALKTHROUGH_VERIFY_COMPANY (the command that verifies a company on
# Identity's database, given its name as the last argument; default
# `target/debug/toestemming companies verify` with this environment's
# DATA_DIR or DATABASE_URL; for compose, `docker compose exec -T identity
# toestemming companies verify`).
set -euo pipefail

IDENTITY_ADDR="${IDENTITY_ADDR:-127.0.0.1:50051}"
PSEUDONIEM_ADDR="${PSEUDONIEM_ADDR:-127.0.0.1:50052}"
DOSSIER_ADDR="${DOSSIER_ADDR:-127.0.0.1:50053}"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [[ -z "${GRPCURL:-}" ]]; then
    if [[ -x "$root/.venv/bin/grpcurl" ]]; then
        GRPCURL="$root/.venv/bin/grpcurl"
    elif command -v grpcurl >/dev/null 2>&1; then
        GRPCURL="$(command -v grpcurl)"
    else
        echo "walkthrough: grpcurl not found; run scripts/install-test-deps.sh first" >&2
        exit 1
    fi
fi

read -r -a verify_company_command <<<"${WALKTHROUGH_VERIFY_COMPANY:-$root/target/debug/toestemming companies verify}"

IDENTITY=toestemming.identity.v1.IdentityService
PSEUDONIEM=toestemming.pseudoniem.v1.PseudoniemService
DOSSIER=toestemming.dossier.v1.DossierService

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
out="$work/out.json"
err="$work/err.txt"

# Values that must never be printed; redact() scrubs them from anything shown.
# When WALKTHROUGH_SENSITIVE_FILE is set, they are also appended there (one
# a line), so scripts/test.sh can check that no server log contains them.
sensitive=()
remember_sensitive() {
    sensitive+=("$@")
    if [[ -n "${WALKTHROUGH_SENSITIVE_FILE:-}" ]]; then
        printf '%s\n' "$@" >>"$WALKTHROUGH_SENSITIVE_FILE"
    fi
}

redact() {
    REDACT_VALUES="$(printf '%s\n' "${sensitive[@]+"${sensitive[@]}"}")" python3 -c '
import os, re, sys
text = sys.stdin.read()
for value in filter(None, os.environ.get("REDACT_VALUES", "").split("\n")):
    text = text.replace(value, "<redacted>")
text = re.sub(r"[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]+", "<redacted-jwt>", text)
text = re.sub(r"(?<![0-9A-Za-z-])[0-9]{9}(?![0-9A-Za-z-])", "<redacted-9-digits>", text)
sys.stdout.write(text)'
}

step=""
ok() { printf 'ok - %s\n' "$step"; }
fail() {
    printf 'not ok - %s\n' "$step"
    printf 'walkthrough FAILED at "%s": %s\n' "$step" "$*" | redact >&2
    if [[ -s "$out" ]]; then
        echo "--- response ---" >&2
        redact <"$out" >&2
    fi
    if [[ -s "$err" ]]; then
        echo "--- grpcurl stderr ---" >&2
        redact <"$err" >&2
    fi
    exit 1
}

# call ADDR METHOD JSON [TOKEN]: the request body goes through stdin (-d @)
# so no BSN or password appears in a process listing. Response in $out,
# grpcurl's stderr in $err; returns grpcurl's exit status.
call() {
    local addr="$1" method="$2" body="$3" token="${4:-}"
    local args=(-plaintext -connect-timeout 5 -max-time 20)
    if [[ -n "$token" ]]; then
        args+=(-H "authorization: Bearer $token")
    fi
    : >"$out"
    : >"$err"
    "$GRPCURL" "${args[@]}" -d @ "$addr" "$method" <<<"$body" >"$out" 2>"$err"
}

# expect_ok ADDR METHOD JSON [TOKEN]
expect_ok() {
    call "$@" || fail "$2 failed: $(grep -E '^ *(Code|Message):' "$err" | tr -s ' ' | tr '\n' ' ')"
}

# expect_code CODE ADDR METHOD JSON [TOKEN]: the call must fail with CODE
# (grpcurl's spelling, e.g. NotFound, Unauthenticated, PermissionDenied).
expect_code() {
    local code="$1"
    shift
    if call "$@"; then
        fail "$2 succeeded; expected status $code"
    fi
    local got
    got="$(sed -n 's/^ *Code: *//p' "$err" | head -n1)"
    [[ "$got" == "$code" ]] || fail "$2: expected status $code, got ${got:-no status (see stderr)}"
}

# field PATH: a field of the last response ($out). PATH is dot-separated;
# `len:PATH` gives a list's length. Missing fields print as empty, booleans
# as true/false. proto3 JSON omits default values (false, 0, ""), so a
# missing boolean means false.
field() {
    python3 - "$1" "$out" <<'PY'
import json, sys
path, file = sys.argv[1], sys.argv[2]
try:
    with open(file) as f:
        value = json.load(f)
except ValueError:
    print("<response is not JSON>")
    sys.exit(0)
want_len = path.startswith("len:")
if want_len:
    path = path[4:]
for part in path.split("."):
    if isinstance(value, list):
        value = value[int(part)] if int(part) < len(value) else None
    elif isinstance(value, dict):
        value = value.get(part)
    else:
        value = None
    if value is None:
        break
if want_len:
    print(len(value or []))
elif isinstance(value, bool):
    print("true" if value else "false")
elif value is None:
    print("")
else:
    print(value)
PY
}

# expect_field PATH WANT
expect_field() {
    local got
    got="$(field "$1")"
    [[ "$got" == "$2" ]] || fail "$1 is '${got}', expected '$2'"
}

# expect_bool PATH true|false: a missing boolean is false (proto3 JSON).
expect_bool() {
    local got
    got="$(field "$1")"
    [[ -n "$got" ]] || got=false
    [[ "$got" == "$2" ]] || fail "$1 is '${got}', expected '$2'"
}

uuid_re='^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'

# A random BSN passing the 11-proof: 9·d1 + 8·d2 + … + 2·d8 − d9 ≡ 0 (mod 11).
bsn="$(python3 -c '
import secrets
while True:
    d = [secrets.randbelow(10) for _ in range(8)]
    check = sum(w * x for w, x in zip(range(9, 1, -1), d)) % 11
    if check < 10 and any(d + [check]):
        print("".join(map(str, d + [check])))
        break')"
password="walk-$(python3 -c 'import secrets; print(secrets.token_urlsafe(18))')"
suffix="$(python3 -c 'import secrets; print(secrets.token_hex(6))')"
company_name="Walkthrough Zorg $suffix"
remember_sensitive "$bsn" "$password"

echo "walkthrough: identity=$IDENTITY_ADDR pseudoniem=$PSEUDONIEM_ADDR dossier=$DOSSIER_ADDR"

# --- reflection -----------------------------------------------------------
for pair in "$IDENTITY_ADDR=$IDENTITY" "$PSEUDONIEM_ADDR=$PSEUDONIEM" "$DOSSIER_ADDR=$DOSSIER"; do
    addr="${pair%%=*}"
    service="${pair#*=}"
    step="list on $addr shows $service"
    : >"$out"
    "$GRPCURL" -plaintext -connect-timeout 5 -max-time 20 "$addr" list >"$out" 2>"$err" ||
        fail "grpcurl list failed"
    grep -qxF "$service" "$out" || fail "$service is not listed"
    grep -qxF "grpc.health.v1.Health" "$out" || fail "grpc.health.v1.Health is not listed"
    : >"$out"
    ok
done

# --- company --------------------------------------------------------------
step="RegisterCompany"
expect_ok "$IDENTITY_ADDR" "$IDENTITY/RegisterCompany" "{\"companyName\": \"$company_name\"}"
company_id="$(field companyId)"
client_secret="$(field clientSecret)"
remember_sensitive "$client_secret"
[[ "$company_id" =~ $uuid_re ]] || fail "companyId is not a lowercase UUID"
[[ -n "$client_secret" ]] || fail "no clientSecret in the response"
ok

step="IssueCompanyToken"
expect_ok "$IDENTITY_ADDR" "$IDENTITY/IssueCompanyToken" \
    "{\"companyId\": \"$company_id\", \"clientSecret\": \"$client_secret\"}"
company_token="$(field accessToken)"
remember_sensitive "$company_token"
[[ -n "$company_token" ]] || fail "no accessToken in the response"
expect_field tokenType Bearer
expires_in="$(field expiresIn)"
[[ "$expires_in" =~ ^[0-9]+$ ]] && ((expires_in > 0 && expires_in <= 900)) ||
    fail "expiresIn is '$expires_in', expected 1..900 seconds"
ok

# --- patient --------------------------------------------------------------
if [[ -z "${WALKTHROUGH_PATIENT_SIGNIN:-}" ]]; then
    step="RegisterPatient"
    expect_ok "$IDENTITY_ADDR" "$IDENTITY/RegisterPatient" \
        "{\"bsn\": \"$bsn\", \"firstName\": \"Walk\", \"lastName\": \"Through\", \"password\": \"$password\"}"
    [[ "$(field pseudoniem)" =~ $uuid_re ]] || fail "pseudoniem is not a lowercase UUID"
    ok
else
    step="RegisterPatient is FailedPrecondition: patients sign in through the identity provider"
    expect_code FailedPrecondition "$IDENTITY_ADDR" "$IDENTITY/RegisterPatient" \
        "{\"bsn\": \"$bsn\", \"firstName\": \"Walk\", \"lastName\": \"Through\", \"password\": \"$password\"}"
    grep -q PASSWORD_SIGNIN_DISABLED "$err" || fail "the refusal does not say PASSWORD_SIGNIN_DISABLED"
    ok
fi

# --- dossier, as the company ---------------------------------------------
step="CreateDossier without a token is Unauthenticated"
expect_code Unauthenticated "$DOSSIER_ADDR" "$DOSSIER/CreateDossier" "{\"bsn\": \"$bsn\"}"
ok

step="CreateDossier (PENDING, created)"
expect_ok "$DOSSIER_ADDR" "$DOSSIER/CreateDossier" "{\"bsn\": \"$bsn\"}" "$company_token"
expect_field dossier.consent CONSENT_STATUS_PENDING
expect_bool created true
expect_field dossier.companyName "$company_name"
dossier_id="$(field dossier.id)"
[[ "$dossier_id" =~ $uuid_re ]] || fail "dossier.id is not a lowercase UUID"
ok

step="CreateDossier again is idempotent (created false)"
expect_ok "$DOSSIER_ADDR" "$DOSSIER/CreateDossier" "{\"bsn\": \"$bsn\"}" "$company_token"
expect_bool created false
expect_field dossier.id "$dossier_id"
ok

step="CheckPermission (gavePermission false)"
expect_ok "$DOSSIER_ADDR" "$DOSSIER/CheckPermission" "{\"bsn\": \"$bsn\"}" "$company_token"
expect_bool gavePermission false
expect_field consent CONSENT_STATUS_PENDING
ok

step="GetPseudoniem with a company token is PermissionDenied"
expect_code PermissionDenied "$PSEUDONIEM_ADDR" "$PSEUDONIEM/GetPseudoniem" "{\"bsn\": \"$bsn\"}" "$company_token"
ok

# --- consent, as the patient ---------------------------------------------
if [[ -z "${WALKTHROUGH_PATIENT_SIGNIN:-}" ]]; then
    step="LoginPatient"
    expect_ok "$IDENTITY_ADDR" "$IDENTITY/LoginPatient" "{\"bsn\": \"$bsn\", \"password\": \"$password\"}"
    patient_token="$(field accessToken)"
    remember_sensitive "$patient_token"
    [[ -n "$patient_token" ]] || fail "no accessToken in the response"
    expect_field tokenType Bearer
    ok
else
    step="the patient signs in through the identity provider (the website's flow)"
    read -r -a patient_signin_command <<<"$WALKTHROUGH_PATIENT_SIGNIN"
    patient_token="$("${patient_signin_command[@]}" "$bsn" 2>"$err")" ||
        fail "the sign-in through the provider failed: $(cat "$err")"
    remember_sensitive "$patient_token"
    expect_code FailedPrecondition "$IDENTITY_ADDR" "$IDENTITY/LoginPatient" \
        "{\"bsn\": \"$bsn\", \"password\": \"$password\"}"
    ok
fi

step="ListMyDossiers (one dossier, the company's)"
expect_ok "$DOSSIER_ADDR" "$DOSSIER/ListMyDossiers" "{}" "$patient_token"
expect_field len:dossiers 1
expect_field dossiers.0.companyName "$company_name"
expect_field dossiers.0.id "$dossier_id"
expect_field dossiers.0.consent CONSENT_STATUS_PENDING
ok

step="SetConsent GRANTED"
expect_ok "$DOSSIER_ADDR" "$DOSSIER/SetConsent" \
    "{\"dossierId\": \"$dossier_id\", \"consent\": \"CONSENT_STATUS_GRANTED\"}" "$patient_token"
expect_field dossier.consent CONSENT_STATUS_GRANTED
expect_field dossier.id "$dossier_id"
ok

# --- back to the company --------------------------------------------------
step="CheckPermission (gavePermission true)"
expect_ok "$DOSSIER_ADDR" "$DOSSIER/CheckPermission" "{\"bsn\": \"$bsn\"}" "$company_token"
expect_bool gavePermission true
expect_field consent CONSENT_STATUS_GRANTED
ok

step="DeleteDossier"
expect_ok "$DOSSIER_ADDR" "$DOSSIER/DeleteDossier" "{\"bsn\": \"$bsn\"}" "$company_token"
ok

step="CheckPermission after delete is NotFound"
expect_code NotFound "$DOSSIER_ADDR" "$DOSSIER/CheckPermission" "{\"bsn\": \"$bsn\"}" "$company_token"
ok

# --- the patient's choice outlives the company's dossier ------------------
step="CreateDossier again (GRANTED, reason COMPANY_CHOICE: the choice outlived the dossier)"
expect_ok "$DOSSIER_ADDR" "$DOSSIER/CreateDossier" "{\"bsn\": \"$bsn\"}" "$company_token"
expect_bool created true
expect_field dossier.consent CONSENT_STATUS_GRANTED
expect_field dossier.reason DECISION_REASON_COMPANY_CHOICE
dossier_id="$(field dossier.id)"
ok

step="CheckPermission says why (COMPANY_CHOICE)"
expect_ok "$DOSSIER_ADDR" "$DOSSIER/CheckPermission" "{\"bsn\": \"$bsn\"}" "$company_token"
expect_bool gavePermission true
expect_field reason DECISION_REASON_COMPANY_CHOICE
ok

step="SetConsent DECLINED"
expect_ok "$DOSSIER_ADDR" "$DOSSIER/SetConsent" \
    "{\"dossierId\": \"$dossier_id\", \"consent\": \"CONSENT_STATUS_DECLINED\"}" "$patient_token"
expect_field dossier.consent CONSENT_STATUS_DECLINED
ok

step="DeleteDossier, then CreateDossier again (DECLINED: the company cannot erase the no)"
expect_ok "$DOSSIER_ADDR" "$DOSSIER/DeleteDossier" "{\"bsn\": \"$bsn\"}" "$company_token"
expect_ok "$DOSSIER_ADDR" "$DOSSIER/CreateDossier" "{\"bsn\": \"$bsn\"}" "$company_token"
expect_field dossier.consent CONSENT_STATUS_DECLINED
expect_field dossier.reason DECISION_REASON_COMPANY_CHOICE
expect_ok "$DOSSIER_ADDR" "$DOSSIER/CheckPermission" "{\"bsn\": \"$bsn\"}" "$company_token"
expect_bool gavePermission false
expect_field reason DECISION_REASON_COMPANY_CHOICE
ok

step="SetChoice every_company GRANTED"
expect_ok "$DOSSIER_ADDR" "$DOSSIER/SetChoice" \
    "{\"everyCompany\": true, \"consent\": \"CONSENT_STATUS_GRANTED\"}" "$patient_token"
expect_bool choice.everyCompany true
expect_field choice.consent CONSENT_STATUS_GRANTED
ok

step="a second company registers and an operator verifies it"
second_name="Walkthrough Apotheek $suffix"
expect_ok "$IDENTITY_ADDR" "$IDENTITY/RegisterCompany" "{\"companyName\": \"$second_name\"}"
second_id="$(field companyId)"
second_secret="$(field clientSecret)"
remember_sensitive "$second_secret"
expect_ok "$IDENTITY_ADDR" "$IDENTITY/IssueCompanyToken" \
    "{\"companyId\": \"$second_id\", \"clientSecret\": \"$second_secret\"}"
second_token="$(field accessToken)"
remember_sensitive "$second_token"
"${verify_company_command[@]}" "$second_name" >"$out" 2>"$err" ||
    fail "verifying the company failed: $(cat "$err")"
grep -q "^verified" "$out" || fail "the operator command did not say it verified the company"
ok

step="the second company's CreateDossier (GRANTED, reason DEFAULT_CHOICE)"
expect_ok "$DOSSIER_ADDR" "$DOSSIER/CreateDossier" "{\"bsn\": \"$bsn\"}" "$second_token"
expect_field dossier.consent CONSENT_STATUS_GRANTED
expect_field dossier.reason DECISION_REASON_DEFAULT_CHOICE
expect_ok "$DOSSIER_ADDR" "$DOSSIER/CheckPermission" "{\"bsn\": \"$bsn\"}" "$second_token"
expect_bool gavePermission true
expect_field reason DECISION_REASON_DEFAULT_CHOICE
ok

step="while the first company is still declined"
expect_ok "$DOSSIER_ADDR" "$DOSSIER/CheckPermission" "{\"bsn\": \"$bsn\"}" "$company_token"
expect_bool gavePermission false
ok

step="SetChoice as the company is PermissionDenied"
expect_code PermissionDenied "$DOSSIER_ADDR" "$DOSSIER/SetChoice" \
    "{\"everyCompany\": true, \"consent\": \"CONSENT_STATUS_DECLINED\"}" "$company_token"
ok

step="ListMyChoices (the company choice and the default)"
expect_ok "$DOSSIER_ADDR" "$DOSSIER/ListMyChoices" "{}" "$patient_token"
expect_field len:choices 2
expect_bool choices.0.everyCompany true
expect_field choices.1.companyName "$company_name"
expect_field choices.1.consent CONSENT_STATUS_DECLINED
expect_ok "$DOSSIER_ADDR" "$DOSSIER/ListMyChoices" "{\"includeHistory\": true}" "$patient_token"
expect_field len:choices 3
[[ -n "$(field choices.2.replaceTime)" ]] || fail "the replaced GRANTED has no replaceTime"
ok

step="ListCompanies finds the verified company by the start of its name"
expect_ok "$IDENTITY_ADDR" "$IDENTITY/ListCompanies" \
    "{\"namePrefix\": \"walkthrough apotheek $suffix\"}" "$patient_token"
expect_field len:companyNames 1
expect_field companyNames.0 "$second_name"
ok

step="ListMyAccessLog shows every step about the patient, newest first"
expect_ok "$DOSSIER_ADDR" "$DOSSIER/ListMyAccessLog" "{\"pageSize\": 100}" "$patient_token"
actions="$(python3 -c '
import json, sys
entries = json.load(open(sys.argv[1]))["entries"]
print(" ".join(e["action"].removeprefix("ACCESS_ACTION_") + ("(refused)" if e.get("refused") else "") for e in reversed(entries)))
' "$out")"
expected="CREATE_DOSSIER CREATE_DOSSIER CHECK_PERMISSION SET_CHOICE CHECK_PERMISSION DELETE_DOSSIER"
expected+=" CHECK_PERMISSION(refused) CREATE_DOSSIER CHECK_PERMISSION SET_CHOICE DELETE_DOSSIER"
expected+=" CREATE_DOSSIER CHECK_PERMISSION SET_CHOICE CREATE_DOSSIER CHECK_PERMISSION CHECK_PERMISSION"
[[ "$actions" == "$expected" ]] || fail "the log, oldest first, is '$actions'; expected '$expected'"
expect_field entries.0.companyName "$company_name"
expect_field entries.0.actor ACTOR_HEALTHCARE_COMPANY
expect_bool entries.1.gavePermission true
expect_field entries.1.reason DECISION_REASON_DEFAULT_CHOICE
ok

step="WatchConsent: the company watches, the patient grants, the change arrives at once"
watch_out="$work/watch.txt"
"$GRPCURL" -plaintext -connect-timeout 5 -max-time 20 -v \
    -H "authorization: Bearer $company_token" -d '{}' \
    "$DOSSIER_ADDR" "$DOSSIER/WatchConsent" >"$watch_out" 2>/dev/null &
watch_pid=$!
# grpcurl -v prints the response headers once the stream is open.
for _ in $(seq 100); do
    grep -q "Response headers received" "$watch_out" && break
    sleep 0.05
done
grep -q "Response headers received" "$watch_out" || fail "WatchConsent did not open"
expect_ok "$DOSSIER_ADDR" "$DOSSIER/SetChoice" \
    "{\"companyName\": \"$company_name\", \"consent\": \"CONSENT_STATUS_GRANTED\"}" "$patient_token"
for _ in $(seq 20); do
    grep -q "Response contents" "$watch_out" && break
    sleep 0.05
done
kill "$watch_pid" 2>/dev/null || true
wait "$watch_pid" 2>/dev/null || true
python3 - "$watch_out" <<'PY' >"$out" || fail "WatchConsent sent no change within a second"
import json, sys
text = open(sys.argv[1]).read()
marker = "Response contents:"
changes = []
at = text.find(marker)
while at >= 0:
    change, end = json.JSONDecoder().raw_decode(text[at + len(marker):].lstrip())
    changes.append(change)
    at = text.find(marker, at + len(marker))
if len(changes) != 1:
    sys.exit(1)
print(json.dumps(changes[0]))
PY
expect_field consent CONSENT_STATUS_GRANTED
expect_bool gavePermission true
expect_field reason DECISION_REASON_COMPANY_CHOICE
[[ "$(field dossierId)" =~ $uuid_re ]] || fail "dossierId is not a lowercase UUID"
[[ -n "$(field cursor)" ]] || fail "the change has no cursor"
ok

echo "walkthrough: all steps passed"

#!/usr/bin/env bash
# Every test, in named stages, each of which can run alone:
#
#   scripts/test.sh                 every stage, in this order (CI: .ci/run)
#   scripts/test.sh STAGE...        only those, e.g. `scripts/test.sh lint test`
#
#   lint             buf lint, hadolint, docker-compose config, the Kubernetes
#                    manifests, cargo fmt --check, cargo clippy -D warnings
#   test             cargo test --all-targets (SQLite), then the tests plain
#                    `cargo test` ignores that need only this machine (root,
#                    to mount a tmpfs)
#   postgres         the PostgreSQL tests (their own clusters), then the whole
#                    integration suite again on a throwaway cluster
#   browser          the website in headless Chromium (axe-core, oidc-provider)
#   outside-clients  the contract's walkthrough with real grpcurl
#                    (scripts/walkthrough.sh) and with a Python client
#                    generated from proto/ (scripts/python_client.py) against
#                    the real binary: `toestemming all`, four processes, and
#                    four processes under EdDSA with a key rotation; each run
#                    also asks every service's health with `toestemming
#                    healthcheck` and checks that no server log holds a value
#                    the clients used. Then the compose deployment as
#                    processes on PostgreSQL (scripts/deployment_test.py).
#   bench-smoke      scripts/bench.py --quick on the debug build
#   fuzz             every cargo-fuzz target briefly over its seeds
#
# Plain `cargo test` needs only a Rust toolchain: the tests that need more
# are `#[ignore = "needs …"]`, and the stages above run them. What the
# stages need besides Rust (grpcurl, Python packages, Chromium, Node
# packages, h2load) scripts/install-test-deps.sh installs first.
# outside-clients and bench-smoke use the contract's default ports
# (127.0.0.1:50051-50053, 8080), which must be free. Every stage runs even
# when an earlier one failed; the last line is `stages: N passed, M failed`
# and the exit status is non-zero on any failure.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

STAGES=(lint test postgres browser outside-clients bench-smoke fuzz)
IDENTITY_ADDR=127.0.0.1:50051
PSEUDONIEM_ADDR=127.0.0.1:50052
DOSSIER_ADDR=127.0.0.1:50053
WEBSITE_ADDR=127.0.0.1:8080
READY_TIMEOUT_SECONDS="${READY_TIMEOUT_SECONDS:-60}"
BIN="$root/target/debug/toestemming"
GRPCURL="$root/.venv/bin/grpcurl"
export GRPCURL
PYTHON="$root/.venv/bin/python"
# The tests each stage leaves to another (`cargo test` filters).
BROWSER_TESTS=(browser_e2e:: browser_provider::)
POSTGRES_TESTS=(postgres::)

section() { printf '\n==> %s\n' "$*"; }

# --- the stages -------------------------------------------------------------

# The binary and the bench's programs (the bare hop, h2load's request
# bodies). An example takes the
# dev-dependencies' features, as `cargo test` does, so after the test stage
# this rebuilds nothing (`cargo build --bin` alone would rebuild much of
# the tree with other features).
build_programs() {
    cargo build --bin toestemming --example bare_hop --example request_bodies
}

stage_lint() {
    section "buf lint (proto/ against buf's STANDARD rules)"
    .venv/bin/buf lint

section "the deployment files: hadolint on the Dockerfile, docker-compose config"
    .venv/bin/hadolint Dockerfile
    docker-compose --env-file .env.example config --quiet
    # Without its secrets, compose must refuse to start.
    empty_env="$(mktemp)"
    if env -u JWT_SECRET_KEY -u INTERNAL_CLIENT_SECRET -u PSEUDONIEM_BSN_KEY -u POSTGRES_PASSWORD -u IDENTITY_DB_PASSWORD \
        -u PSEUDONIEM_DB_PASSWORD -u DOSSIER_DB_PASSWORD -u DOSSIER_OWNER_DB_PASSWORD \
        -u PATIENT_OIDC_CLIENT_SECRET -u KEYCLOAK_ADMIN_PASSWORD -u KEYCLOAK_TEST_PATIENT_PASSWORD \
        docker-compose --env-file "$empty_env" config --quiet 2>/dev/null; then
        echo "docker-compose accepted the file without its secrets" >&2
        rm -f "$empty_env"
        exit 1
    fi
    rm -f "$empty_env"
    echo "ok - the Dockerfile passes hadolint; compose accepts .env.example and refuses an empty .env"

section "the Kubernetes manifests against the Kubernetes 1.30 schemas (strict)"
    manifests=()
    for manifest in deploy/kubernetes/*.yaml; do
        [[ "$(basename "$manifest")" == kustomization.yaml ]] || manifests+=("$manifest")
    done
    .venv/bin/kubernetes-validate --strict --quiet -k 1.30.0 "${manifests[@]}"
    echo "ok - ${#manifests[@]} manifests valid"

    section "cargo fmt --all -- --check"
    cargo fmt --all -- --check

    section "cargo clippy --all-targets -- -D warnings"
    cargo clippy --all-targets -- -D warnings
}

stage_test() {
    section "cargo test --all-targets (SQLite)"
    cargo test --all-targets
    section "the ignored tests no other stage runs (they need root)"
    cargo test --test it -- --ignored \
        "${BROWSER_TESTS[@]/#/--skip=}" "${POSTGRES_TESTS[@]/#/--skip=}"
}

stage_postgres() {
    section "the PostgreSQL tests, each on clusters of its own"
    cargo test --test it -- --ignored "${POSTGRES_TESTS[@]}"

    section "the integration suite again, on PostgreSQL"
    # The same test binary, every service of every test on its own database
    # in a throwaway cluster that deploy/postgres/init-databases.sh prepared,
    # as the compose deployment's. The browser tests drive the website, not
    # the storage: they run once, in their own stage.
    local pg_dir pg_port pg_admin_password pg_role_password status=0
    pg_dir="$(mktemp -d "${TMPDIR:-/tmp}/toestemming-pg.XXXXXX")"
    chmod 755 "$pg_dir"
    pg_port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    pg_admin_password="$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
    pg_role_password="$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
    IDENTITY_DB_PASSWORD="$pg_role_password" PSEUDONIEM_DB_PASSWORD="$pg_role_password" \
        DOSSIER_DB_PASSWORD="$pg_role_password" DOSSIER_OWNER_DB_PASSWORD="$pg_role_password" \
        scripts/postgres.sh start "$pg_dir/cluster" "$pg_port" "$pg_admin_password" deploy/postgres/init-databases.sh
    TEST_POSTGRES_URL="postgres://postgres:$pg_admin_password@127.0.0.1:$pg_port" \
        TEST_POSTGRES_ROLE_PASSWORD="$pg_role_password" \
        cargo test --test it -- "${POSTGRES_TESTS[@]/#/--skip=}" "${BROWSER_TESTS[@]/#/--skip=}" || status=$?
    scripts/postgres.sh stop "$pg_dir/cluster" >/dev/null 2>&1 || true
    rm -rf "$pg_dir"
    return "$status"
}

stage_browser() {
    section "the website in headless Chromium"
    cargo test --test it -- --ignored "${BROWSER_TESTS[@]}"
}

stage_outside_clients() {
    build_programs
    # A mode's processes are stopped when it ends; this stops them too if
    # the stage itself is cut short.
    trap stop_all EXIT
    run_mode "toestemming all, one process" mesh_in_one_process
    run_mode "four processes" mesh_in_four_processes
    run_mode "four processes, EdDSA" mesh_in_four_processes_eddsa

    section "the compose deployment as processes on PostgreSQL (scripts/deployment_test.py)"
    if require_free "$IDENTITY_ADDR" "$PSEUDONIEM_ADDR" "$DOSSIER_ADDR" "$WEBSITE_ADDR" &&
        GRPCURL="$GRPCURL" "$PYTHON" scripts/deployment_test.py; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        echo "the deployment test FAILED" >&2
    fi
    echo "walkthrough: $passed passed, $failed failed"
    ((failed == 0))
}

stage_bench_smoke() {
    section "benchmark smoke run (scripts/bench.py --quick on the debug build; figures printed, not asserted)"
    # It proves the harness works and that the mesh answers every call of a
    # short load OK (h2load cannot see gRPC errors; the script reads them
    # from /metrics). Timings are not judged: this is a debug build on a CI
    # machine. The bare hop is built here as a program (with the same
    # features as the tests: no rebuild of dependencies).
    build_programs
    require_free "$IDENTITY_ADDR" "$PSEUDONIEM_ADDR" "$DOSSIER_ADDR" "$WEBSITE_ADDR" \
        127.0.0.1:9090 127.0.0.1:50061 127.0.0.1:50062
    "$PYTHON" scripts/bench.py --quick --bin target/debug
}

stage_fuzz() {
    section "cargo-fuzz: every target briefly over its seeds (scripts/fuzz.sh; docs/fuzzing.md)"
    # Builds fuzz/ once (AddressSanitizer, release; nightly or
    # RUSTC_BOOTSTRAP=1) and runs each target FUZZ_SECONDS (default 12)
    # against the rules it checks.
    scripts/fuzz.sh
}

# --- running the mesh as processes (outside-clients) -------------------------

tmp="$(mktemp -d "${TMPDIR:-/tmp}/toestemming-test.XXXXXX")"
pids=()
names=()

stop_all() {
    local pid
    for pid in "${pids[@]+"${pids[@]}"}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]+"${pids[@]}"}"; do
        # Up to 10 s for a graceful shutdown, then force it.
        for _ in $(seq 1 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    pids=()
    names=()
}

cleanup() {
    stop_all
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

show_logs() {
    local name
    for name in "${names[@]+"${names[@]}"}"; do
        echo "--- log of $name (last 200 lines) ---" >&2
        tail -n 200 "$tmp/$name.log" >&2 || true
    done
}

# start NAME [VAR=VALUE...] -- ARGS...: runs the binary in the background with
# a clean auth/storage environment plus the given variables.
start() {
    local name="$1"
    shift
    local vars=()
    while [[ "$1" != "--" ]]; do
        vars+=("$1")
        shift
    done
    shift
    env -u JWT_SECRET_KEY -u JwtSettings__SecretSigningKey -u INTERNAL_CLIENT_SECRET -u PSEUDONIEM_BSN_KEY \
        -u DATABASE_URL -u DATA_DIR -u LISTEN_ADDR -u WEBSITE_LISTEN_ADDR \
        -u IDENTITY_URL -u PSEUDONIEM_URL -u DOSSIER_URL \
        "${vars[@]+"${vars[@]}"}" "$BIN" "$@" >"$tmp/$name.log" 2>&1 &
    pids+=("$!")
    names+=("$name")
    echo "started $name (pid $!): toestemming $*"
}

# Refuses to run against a server that is already listening: the walkthrough
# would test that one instead of ours. A port nobody listens on may still be
# held for a while by a closing connection that happened to use it as its
# local port (these ports lie in Linux's ephemeral range, and the suites
# before open thousands of loopback connections): wait, up to a minute, until
# each can be bound.
require_free() {
    python3 - "$@" <<'PY'
import socket, sys, time
for addr in sys.argv[1:]:
    host, port = addr.rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=1).close()
        print(f"something is already listening on {addr}; stop it and rerun", file=sys.stderr)
        sys.exit(1)
    except OSError:
        pass
    deadline = time.monotonic() + 60
    while True:
        probe = socket.socket()
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, int(port)))
            break
        except OSError:
            if time.monotonic() > deadline:
                print(f"{addr} cannot be bound after 60 s", file=sys.stderr)
                sys.exit(1)
            time.sleep(1)
        finally:
            probe.close()
PY
}

# Polls grpc.health.v1.Health/Check on each address until SERVING, while the
# started processes stay alive.
wait_ready() {
    local addr deadline=$((SECONDS + READY_TIMEOUT_SECONDS)) i
    for addr in "$@"; do
        until "$GRPCURL" -plaintext -connect-timeout 2 -max-time 5 "$addr" grpc.health.v1.Health/Check \
            2>/dev/null | grep -q '"SERVING"'; do
            for i in "${!pids[@]}"; do
                if ! kill -0 "${pids[$i]}" 2>/dev/null; then
                    echo "${names[$i]} exited before $addr became ready" >&2
                    return 1
                fi
            done
            if ((SECONDS >= deadline)); then
                echo "$addr not SERVING after ${READY_TIMEOUT_SECONDS}s" >&2
                return 1
            fi
            sleep 0.5
        done
        echo "ready: $addr"
    done
    until "$BIN" healthcheck "http://$WEBSITE_ADDR/healthz" 2>/dev/null; do
        if ((SECONDS >= deadline)); then
            echo "the website at $WEBSITE_ADDR is not serving after ${READY_TIMEOUT_SECONDS}s" >&2
            return 1
        fi
        sleep 0.5
    done
    echo "ready: $WEBSITE_ADDR (website)"
}

# `toestemming healthcheck` against every service, as the containers run it:
# exit 0 when serving, and non-zero for an address nobody serves.
healthchecks() {
    local addr ok=0
    for addr in "$IDENTITY_ADDR" "$PSEUDONIEM_ADDR" "$DOSSIER_ADDR"; do
        "$BIN" healthcheck "http://$addr" || { echo "healthcheck of $addr failed" >&2; ok=1; }
    done
    "$BIN" healthcheck "http://$WEBSITE_ADDR/healthz" || { echo "healthcheck of the website failed" >&2; ok=1; }
    if "$BIN" healthcheck "http://127.0.0.1:9" 2>/dev/null; then
        echo "healthcheck passed for an address nobody serves" >&2
        ok=1
    fi
    ((ok == 0)) && echo "ok - toestemming healthcheck: every service serving"
}

# Runs the grpcurl walkthrough and then the generated Python client (both,
# even when the first fails), then checks that no server log contains a BSN,
# password, secret or token either of them used (without printing them).
walkthrough() {
    local sensitive="$tmp/sensitive.txt" name status=0 leaked=0
    : >"$sensitive"
    # Secrets of the mode itself (a private key's lines), when it has any.
    if [[ -f "$tmp/mode-secrets.txt" ]]; then
        cat "$tmp/mode-secrets.txt" >>"$sensitive"
    fi
    IDENTITY_ADDR="$IDENTITY_ADDR" PSEUDONIEM_ADDR="$PSEUDONIEM_ADDR" DOSSIER_ADDR="$DOSSIER_ADDR" \
        WALKTHROUGH_SENSITIVE_FILE="$sensitive" WALKTHROUGH_VERIFY_COMPANY="$verify_company" \
        scripts/walkthrough.sh || status=1
    echo "--- the same walkthrough with a Python client generated from proto/"
    IDENTITY_ADDR="$IDENTITY_ADDR" PSEUDONIEM_ADDR="$PSEUDONIEM_ADDR" DOSSIER_ADDR="$DOSSIER_ADDR" \
        WEBSITE_ADDR="$WEBSITE_ADDR" WALKTHROUGH_SENSITIVE_FILE="$sensitive" \
        WALKTHROUGH_VERIFY_COMPANY="$verify_company" "$PYTHON" scripts/python_client.py || status=1
    for name in "${names[@]}"; do
        if grep -qF -f "$sensitive" "$tmp/$name.log"; then
            echo "the log of $name contains a BSN, password, secret or token used by the walkthrough" >&2
            leaked=1
        fi
    done
    if ((leaked == 0)); then
        echo "ok - no server log contains a BSN, password, secret or token of the walkthrough"
    fi
    ((status == 0 && leaked == 0))
}

passed=0
failed=0
# The operator's command that verifies a company on the running mesh's
# Identity database (the walkthroughs' default choice covers verified
# companies only); each mode sets it for its database.
verify_company=""
identity_database() {
    verify_company="env -u DATA_DIR -u DATABASE_URL -u IDENTITY_DATABASE_URL $* $BIN companies verify"
}

# run_mode LABEL SETUP_FUNCTION [EXTRA_ADDR...]: starts the mesh, walks
# through with grpcurl and with the generated Python client, stops it.
# EXTRA_ADDRs must be free too.
run_mode() {
    local label="$1" setup="$2"
    shift 2
    section "walkthrough ($label)"
    if require_free "$IDENTITY_ADDR" "$PSEUDONIEM_ADDR" "$DOSSIER_ADDR" "$WEBSITE_ADDR" "$@" &&
        "$setup" &&
        wait_ready "$IDENTITY_ADDR" "$PSEUDONIEM_ADDR" "$DOSSIER_ADDR" &&
        healthchecks &&
        walkthrough &&
        { ! declare -F "${setup}_then" >/dev/null || "${setup}_then"; }; then
        passed=$((passed + 1))
        echo "walkthrough ($label): passed"
    else
        failed=$((failed + 1))
        echo "walkthrough ($label): FAILED" >&2
        show_logs
    fi
    stop_all
    rm -f "$tmp/mode-secrets.txt"
}

mesh_in_one_process() {
    mkdir -p "$tmp/all"
    identity_database "DATA_DIR=$tmp/all"
    start all "DATA_DIR=$tmp/all" -- all
}

mesh_in_four_processes() {
    local jwt_key internal_secret bsn_key service
    jwt_key="$(python3 -c 'import secrets; print(secrets.token_urlsafe(48))')"
    bsn_key="$(python3 -c 'import secrets; print(secrets.token_urlsafe(48))')"
    printf '%s\n' "$bsn_key" >"$tmp/mode-secrets.txt"
    internal_secret="$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')"
    for service in pseudoniem identity dossier; do
        mkdir -p "$tmp/$service"
    done
    identity_database "DATABASE_URL=sqlite://$tmp/identity/identity.db?mode=rwc"
    start pseudoniem "JWT_SECRET_KEY=$jwt_key" "INTERNAL_CLIENT_SECRET=$internal_secret" \
        "PSEUDONIEM_BSN_KEY=$bsn_key" \
        "DATA_DIR=$tmp/pseudoniem" "DATABASE_URL=sqlite://$tmp/pseudoniem/pseudoniem.db?mode=rwc" \
        "LISTEN_ADDR=$PSEUDONIEM_ADDR" -- pseudoniem
    start identity "JWT_SECRET_KEY=$jwt_key" "INTERNAL_CLIENT_SECRET=$internal_secret" \
        "DATA_DIR=$tmp/identity" "DATABASE_URL=sqlite://$tmp/identity/identity.db?mode=rwc" \
        "LISTEN_ADDR=$IDENTITY_ADDR" -- identity
    start dossier "JWT_SECRET_KEY=$jwt_key" "INTERNAL_CLIENT_SECRET=$internal_secret" \
        "DATA_DIR=$tmp/dossier" "DATABASE_URL=sqlite://$tmp/dossier/dossier.db?mode=rwc" \
        "LISTEN_ADDR=$DOSSIER_ADDR" -- dossier
    start website "JWT_SECRET_KEY=$jwt_key" "INTERNAL_CLIENT_SECRET=$internal_secret" \
        "IDENTITY_URL=http://$IDENTITY_ADDR" "DOSSIER_URL=http://$DOSSIER_ADDR" \
        "LISTEN_ADDR=$WEBSITE_ADDR" -- website
}

# (c) JWT_ALGORITHM=EdDSA in four processes: only Identity holds a private
# key (made by `toestemming keys generate`); Dossier and the website fetch
# the public key set from Identity's GetJwks, Pseudoniem reads it from a
# JWT_JWKS_FILE. No process has JWT_SECRET_KEY. After the walkthrough the
# keys rotate (`toestemming keys rotate`, SIGHUP to Identity) and the
# walkthrough runs again on the rotated keys.
mesh_in_four_processes_eddsa() {
    local internal_secret service keys="$tmp/keys"
    internal_secret="$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')"
    # The BSN key as a file, as Docker and Kubernetes secrets give it.
    python3 -c 'import secrets; print(secrets.token_urlsafe(48))' >"$tmp/pseudoniem-bsn.key"
    cat "$tmp/pseudoniem-bsn.key" >>"$tmp/mode-secrets.txt"
    "$BIN" keys generate "$keys" >/dev/null
    "$BIN" keys jwks "$keys" >"$tmp/jwks.json"
    # The private keys' base64 lines must never reach a log.
    grep -hv -- '-----' "$keys/current.pem" "$keys/next.pem" >>"$tmp/mode-secrets.txt"
    # Only Identity may hold a private key: another service refuses it.
    if env -u JWT_SECRET_KEY JWT_ALGORITHM=EdDSA "JWT_PRIVATE_KEY_FILE=$keys/current.pem" \
        "INTERNAL_CLIENT_SECRET=$internal_secret" LISTEN_ADDR=127.0.0.1:0 \
        "$BIN" dossier >"$tmp/refused.log" 2>&1; then
        echo "dossier started with a private key" >&2
        return 1
    fi
    grep -q "only Identity signs" "$tmp/refused.log" ||
        { echo "dossier's refusal does not say why:" >&2; cat "$tmp/refused.log" >&2; return 1; }
    echo "ok - a service other than Identity refuses a private key"
    for service in pseudoniem identity dossier; do
        mkdir -p "$tmp/$service"
    done
    identity_database "DATABASE_URL=sqlite://$tmp/identity/identity.db?mode=rwc"
    start pseudoniem JWT_ALGORITHM=EdDSA "JWT_JWKS_FILE=$tmp/jwks.json" \
        "PSEUDONIEM_BSN_KEY_FILE=$tmp/pseudoniem-bsn.key" \
        "DATA_DIR=$tmp/pseudoniem" "DATABASE_URL=sqlite://$tmp/pseudoniem/pseudoniem.db?mode=rwc" \
        "LISTEN_ADDR=$PSEUDONIEM_ADDR" -- pseudoniem
    start identity JWT_ALGORITHM=EdDSA "JWT_PRIVATE_KEY_FILE=$keys/current.pem" \
        "JWT_NEXT_PRIVATE_KEY_FILE=$keys/next.pem" "JWT_PREVIOUS_PUBLIC_KEY_FILE=$keys/previous.pub.pem" \
        "INTERNAL_CLIENT_SECRET=$internal_secret" \
        "DATA_DIR=$tmp/identity" "DATABASE_URL=sqlite://$tmp/identity/identity.db?mode=rwc" \
        "LISTEN_ADDR=$IDENTITY_ADDR" -- identity
    start dossier JWT_ALGORITHM=EdDSA "INTERNAL_CLIENT_SECRET=$internal_secret" \
        "DATA_DIR=$tmp/dossier" "DATABASE_URL=sqlite://$tmp/dossier/dossier.db?mode=rwc" \
        "LISTEN_ADDR=$DOSSIER_ADDR" -- dossier
    start website JWT_ALGORITHM=EdDSA "INTERNAL_CLIENT_SECRET=$internal_secret" \
        "IDENTITY_URL=http://$IDENTITY_ADDR" "DOSSIER_URL=http://$DOSSIER_ADDR" \
        "LISTEN_ADDR=$WEBSITE_ADDR" -- website
}

# Rotates the keys of (c) while the mesh runs and walks through again.
mesh_in_four_processes_eddsa_then() {
    local keys="$tmp/keys" identity_pid="${pids[1]}" before after
    before="$("$GRPCURL" -plaintext "$IDENTITY_ADDR" toestemming.identity.v1.IdentityService/GetJwks |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["keys"][0]["kid"])')"
    "$BIN" keys rotate --force "$keys" >/dev/null
    grep -hv -- '-----' "$keys/current.pem" "$keys/next.pem" >>"$tmp/mode-secrets.txt"
    "$BIN" keys jwks "$keys" >"$tmp/jwks.json.new" && mv "$tmp/jwks.json.new" "$tmp/jwks.json"
    kill -HUP "$identity_pid"
    for _ in $(seq 1 50); do
        after="$("$GRPCURL" -plaintext "$IDENTITY_ADDR" toestemming.identity.v1.IdentityService/GetJwks |
            python3 -c 'import json, sys; print(json.load(sys.stdin)["keys"][0]["kid"])')"
        [[ "$after" != "$before" ]] && break
        sleep 0.1
    done
    if [[ "$after" == "$before" ]]; then
        echo "Identity still signs with kid $before after SIGHUP" >&2
        return 1
    fi
    echo "ok - rotated: Identity signs with kid $after (was $before); walking through again"
    walkthrough
}

# --- which stages, and their results ------------------------------------------

selected=("$@")
((${#selected[@]})) || selected=("${STAGES[@]}")
for stage in "${selected[@]}"; do
    [[ " ${STAGES[*]} " == *" $stage "* ]] || {
        echo "unknown stage: $stage (the stages: ${STAGES[*]})" >&2
        exit 2
    }
done
if [[ "${selected[*]}" != "test" ]]; then
    section "test dependencies"
    scripts/install-test-deps.sh
fi

stages_passed=0
stages_failed=0
results=()
for stage in "${selected[@]}"; do
    # Each stage in a subshell with `set -e` in force (a function called in
    # a condition would run with it off), so a failing command fails it.
    set +e
    (
        set -e
        "stage_${stage//-/_}"
    )
    status=$?
    set -e
    if ((status == 0)); then
        stages_passed=$((stages_passed + 1))
        results+=("$stage ok")
    else
        stages_failed=$((stages_failed + 1))
        results+=("$stage FAILED")
        echo "stage $stage FAILED" >&2
    fi
done

echo
printf '%s\n' "${results[@]}"
echo "stages: $stages_passed passed, $stages_failed failed"
((stages_failed == 0))

#!/usr/bin/env bash
# Fuzzes the library with cargo-fuzz: see docs/fuzzing.md.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET]   build every target, run each over
#                                          its seeds for N seconds (default
#                                          12, or FUZZ_SECONDS): 5 targets,
#                                          about a minute of fuzzing
#   scripts/fuzz.sh 600                    a longer hunt, 10 minutes each
#   scripts/fuzz.sh --write-seeds          rewrite fuzz/seeds/ from
#                                          fuzz/src/seeds.rs
#
# FUZZ_TARGETS="bsn jwks" runs only those. Fails (exit 1) on any crash,
# naming the artifact and the commands that reproduce and print it.
# Installs cargo-fuzz when it is missing. Safe to run again: the committed
# seeds (fuzz/seeds/) are only read; what libFuzzer learns goes to
# fuzz/corpus/ (ignored by git, kept between runs).
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_FUZZ_VERSION=${CARGO_FUZZ_VERSION:-0.13.2}
ALL_TARGETS=(bearer_verify signed_claims bsn request_messages jwks)

# The longest input worth trying per target: a bearer value is capped at
# 8 KiB, so a bit more; a payload base64-encodes to at most ~8 KiB.
max_len() {
    case $1 in
        bearer_verify) echo 8400 ;;
        signed_claims) echo 6200 ;;
        bsn) echo 64 ;;
        *) echo 4096 ;;
    esac
}

# The libFuzzer dictionary per target, if any (fuzz/dicts/).
dict() {
    case $1 in
        bearer_verify | signed_claims) echo fuzz/dicts/claims.dict ;;
        jwks) echo fuzz/dicts/jwks.dict ;;
    esac
}

write_seeds=false
seconds=${FUZZ_SECONDS:-12}
case ${1:-} in
    --write-seeds) write_seeds=true ;;
    "") ;;
    *[!0-9]* | 0)
        echo "usage: scripts/fuzz.sh [SECONDS_PER_TARGET] | --write-seeds" >&2
        exit 2
        ;;
    *) seconds=$1 ;;
esac
read -r -a targets <<<"${FUZZ_TARGETS:-${ALL_TARGETS[*]}}"

# cargo-fuzz builds with unstable flags (-Zsanitizer=address, the sanitizer
# coverage passes): a nightly toolchain where rustup has one, else the
# stable compiler told to allow them.
if cargo +nightly --version >/dev/null 2>&1; then
    cargo=(cargo +nightly)
else
    cargo=(cargo)
    export RUSTC_BOOTSTRAP=1
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz: installing cargo-fuzz $CARGO_FUZZ_VERSION"
    cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked
fi
echo "fuzz: $(cargo fuzz --version | head -n1), $("${cargo[@]}" --version)"

# Release with debug assertions and overflow checks (cargo-fuzz's default),
# AddressSanitizer, every target and the seed writer at once.
build_start=$SECONDS
"${cargo[@]}" fuzz build
echo "fuzz: built in $((SECONDS - build_start)) s"

if $write_seeds; then
    host=$(rustc -vV | sed -n 's/^host: //p')
    (cd fuzz && "target/$host/release/write_seeds" seeds)
    exit 0
fi

passed=0
failed=()
for target in "${targets[@]}"; do
    if [[ ! -d fuzz/seeds/$target ]]; then
        echo "fuzz: no target $target (fuzz/seeds/$target is missing)" >&2
        exit 2
    fi
    mkdir -p "fuzz/corpus/$target" "fuzz/artifacts/$target"
    log=$(mktemp)
    stamp=$(mktemp)
    options=(-max_total_time="$seconds" -max_len="$(max_len "$target")"
        -timeout=10 -rss_limit_mb=2048 -print_final_stats=1)
    if [[ -n $(dict "$target") ]]; then
        options+=(-dict="$(dict "$target")")
    fi
    echo "fuzz: $target for ${seconds}s"
    set +e
    # The first corpus folder is where libFuzzer adds what it finds; the
    # seed folder after it is only read.
    "${cargo[@]}" fuzz run "$target" "fuzz/corpus/$target" "fuzz/seeds/$target" -- \
        "${options[@]}" >"$log" 2>&1
    status=$?
    set -e
    grep -E '^(request_messages:|INFO: seed corpus|#[0-9]+ +DONE|Done [0-9]+ runs)' "$log" |
        sed 's/^/    /' || true
    grep -E '^stat::(number_of_executed_units|peak_rss_mb)' "$log" | sed 's/^/    /' || true
    if ((status == 0)); then
        passed=$((passed + 1))
    else
        failed+=("$target")
        echo "fuzz: $target FAILED (exit $status)" >&2
        # The panic or sanitizer report, without the stack, then the input;
        # the whole log is kept next to the artifacts.
        cp "$log" "fuzz/artifacts/$target/last-failure.log"
        grep -E -A4 '^(thread .* panicked at|==[0-9]+==ERROR|ERROR: libFuzzer|SUMMARY:)' "$log" |
            grep -v -E '^ +#[0-9]+ ' | head -n 40 >&2 || true
        echo "fuzz: full log: fuzz/artifacts/$target/last-failure.log" >&2
        while IFS= read -r artifact; do
            echo "fuzz: crash artifact $artifact" >&2
            echo "      base64: $(base64 -w0 "$artifact" | head -c 2000)" >&2
            echo "      show:       cargo +nightly fuzz fmt $target $artifact" >&2
            echo "      reproduce:  cargo +nightly fuzz run $target $artifact" >&2
            echo "      minimize:   cargo +nightly fuzz tmin $target $artifact" >&2
        done < <(find "fuzz/artifacts/$target" -type f -newer "$stamp" ! -name last-failure.log)
    fi
    rm -f "$log" "$stamp"
done

echo "fuzz: ${passed} passed, ${#failed[@]} failed"
if ((${#failed[@]} > 0)); then
    echo "fuzz: failing targets: ${failed[*]}" >&2
    exit 1
fi

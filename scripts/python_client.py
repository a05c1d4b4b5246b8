#!/usr/bin/env python3
"""The contract walkthrough with a Python client generated from proto/.

Proves that a client in another language, generated from the protos alone,
works against a running mesh:

  RegisterCompany -> IssueCompanyToken -> RegisterPatient -> CreateDossier
  (PENDING, created) -> CheckPermission (false) -> LoginPatient ->
  ListMyDossiers -> SetConsent GRANTED -> CheckPermission (true) ->
  DeleteDossier -> CheckPermission (NOT_FOUND) -> CreateDossier again
  (GRANTED, reason COMPANY_CHOICE) -> SetConsent DECLINED -> DeleteDossier ->
  CreateDossier again (DECLINED) -> SetChoice every_company GRANTED -> a
  second, verified company's CreateDossier (GRANTED, reason DEFAULT_CHOICE)
  -> ListMyChoices with its history -> ListCompanies

plus the error details of the contract, read with grpcio-status
(google.rpc.Status in `grpc-status-details-bin`): CreateDossier without a
token is UNAUTHENTICATED with ErrorInfo TOKEN_MISSING; GetPseudoniem with a
company token is PERMISSION_DENIED with ErrorInfo ROLE_NOT_ALLOWED and
allowed_roles "Internal"; RegisterPatient with a bad BSN is INVALID_ARGUMENT
with a BadRequest naming `bsn`; SetChoice for a company nobody registered is
NOT_FOUND with ErrorInfo COMPANY_NOT_FOUND. It also reads the custom method
option (toestemming.auth.v1.access) from the generated descriptors.

Last, as the patient in a browser would, it signs in on the website and
downloads "my choices" (GET /choices.fhir.json), and proves the document a
valid HL7 FHIR R4 Bundle of Consent resources with the fhir.resources
library (its R4B models, whose Consent is R4's).

The code is generated at run time into a temporary directory with
`python -m grpc_tools.protoc -Iproto --python_out --grpc_python_out` (all
four proto files; grpc_tools ships descriptor.proto and timestamp.proto).
Needs grpcio, grpcio-tools and grpcio-status: run it with the project venv,

    scripts/install-test-deps.sh && .venv/bin/python scripts/python_client.py

Every run makes a new company and a new random BSN, so it can be repeated
against the same data. It prints step names and non-sensitive fields only:
never a token, a secret, a password or a BSN.

Environment: IDENTITY_ADDR (127.0.0.1:50051), PSEUDONIEM_ADDR
(127.0.0.1:50052), DOSSIER_ADDR (127.0.0.1:50053), WEBSITE_ADDR
(127.0.0.1:8080), WALKTHROUGH_SENSITIVE_FILE (optional: the BSN, password,
secret and tokens used are appended there, one a line, so scripts/test.sh
can check that no server log contains them), WALKTHROUGH_VERIFY_COMPANY (the
operator's command that verifies a company, given its name as the last
argument; default `target/debug/toestemming companies verify`).
"""

import http.cookiejar
import importlib
import json
import os
import re
import secrets
import shlex
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTO_DIR = ROOT / "proto"
PROTO_FILES = [
    "toestemming/auth/v1/auth.proto",
    "toestemming/identity/v1/identity.proto",
    "toestemming/pseudoniem/v1/pseudoniem.proto",
    "toestemming/dossier/v1/dossier.proto",
]

IDENTITY_ADDR = os.environ.get("IDENTITY_ADDR", "127.0.0.1:50051")
PSEUDONIEM_ADDR = os.environ.get("PSEUDONIEM_ADDR", "127.0.0.1:50052")
DOSSIER_ADDR = os.environ.get("DOSSIER_ADDR", "127.0.0.1:50053")
WEBSITE_ADDR = os.environ.get("WEBSITE_ADDR", "127.0.0.1:8080")
VERIFY_COMPANY = shlex.split(os.environ.get(
    "WALKTHROUGH_VERIFY_COMPANY", f"{Path(__file__).resolve().parent.parent}/target/debug/toestemming companies verify"))
TIMEOUT_SECONDS = 20

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
# Invalid by the 11-proof (the contract's own example).
BAD_BSN = "123456780"

try:
    import grpc
    from fhir.resources.R4B.bundle import Bundle
    from fhir.resources.R4B.consent import Consent
    from google.rpc import error_details_pb2
    from grpc_status import rpc_status
except ImportError as error:
    sys.exit(
        f"python client: {error}; run scripts/install-test-deps.sh and use .venv/bin/python"
    )


# --- output without secrets --------------------------------------------------

_sensitive = []
_step = "start"


def remember_sensitive(*values):
    """Values never to print; appended to WALKTHROUGH_SENSITIVE_FILE if set."""
    values = [v for v in values if v]
    _sensitive.extend(values)
    path = os.environ.get("WALKTHROUGH_SENSITIVE_FILE")
    if path and values:
        with open(path, "a", encoding="utf-8") as f:
            f.write("".join(v + "\n" for v in values))


def redact(text):
    text = str(text)
    for value in _sensitive:
        text = text.replace(value, "<redacted>")
    text = re.sub(r"[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]+", "<redacted-jwt>", text)
    return re.sub(r"(?<![0-9A-Za-z-])[0-9]{9}(?![0-9A-Za-z-])", "<redacted-9-digits>", text)


class StepFailed(Exception):
    pass


def step(name):
    global _step
    _step = name


def ok():
    print(f"ok - {_step}", flush=True)


def check(condition, message):
    if not condition:
        raise StepFailed(message)


def describe(error):
    """A gRPC error as `CODE: message`, for failure messages (redacted later)."""
    if isinstance(error, grpc.RpcError) and hasattr(error, "code"):
        return f"{error.code().name}: {error.details()}"
    return f"{type(error).__name__}: {error}"


# --- generated code ----------------------------------------------------------


def generate(out_dir):
    """Runs grpc_tools.protoc over proto/ and imports the generated modules."""
    missing = [p for p in PROTO_FILES if not (PROTO_DIR / p).is_file()]
    check(not missing, f"missing proto files: {', '.join(missing)}")
    result = subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", f"-I{PROTO_DIR}",
         f"--python_out={out_dir}", f"--grpc_python_out={out_dir}", *PROTO_FILES],
        capture_output=True, text=True, check=False,
    )
    check(result.returncode == 0,
          f"grpc_tools.protoc exited {result.returncode}: {result.stderr.strip()}")
    sys.path.insert(0, str(out_dir))
    modules = {}
    for proto in PROTO_FILES:
        base = proto[: -len(".proto")].replace("/", ".")
        for suffix in ("_pb2", "_pb2_grpc"):
            name = base + suffix
            try:
                modules[name.rsplit(".", 1)[1]] = importlib.import_module(name)
            except Exception as error:  # an option that breaks Python codegen lands here
                raise StepFailed(f"generated module {name} does not import: "
                                 f"{type(error).__name__}: {error}") from error
    return modules


# --- status details ----------------------------------------------------------


def expect_error(code, call, *args, details=True, **kwargs):
    """Makes the call, which must fail with CODE; returns (error, google.rpc.Status).

    With details=False the call need not carry a google.rpc.Status (the status
    is then None), but one that it carries must agree with the code."""
    try:
        call(*args, timeout=TIMEOUT_SECONDS, **kwargs)
    except grpc.RpcError as error:
        check(error.code() == code, f"expected {code.name}, got {describe(error)}")
        try:
            status = rpc_status.from_call(error)
        except ValueError as mismatch:  # code or message differ from the details
            raise StepFailed(f"grpc-status-details-bin disagrees with the status: {mismatch}") from mismatch
        check(status is not None or not details, "no google.rpc.Status in grpc-status-details-bin")
        message = error.details() or ""
        for value in _sensitive:
            check(value not in message, "the error message contains a sensitive value")
        return error, status
    raise StepFailed(f"the call succeeded; expected {code.name}")


def unpack_details(status, message_type):
    found = []
    for detail in status.details:
        if detail.Is(message_type.DESCRIPTOR):
            message = message_type()
            detail.Unpack(message)
            found.append(message)
    kinds = ", ".join(d.type_url for d in status.details) or "none"
    check(found, f"no {message_type.DESCRIPTOR.full_name} in the status details (found: {kinds})")
    return found


def expect_error_info(status, reason):
    info = unpack_details(status, error_details_pb2.ErrorInfo)[0]
    check(info.domain == "toestemming", f"ErrorInfo domain is '{info.domain}', expected 'toestemming'")
    check(info.reason == reason, f"ErrorInfo reason is '{info.reason}', expected '{reason}'")
    return info


# --- helpers -----------------------------------------------------------------


def random_bsn():
    """A random BSN passing the 11-proof: 9·d1 + 8·d2 + … + 2·d8 − d9 ≡ 0 (mod 11)."""
    while True:
        digits = [secrets.randbelow(10) for _ in range(8)]
        check_digit = sum(w * d for w, d in zip(range(9, 1, -1), digits)) % 11
        if check_digit < 10 and any(digits + [check_digit]):
            return "".join(map(str, digits + [check_digit]))


def bearer(token):
    return [("authorization", "Bearer " + token)]


def expect_token(response):
    check(response.access_token, "no access_token in the response")
    check(response.token_type == "Bearer", f"token_type is '{response.token_type}', expected 'Bearer'")
    check(0 < response.expires_in <= 900,
          f"expires_in is {response.expires_in}, expected 1..900 seconds")
    return response.access_token


def download_choices(bsn, password):
    """Signs in on the website as a browser does (CSRF cookie and field, then
    the session cookie) and returns GET /choices.fhir.json as JSON, validated
    as a FHIR R4 Bundle and each entry as a FHIR R4 Consent."""
    base = f"http://{WEBSITE_ADDR}"
    cookies = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(cookies))
    with opener.open(f"{base}/signin", timeout=TIMEOUT_SECONDS) as page:
        html = page.read().decode()
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    check(found, "the sign-in page has no CSRF field")
    form = urllib.parse.urlencode({"csrf_token": found.group(1), "bsn": bsn, "password": password})
    with opener.open(f"{base}/signin", data=form.encode(), timeout=TIMEOUT_SECONDS) as page:
        check(urllib.parse.urlparse(page.geturl()).path == "/", "signing in did not lead to the dashboard")
    remember_sensitive(*[c.value for c in cookies if c.name == "toestemming_session"])
    with opener.open(f"{base}/choices.fhir.json", timeout=TIMEOUT_SECONDS) as download:
        kind = download.headers.get("content-type", "")
        check(kind.startswith("application/fhir+json"), f"content type is {kind!r}")
        text = download.read().decode()
    check(bsn not in text, "the FHIR download contains the BSN")
    document = json.loads(text)
    check(document.get("resourceType") == "Bundle", "not a Bundle")
    Bundle.model_validate(document)
    for entry in document.get("entry", []):
        Consent.model_validate(entry["resource"])  # each resource on its own, as R4 Consent
    return document


# --- the walkthrough ---------------------------------------------------------


def walkthrough(gen):
    auth_pb2 = gen["auth_pb2"]
    identity_pb2, identity_grpc = gen["identity_pb2"], gen["identity_pb2_grpc"]
    pseudoniem_pb2, pseudoniem_grpc = gen["pseudoniem_pb2"], gen["pseudoniem_pb2_grpc"]
    dossier_pb2, dossier_grpc = gen["dossier_pb2"], gen["dossier_pb2_grpc"]
    pending = dossier_pb2.CONSENT_STATUS_PENDING
    granted = dossier_pb2.CONSENT_STATUS_GRANTED
    consent_name = dossier_pb2.ConsentStatus.Name

    step("generated descriptor of CreateDossier carries (toestemming.auth.v1.access) "
         "roles [ROLE_HEALTHCARE_COMPANY]")
    method = dossier_pb2.DESCRIPTOR.services_by_name["DossierService"].methods_by_name["CreateDossier"]
    options = method.GetOptions()
    check(options.HasExtension(auth_pb2.access), "CreateDossier has no access option")
    rule = options.Extensions[auth_pb2.access]
    check(list(rule.roles) == [auth_pb2.ROLE_HEALTHCARE_COMPANY] and not rule.public,
          f"CreateDossier access is {{public: {rule.public}, roles: "
          f"{[auth_pb2.Role.Name(r) for r in rule.roles]}}}")
    ok()

    step("every generated RPC declares (toestemming.auth.v1.access)")
    for module in (identity_pb2, pseudoniem_pb2, dossier_pb2):
        for service in module.DESCRIPTOR.services_by_name.values():
            for rpc in service.methods:
                check(rpc.GetOptions().HasExtension(auth_pb2.access),
                      f"{rpc.full_name} has no access option")
    ok()

    print(f"python client: identity={IDENTITY_ADDR} pseudoniem={PSEUDONIEM_ADDR} "
          f"dossier={DOSSIER_ADDR}", flush=True)
    channels = [grpc.insecure_channel(a) for a in (IDENTITY_ADDR, PSEUDONIEM_ADDR, DOSSIER_ADDR)]
    try:
        identity = identity_grpc.IdentityServiceStub(channels[0])
        pseudoniem = pseudoniem_grpc.PseudoniemServiceStub(channels[1])
        dossier = dossier_grpc.DossierServiceStub(channels[2])

        bsn = random_bsn()
        password = "py-" + secrets.token_urlsafe(18)
        company_name = "Python Client Zorg " + secrets.token_hex(6)
        remember_sensitive(bsn, password)

        def call(method, request, token=None):
            return method(request, timeout=TIMEOUT_SECONDS,
                          metadata=bearer(token) if token else None)

        # --- company ---------------------------------------------------------
        step("RegisterCompany")
        response = call(identity.RegisterCompany,
                        identity_pb2.RegisterCompanyRequest(company_name=company_name))
        company_id, client_secret = response.company_id, response.client_secret
        remember_sensitive(client_secret)
        check(UUID_RE.match(company_id), "company_id is not a lowercase UUID")
        check(client_secret, "no client_secret in the response")
        ok()

        step("IssueCompanyToken")
        company_token = expect_token(call(identity.IssueCompanyToken,
                                          identity_pb2.IssueCompanyTokenRequest(
                                              company_id=company_id, client_secret=client_secret)))
        remember_sensitive(company_token)
        ok()

        # --- patient ---------------------------------------------------------
        step("RegisterPatient with a bad BSN is INVALID_ARGUMENT with a BadRequest naming bsn")
        _, status = expect_error(grpc.StatusCode.INVALID_ARGUMENT, identity.RegisterPatient,
                                 identity_pb2.RegisterPatientRequest(
                                     bsn=BAD_BSN, first_name="Py", last_name="Client",
                                     password=password))
        bad_request = unpack_details(status, error_details_pb2.BadRequest)[0]
        fields = [v.field for v in bad_request.field_violations]
        check(fields == ["bsn"], f"field violations name {fields}, expected ['bsn']")
        check(all(BAD_BSN not in v.description for v in bad_request.field_violations),
              "a field violation's description contains the BSN")
        ok()

        step("RegisterPatient")
        response = call(identity.RegisterPatient, identity_pb2.RegisterPatientRequest(
            bsn=bsn, first_name="Py", last_name="Client", password=password))
        check(UUID_RE.match(response.pseudoniem), "pseudoniem is not a lowercase UUID")
        ok()

        # --- dossier, as the company ----------------------------------------
        step("CreateDossier without a token is UNAUTHENTICATED with ErrorInfo TOKEN_MISSING")
        _, status = expect_error(grpc.StatusCode.UNAUTHENTICATED, dossier.CreateDossier,
                                 dossier_pb2.CreateDossierRequest(bsn=bsn))
        expect_error_info(status, "TOKEN_MISSING")
        ok()

        step("CreateDossier (PENDING, created)")
        response = call(dossier.CreateDossier, dossier_pb2.CreateDossierRequest(bsn=bsn), company_token)
        check(response.created, "created is false")
        check(response.dossier.consent == pending,
              f"consent is {consent_name(response.dossier.consent)}, expected CONSENT_STATUS_PENDING")
        check(response.dossier.company_name == company_name, "company_name is not the company's")
        check(UUID_RE.match(response.dossier.id), "dossier.id is not a lowercase UUID")
        check(response.dossier.HasField("create_time") and response.dossier.HasField("update_time"),
              "create_time or update_time is missing")
        dossier_id = response.dossier.id
        ok()

        step("CreateDossier again is idempotent (created false)")
        response = call(dossier.CreateDossier, dossier_pb2.CreateDossierRequest(bsn=bsn), company_token)
        check(not response.created, "created is true")
        check(response.dossier.id == dossier_id, "a different dossier id")
        ok()

        step("CheckPermission (gave_permission False)")
        response = call(dossier.CheckPermission, dossier_pb2.CheckPermissionRequest(bsn=bsn),
                        company_token)
        check(response.gave_permission is False, "gave_permission is True")
        check(response.consent == pending,
              f"consent is {consent_name(response.consent)}, expected CONSENT_STATUS_PENDING")
        ok()

        step("GetPseudoniem with a company token is PERMISSION_DENIED with ErrorInfo "
             "ROLE_NOT_ALLOWED, allowed_roles Internal")
        _, status = expect_error(grpc.StatusCode.PERMISSION_DENIED, pseudoniem.GetPseudoniem,
                                 pseudoniem_pb2.GetPseudoniemRequest(bsn=bsn),
                                 metadata=bearer(company_token))
        info = expect_error_info(status, "ROLE_NOT_ALLOWED")
        allowed = info.metadata.get("allowed_roles")
        check(allowed == "Internal", f"ErrorInfo metadata allowed_roles is {allowed!r}, expected 'Internal'")
        ok()

        # --- consent, as the patient ----------------------------------------
        step("LoginPatient")
        patient_token = expect_token(call(identity.LoginPatient, identity_pb2.LoginPatientRequest(
            bsn=bsn, password=password)))
        remember_sensitive(patient_token)
        ok()

        step("ListMyDossiers (one dossier, the company's)")
        response = call(dossier.ListMyDossiers, dossier_pb2.ListMyDossiersRequest(), patient_token)
        check(len(response.dossiers) == 1, f"{len(response.dossiers)} dossiers, expected 1")
        listed = response.dossiers[0]
        check(listed.id == dossier_id, "the listed dossier is not the one created")
        check(listed.company_name == company_name, "company_name is not the company's")
        check(listed.consent == pending,
              f"consent is {consent_name(listed.consent)}, expected CONSENT_STATUS_PENDING")
        check(not response.next_page_token, "next_page_token is set on the only page")
        ok()

        step("SetConsent GRANTED")
        response = call(dossier.SetConsent, dossier_pb2.SetConsentRequest(
            dossier_id=dossier_id, consent=granted), patient_token)
        check(response.dossier.id == dossier_id, "a different dossier id")
        check(response.dossier.consent == granted,
              f"consent is {consent_name(response.dossier.consent)}, expected CONSENT_STATUS_GRANTED")
        ok()

        # --- back to the company ---------------------------------------------
        step("CheckPermission (gave_permission True)")
        response = call(dossier.CheckPermission, dossier_pb2.CheckPermissionRequest(bsn=bsn),
                        company_token)
        check(response.gave_permission is True, "gave_permission is False")
        check(response.consent == granted,
              f"consent is {consent_name(response.consent)}, expected CONSENT_STATUS_GRANTED")
        ok()

        step("DeleteDossier")
        call(dossier.DeleteDossier, dossier_pb2.DeleteDossierRequest(bsn=bsn), company_token)
        ok()

        step("CheckPermission after delete is NOT_FOUND")
        expect_error(grpc.StatusCode.NOT_FOUND, dossier.CheckPermission,
                     dossier_pb2.CheckPermissionRequest(bsn=bsn), metadata=bearer(company_token),
                     details=False)
        ok()

        # --- the patient's choice outlives the company's dossier -------------
        declined = dossier_pb2.CONSENT_STATUS_DECLINED
        reason_name = dossier_pb2.DecisionReason.Name

        def expect_decision(response, consent, reason):
            check(response.consent == consent,
                  f"consent is {consent_name(response.consent)}, expected {consent_name(consent)}")
            check(response.reason == reason,
                  f"reason is {reason_name(response.reason)}, expected {reason_name(reason)}")

        step("CreateDossier again (GRANTED, reason COMPANY_CHOICE: the choice outlived the dossier)")
        response = call(dossier.CreateDossier, dossier_pb2.CreateDossierRequest(bsn=bsn), company_token)
        expect_decision(response.dossier, granted, dossier_pb2.DECISION_REASON_COMPANY_CHOICE)
        dossier_id = response.dossier.id
        response = call(dossier.CheckPermission, dossier_pb2.CheckPermissionRequest(bsn=bsn),
                        company_token)
        check(response.gave_permission is True, "gave_permission is False")
        expect_decision(response, granted, dossier_pb2.DECISION_REASON_COMPANY_CHOICE)
        ok()

        step("SetConsent DECLINED, DeleteDossier, CreateDossier again (DECLINED)")
        call(dossier.SetConsent, dossier_pb2.SetConsentRequest(
            dossier_id=dossier_id, consent=declined), patient_token)
        call(dossier.DeleteDossier, dossier_pb2.DeleteDossierRequest(bsn=bsn), company_token)
        response = call(dossier.CreateDossier, dossier_pb2.CreateDossierRequest(bsn=bsn), company_token)
        expect_decision(response.dossier, declined, dossier_pb2.DECISION_REASON_COMPANY_CHOICE)
        ok()

        step("SetChoice every_company GRANTED")
        response = call(dossier.SetChoice, dossier_pb2.SetChoiceRequest(
            every_company=True, consent=granted), patient_token)
        check(response.choice.every_company and response.choice.consent == granted,
              "the default is not recorded as GRANTED for every company")
        ok()

        step("SetChoice for a company nobody registered is NOT_FOUND with ErrorInfo COMPANY_NOT_FOUND")
        _, status = expect_error(grpc.StatusCode.NOT_FOUND, dossier.SetChoice,
                                 dossier_pb2.SetChoiceRequest(company_name="Nobody " + secrets.token_hex(4),
                                                              consent=declined),
                                 metadata=bearer(patient_token))
        expect_error_info(status, "COMPANY_NOT_FOUND")
        ok()

        step("a second company registers and an operator verifies it")
        second_name = "Python Apotheek " + secrets.token_hex(6)
        response = call(identity.RegisterCompany,
                        identity_pb2.RegisterCompanyRequest(company_name=second_name))
        remember_sensitive(response.client_secret)
        second_token = expect_token(call(identity.IssueCompanyToken, identity_pb2.IssueCompanyTokenRequest(
            company_id=response.company_id, client_secret=response.client_secret)))
        remember_sensitive(second_token)
        verified = subprocess.run([*VERIFY_COMPANY, second_name], capture_output=True, text=True,
                                  check=False, timeout=TIMEOUT_SECONDS)
        check(verified.returncode == 0 and verified.stdout.startswith("verified"),
              f"the operator's verify command failed: {verified.stderr.strip()}")
        ok()

        step("the second company's CreateDossier (GRANTED, reason DEFAULT_CHOICE)")
        response = call(dossier.CreateDossier, dossier_pb2.CreateDossierRequest(bsn=bsn), second_token)
        expect_decision(response.dossier, granted, dossier_pb2.DECISION_REASON_DEFAULT_CHOICE)
        response = call(dossier.CheckPermission, dossier_pb2.CheckPermissionRequest(bsn=bsn),
                        second_token)
        check(response.gave_permission is True, "gave_permission is False")
        expect_decision(response, granted, dossier_pb2.DECISION_REASON_DEFAULT_CHOICE)
        ok()

        step("ListMyChoices: two current choices, three versions")
        current = call(dossier.ListMyChoices, dossier_pb2.ListMyChoicesRequest(), patient_token)
        check(len(current.choices) == 2, f"{len(current.choices)} current choices, expected 2")
        history = call(dossier.ListMyChoices,
                       dossier_pb2.ListMyChoicesRequest(include_history=True), patient_token)
        check(len(history.choices) == 3, f"{len(history.choices)} versions, expected 3")
        check(sum(1 for c in history.choices if c.HasField("replace_time")) == 1,
              "exactly one version is replaced")
        ok()

        step("ListCompanies finds the verified company by the start of its name, in any case")
        response = call(identity.ListCompanies,
                        identity_pb2.ListCompaniesRequest(name_prefix=second_name.upper()), patient_token)
        check(list(response.company_names) == [second_name],
              f"found {list(response.company_names)}, expected the second company")
        ok()

        step("ListMyAccessLog shows every step about the patient, newest first")
        log = call(dossier.ListMyAccessLog, dossier_pb2.ListMyAccessLogRequest(page_size=100),
                   patient_token)
        action_name = dossier_pb2.AccessAction.Name
        actions = [action_name(e.action).removeprefix("ACCESS_ACTION_") + ("(refused)" if e.refused else "")
                   for e in reversed(log.entries)]
        expected = ["CREATE_DOSSIER", "CREATE_DOSSIER", "CHECK_PERMISSION", "SET_CHOICE", "CHECK_PERMISSION",
                    "DELETE_DOSSIER", "CHECK_PERMISSION(refused)", "CREATE_DOSSIER", "CHECK_PERMISSION",
                    "SET_CHOICE", "DELETE_DOSSIER", "CREATE_DOSSIER", "SET_CHOICE", "CREATE_DOSSIER",
                    "CHECK_PERMISSION"]
        check(actions == expected, f"the log, oldest first, is {actions}; expected {expected}")
        newest = log.entries[0]
        check(newest.company_name == second_name and newest.gave_permission
              and newest.reason == dossier_pb2.DECISION_REASON_DEFAULT_CHOICE,
              "the newest entry is not the second company's CheckPermission, granted by the default")
        check(all(e.request_id for e in log.entries), "an entry has no request id")
        ok()

        step("the website's FHIR download of my choices is a valid R4 Bundle of Consent")
        document = download_choices(bsn, password)
        entries = document.get("entry", [])
        check(len(entries) == 3, f"{len(entries)} entries, expected one per version (3)")
        for entry in entries:
            consent = Consent.model_validate(entry["resource"])
            check(consent.scope.coding[0].code == "patient-privacy", "scope is not patient-privacy")
            check(consent.patient.identifier.value.startswith("urn:uuid:"), "the patient is not a pseudoniem")
        statuses = sorted(entry["resource"]["status"] for entry in entries)
        check(statuses == ["active", "active", "inactive"], f"statuses are {statuses}")
        ok()

        step("WatchConsent: the company watches, the patient grants, the change arrives at once")
        changes = dossier.WatchConsent(dossier_pb2.WatchConsentRequest(),
                                       timeout=TIMEOUT_SECONDS, metadata=bearer(company_token))
        try:
            changes.initial_metadata()  # the stream is open
            asked = time.monotonic()
            call(dossier.SetChoice, dossier_pb2.SetChoiceRequest(
                company_name=company_name, consent=dossier_pb2.CONSENT_STATUS_GRANTED), patient_token)
            change = next(changes)
            took = time.monotonic() - asked
        finally:
            changes.cancel()
        check(took < 1.0, f"the change took {took:.3f} s to arrive")
        check(UUID_RE.match(change.dossier_id), "dossier_id is not a lowercase UUID")
        expect_decision(change, dossier_pb2.CONSENT_STATUS_GRANTED,
                        dossier_pb2.DECISION_REASON_COMPANY_CHOICE)
        check(change.gave_permission is True, "gave_permission is False")
        check(change.cursor, "the change has no cursor")
        ok()
    finally:
        for channel in channels:
            channel.close()


def main():
    try:
        with tempfile.TemporaryDirectory(prefix="toestemming-pyclient-") as out_dir:
            step("generate Python code from proto/ with grpc_tools.protoc and import it")
            gen = generate(out_dir)
            ok()
            walkthrough(gen)
    except Exception as error:  # noqa: BLE001 - any failure is reported the same way
        reason = str(error) if isinstance(error, StepFailed) else describe(error)
        print(f"not ok - {_step}", flush=True)
        print(redact(f'python client FAILED at "{_step}": {reason}'), file=sys.stderr, flush=True)
        return 1
    print("python client: all steps passed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

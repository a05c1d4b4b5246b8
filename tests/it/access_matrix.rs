//! The access matrix, derived from the protos rather than listed by hand.
//!
//! The `(toestemming.auth.v1.access)` option of every RPC, read from the
//! embedded descriptor set, is the expectation. The generated
//! `METHOD_ACCESS` table must agree with it, and every RPC is then called
//! over real gRPC, with an empty request body, by every kind of caller: no
//! token, a garbage token, and a genuine token of each role.

use std::collections::{BTreeMap, BTreeSet};

use crate::support::*;
use http::uri::PathAndQuery;
use prost_reflect::{DescriptorPool, DynamicMessage, ExtensionDescriptor, Value};
use toestemming::auth::Role;
use toestemming::auth::access::{AccessRule, METHOD_ACCESS};
use tonic::transport::Channel;
use tonic::{Code, Request, Status};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_types::StatusExt as _;

const ACCESS: &str = "toestemming.auth.v1.access";
const ROLE_ENUM: &str = "toestemming.auth.v1.Role";
const GARBAGE: &str = "Bearer abc.def.ghi";

/// An RPC's rule, as role strings (the JWT `role` claim spelling).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Rule {
    Public,
    Roles(BTreeSet<String>),
}

impl std::fmt::Display for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Rule::Public => f.write_str("public"),
            Rule::Roles(roles) => f.write_str(&roles.iter().cloned().collect::<Vec<_>>().join(",")),
        }
    }
}

fn pool() -> DescriptorPool {
    DescriptorPool::decode(toestemming::proto::FILE_DESCRIPTOR_SET)
        .expect("the embedded descriptor set decodes")
}

fn access_extension(pool: &DescriptorPool) -> ExtensionDescriptor {
    pool.get_extension_by_name(ACCESS)
        .expect("auth.proto defines the access extension")
}

/// `ROLE_HEALTHCARE_COMPANY` → `HealthcareCompany`: the proto enum name
/// turned into the claim spelling, which must be one of the mesh's roles.
fn claim_spelling(enum_value_name: &str) -> String {
    let words = enum_value_name
        .strip_prefix("ROLE_")
        .unwrap_or_else(|| panic!("{enum_value_name} lacks the ROLE_ prefix"));
    let spelled: String = words
        .split('_')
        .map(|word| {
            let lower = word.to_ascii_lowercase();
            let mut chars = lower.chars();
            let first = chars.next().unwrap().to_ascii_uppercase();
            std::iter::once(first).chain(chars).collect::<String>()
        })
        .collect();
    assert!(
        Role::ALL.iter().any(|role| role.as_str() == spelled),
        "{enum_value_name} spells {spelled:?}, which is not a role the verifier knows"
    );
    spelled
}

/// Reads an `AccessRule` message (from the descriptor or from reflection).
fn rule_of(path: &str, access: &DynamicMessage, pool: &DescriptorPool) -> Rule {
    let role_enum = pool.get_enum_by_name(ROLE_ENUM).unwrap();
    let public = matches!(
        access.get_field_by_name("public").as_deref(),
        Some(Value::Bool(true))
    );
    let mut roles = BTreeSet::new();
    if let Some(Value::List(values)) = access.get_field_by_name("roles").as_deref() {
        for value in values {
            let number = value.as_enum_number().unwrap();
            let name = role_enum
                .get_value(number)
                .unwrap_or_else(|| panic!("{path}: role number {number} is not in the enum"))
                .name()
                .to_owned();
            assert_ne!(name, "ROLE_UNSPECIFIED", "{path} grants ROLE_UNSPECIFIED");
            roles.insert(claim_spelling(&name));
        }
    }
    match (public, roles.is_empty()) {
        (true, true) => Rule::Public,
        (false, false) => Rule::Roles(roles),
        (true, false) => panic!("{path} is both public and role-restricted"),
        (false, true) => panic!("{path} has an access option that grants nobody"),
    }
}

/// One RPC of the mesh, from the descriptor.
#[derive(Debug, Clone)]
struct Method {
    service: String,
    name: String,
    rule: Rule,
}

impl Method {
    fn path(&self) -> String {
        format!("/{}/{}", self.service, self.name)
    }
}

/// Every method of every `toestemming.*` service, with the rule its option
/// declares; panics for a method without the option.
fn proto_methods() -> Vec<Method> {
    let pool = pool();
    let extension = access_extension(&pool);
    let mut methods = Vec::new();
    for service in pool.services() {
        if !service.full_name().starts_with("toestemming.") {
            continue;
        }
        assert!(
            service.methods().len() > 0,
            "{} has no methods",
            service.full_name()
        );
        for method in service.methods() {
            let path = format!("/{}/{}", service.full_name(), method.name());
            let options = method.options();
            assert!(
                options.has_extension(&extension),
                "{path} declares no ({ACCESS}) option"
            );
            let value = options.get_extension(&extension);
            let Value::Message(access) = value.as_ref() else {
                panic!("{path}: the access option is not a message");
            };
            methods.push(Method {
                service: service.full_name().to_owned(),
                name: method.name().to_owned(),
                rule: rule_of(&path, access, &pool),
            });
        }
    }
    methods.sort_by_key(Method::path);
    methods
}

/// The generated table, as role strings.
fn table_rules() -> BTreeMap<String, Rule> {
    let mut rules = BTreeMap::new();
    for entry in METHOD_ACCESS {
        let rule = match entry.rule {
            AccessRule::Public => Rule::Public,
            AccessRule::Roles(roles) => {
                Rule::Roles(roles.iter().map(|r| r.as_str().to_owned()).collect())
            }
        };
        let previous = rules.insert(entry.path.to_owned(), rule);
        assert!(
            previous.is_none(),
            "{} is in METHOD_ACCESS twice",
            entry.path
        );
    }
    rules
}

#[test]
fn every_rpc_declares_access_and_the_table_agrees() {
    let methods = proto_methods();
    assert!(
        !methods.is_empty(),
        "no toestemming.* methods in the descriptor"
    );
    let from_proto: BTreeMap<String, Rule> =
        methods.iter().map(|m| (m.path(), m.rule.clone())).collect();
    assert_eq!(from_proto.len(), methods.len(), "duplicate method paths");
    let from_table = table_rules();

    let mut problems = Vec::new();
    for (path, rule) in &from_proto {
        match from_table.get(path) {
            None => problems.push(format!("{path} ({rule}) is missing from METHOD_ACCESS")),
            Some(table) if table != rule => problems.push(format!(
                "{path}: the proto says {rule}, METHOD_ACCESS says {table}"
            )),
            Some(_) => {}
        }
    }
    for path in from_table.keys() {
        if !from_proto.contains_key(path) {
            problems.push(format!("{path} is in METHOD_ACCESS but not in any proto"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // The contract: every Pseudoniem RPC is Internal only, and at least one
    // RPC of each kind exists, so the matrix below exercises every branch.
    for method in &methods {
        if method.service.starts_with("toestemming.pseudoniem.") {
            assert_eq!(
                method.rule,
                Rule::Roles(BTreeSet::from(["Internal".to_owned()])),
                "{}",
                method.path()
            );
        }
    }
    assert!(methods.iter().any(|m| m.rule == Rule::Public));
    assert!(methods.iter().any(|m| matches!(m.rule, Rule::Roles(_))));
    // Signing out (the contract's IdentityService table): the matrix below
    // calls both with every kind of caller.
    for (name, roles) in [
        ("RevokeToken", &["HealthcareCompany", "Patient"][..]),
        ("ListRevokedTokens", &["Internal"][..]),
    ] {
        let path = format!("/toestemming.identity.v1.IdentityService/{name}");
        let method = methods
            .iter()
            .find(|m| m.path() == path)
            .unwrap_or_else(|| panic!("{path} is not in the protos"));
        assert_eq!(
            method.rule,
            Rule::Roles(roles.iter().map(|r| (*r).to_owned()).collect()),
            "{path}"
        );
    }
}

// ---------------------------------------------------------------------------
// Over the wire
// ---------------------------------------------------------------------------

/// The server that serves a service. The descriptor names the services; the
/// harness knows where each listens.
fn server_of(mesh: &TestMesh, service: &str) -> (&'static str, Channel) {
    match service {
        "toestemming.identity.v1.IdentityService" => ("identity", mesh.identity_channel()),
        "toestemming.pseudoniem.v1.PseudoniemService" => ("pseudoniem", mesh.pseudoniem_channel()),
        "toestemming.dossier.v1.DossierService" => ("dossier", mesh.dossier_channel()),
        other => panic!("no server of the test mesh is known to serve {other}"),
    }
}

fn services() -> BTreeSet<String> {
    proto_methods().into_iter().map(|m| m.service).collect()
}

/// A call of `path` with an empty request body, decoding any answer as
/// an empty message. Made as a server-streaming call, which a unary method
/// answers with its one message: a streaming method (WatchConsent) that
/// admits the caller opens its stream and may send nothing for a while, so
/// an open stream with no message within a moment counts as admitted.
async fn unary(channel: Channel, path: &str, authorization: Option<&str>) -> Result<(), Status> {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready()
        .await
        .map_err(|error| Status::unknown(format!("channel not ready: {error}")))?;
    let mut request = Request::new(());
    if let Some(value) = authorization {
        request
            .metadata_mut()
            .insert("authorization", value.parse().unwrap());
    }
    let path = PathAndQuery::try_from(path.to_owned()).unwrap();
    let mut answers = grpc
        .server_streaming(request, path, tonic_prost::ProstCodec::<(), ()>::default())
        .await?
        .into_inner();
    match tokio::time::timeout(std::time::Duration::from_secs(1), answers.message()).await {
        Ok(answer) => answer.map(drop),
        Err(_open_and_quiet) => Ok(()),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Anonymous,
    Garbage,
    Token(Role),
}

impl Who {
    fn all() -> Vec<Who> {
        let mut all = vec![Who::Anonymous, Who::Garbage];
        all.extend(Role::ALL.map(Who::Token));
        all
    }

    fn label(self) -> &'static str {
        match self {
            Who::Anonymous => "no token",
            Who::Garbage => "garbage",
            Who::Token(role) => role.as_str(),
        }
    }

    /// The `authorization` value this caller sends.
    fn authorization(self, mesh: &TestMesh) -> Option<String> {
        match self {
            Who::Anonymous => None,
            Who::Garbage => Some(GARBAGE.to_owned()),
            Who::Token(role) => {
                let subject = match role {
                    Role::Patient => uuid::Uuid::new_v4().hyphenated().to_string(),
                    Role::HealthcareCompany => "Matrix BV".to_owned(),
                    Role::Internal => "internal".to_owned(),
                };
                Some(format!("Bearer {}", mesh.token(role, &subject)))
            }
        }
    }
}

/// A compact cell for the printed matrix.
fn cell(outcome: &Result<(), Status>) -> String {
    match outcome {
        Ok(()) => "OK".into(),
        Err(status) => {
            let code = match status.code() {
                Code::Unauthenticated => "UNAUTH",
                Code::PermissionDenied => "DENIED",
                Code::InvalidArgument => "INVALID_ARG",
                Code::NotFound => "NOT_FOUND",
                Code::Unimplemented => "UNIMPLEMENTED",
                Code::ResourceExhausted => "EXHAUSTED",
                other => return format!("{other:?}"),
            };
            match reason(status).as_deref() {
                // The reason is asserted by `judge`; keep the cell short.
                Some("ROLE_NOT_ALLOWED") if code == "DENIED" => code.to_owned(),
                Some(reason) => format!("{code}:{}", reason.trim_start_matches("TOKEN_")),
                None => code.to_owned(),
            }
        }
    }
}

fn error_info(status: &Status) -> Option<(String, String, BTreeMap<String, String>)> {
    status.get_details_error_info().map(|info| {
        (
            info.domain,
            info.reason,
            info.metadata.into_iter().collect(),
        )
    })
}

/// Whether `outcome` is right for `who` calling a method with `rule`.
fn judge(rule: &Rule, who: Who, outcome: &Result<(), Status>) -> Result<(), String> {
    let status = outcome.as_ref().err();
    let code = status.map(Status::code);
    let info = status.and_then(error_info);
    let reason = info.as_ref().map(|(_, reason, _)| reason.as_str());
    let domain_ok = info
        .as_ref()
        .is_some_and(|(domain, ..)| domain == "toestemming");
    if code == Some(Code::Unimplemented) {
        return Err("the server does not implement a method its proto declares".into());
    }
    let refused_with = |want: &str| {
        if code == Some(Code::Unauthenticated) && reason == Some(want) && domain_ok {
            Ok(())
        } else {
            Err(format!(
                "expected UNAUTHENTICATED {want} (domain toestemming)"
            ))
        }
    };
    match (rule, who) {
        (Rule::Public, _) => {
            let auth_refusal = code == Some(Code::PermissionDenied)
                || reason.is_some_and(|r| r.starts_with("TOKEN_") || r == "ROLE_NOT_ALLOWED");
            if auth_refusal {
                Err("a public method was refused on credentials".into())
            } else {
                Ok(())
            }
        }
        (Rule::Roles(_), Who::Anonymous) => refused_with("TOKEN_MISSING"),
        (Rule::Roles(_), Who::Garbage) => refused_with("TOKEN_INVALID"),
        (Rule::Roles(allowed), Who::Token(role)) if allowed.contains(role.as_str()) => match code {
            Some(Code::Unauthenticated | Code::PermissionDenied) => {
                Err("an allowed role was refused".into())
            }
            _ => Ok(()),
        },
        (Rule::Roles(allowed), Who::Token(_)) => {
            let listed: Option<BTreeSet<String>> = info.as_ref().and_then(|(_, _, metadata)| {
                metadata
                    .get("allowed_roles")
                    .map(|roles| roles.split(',').map(|r| r.trim().to_owned()).collect())
            });
            if code == Some(Code::PermissionDenied)
                && reason == Some("ROLE_NOT_ALLOWED")
                && domain_ok
                && listed.as_ref() == Some(allowed)
            {
                Ok(())
            } else {
                Err(format!(
                    "expected PERMISSION_DENIED ROLE_NOT_ALLOWED with allowed_roles \
                     {allowed:?}, allowed_roles was {listed:?}"
                ))
            }
        }
    }
}

/// Left-aligned columns, two spaces apart.
fn render(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| rows.iter().map(|row| row[c].len()).max().unwrap_or(0))
        .collect();
    rows.iter()
        .map(|row| {
            row.iter()
                .zip(&widths)
                .map(|(text, w)| format!("{text:w$}"))
                .collect::<Vec<_>>()
                .join("  ")
                .trim_end()
                .to_owned()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn every_method_by_every_caller_over_real_grpc() {
    every_method_by_every_caller(TestMesh::start().await).await;
}

/// The same matrix on a mesh that signs with EdDSA, where only Identity
/// holds a private key and the others verify with the key set they fetched
/// from Identity's GetJwks.
#[tokio::test]
async fn every_method_by_every_caller_under_eddsa() {
    every_method_by_every_caller(TestMesh::start_with(use_eddsa).await).await;
}

async fn every_method_by_every_caller(mesh: TestMesh) {
    let methods = proto_methods();
    let callers = Who::all();
    let mut failures = Vec::new();
    let mut checked = 0usize;
    let mut header = vec!["method".to_owned(), "rule".to_owned()];
    header.extend(callers.iter().map(|who| who.label().to_owned()));
    let mut rows = vec![header];

    for method in &methods {
        let (server, channel) = server_of(&mesh, &method.service);
        let mut cells = Vec::new();
        for &who in &callers {
            let authorization = who.authorization(&mesh);
            let outcome = unary(channel.clone(), &method.path(), authorization.as_deref()).await;
            checked += 1;
            let mut text = cell(&outcome);
            if let Err(why) = judge(&method.rule, who, &outcome) {
                text.push('!');
                let status = outcome
                    .as_ref()
                    .err()
                    .map(|s| format!("{:?} {:?} {:?}", s.code(), s.message(), error_info(s)))
                    .unwrap_or_else(|| "OK".into());
                failures.push(format!(
                    "  {} on {server}, caller {}: {why}; got {status}",
                    method.path(),
                    who.label()
                ));
            }
            cells.push(text);
        }
        let short_name = format!(
            "{}/{}",
            method.service.rsplit('.').next().unwrap(),
            method.name
        );
        rows.push([vec![short_name, method.rule.to_string()], cells].concat());
    }

    let table = render(&rows);
    println!("{table}");
    println!(
        "{checked} (method, caller) pairs checked: {} methods x {} callers; `!` marks a failure",
        methods.len(),
        callers.len()
    );

    assert_eq!(checked, methods.len() * callers.len());
    assert_eq!(methods.len(), METHOD_ACCESS.len());
    assert!(
        failures.is_empty(),
        "{} of {checked} pairs are wrong:\n{}\n{table}",
        failures.len(),
        failures.join("\n")
    );
    mesh.stop().await;
}

/// Paths a server does not serve are UNIMPLEMENTED, whatever the caller
/// sends, including the RPCs of the mesh's other services.
#[tokio::test]
async fn unknown_methods_are_unimplemented() {
    let mesh = TestMesh::start().await;
    let methods = proto_methods();
    let internal = format!("Bearer {}", mesh.token(Role::Internal, "internal"));
    let mut failures = Vec::new();
    let mut checked = 0;
    for service in services() {
        let (server, channel) = server_of(&mesh, &service);
        let own_first = methods.iter().find(|m| m.service == service).unwrap();
        let mut paths: Vec<(String, Option<String>)> = Vec::new();
        for authorization in [None, Some(GARBAGE.to_owned()), Some(internal.clone())] {
            for path in [
                format!("/{service}/NoSuchMethod"),
                format!("/{service}/{}", own_first.name.to_ascii_lowercase()),
                format!("/{}/{}", service.to_ascii_lowercase(), own_first.name),
                "/toestemming.nosuch.v1.NoSuchService/Call".to_owned(),
                "/grpc.health.v1.Health/NoSuchMethod".to_owned(),
            ] {
                paths.push((path, authorization.clone()));
            }
        }
        // Another service's RPC, by a caller its rule admits: the access
        // table is global, the router is not.
        for other in methods.iter().filter(|m| m.service != service) {
            let authorization = match &other.rule {
                Rule::Public => None,
                Rule::Roles(roles) => {
                    let role = Role::ALL
                        .into_iter()
                        .find(|r| roles.contains(r.as_str()))
                        .unwrap();
                    Who::Token(role).authorization(&mesh)
                }
            };
            paths.push((other.path(), authorization));
        }
        for (path, authorization) in paths {
            checked += 1;
            let outcome = unary(channel.clone(), &path, authorization.as_deref()).await;
            let ok = matches!(&outcome, Err(status) if status.code() == Code::Unimplemented);
            if !ok {
                failures.push(format!(
                    "  {path} on {server} ({}): expected UNIMPLEMENTED, got {}",
                    authorization
                        .as_deref()
                        .map_or("no token", |a| if a == GARBAGE {
                            "garbage"
                        } else {
                            "token"
                        }),
                    cell(&outcome)
                ));
            }
        }
    }
    println!("{checked} unserved paths checked");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    mesh.stop().await;
}

/// `grpc.health.v1.Health/Check` answers SERVING without a token (and with a
/// garbage one, which a public RPC ignores) on every server.
#[tokio::test]
async fn health_is_public_on_every_server() {
    let mesh = TestMesh::start().await;
    for service in services() {
        let (server, channel) = server_of(&mesh, &service);
        for name in [String::new(), service.clone()] {
            for authorization in [None, Some(GARBAGE)] {
                let mut request = Request::new(HealthCheckRequest {
                    service: name.clone(),
                });
                if let Some(value) = authorization {
                    request
                        .metadata_mut()
                        .insert("authorization", value.parse().unwrap());
                }
                let answer = HealthClient::new(channel.clone())
                    .check(request)
                    .await
                    .unwrap_or_else(|status| {
                        panic!("{server}: Health/Check({name:?}) failed: {status:?}")
                    })
                    .into_inner();
                assert_eq!(
                    answer.status(),
                    ServingStatus::Serving,
                    "{server}: Health/Check({name:?})"
                );
            }
        }
        // The generic path too, exactly as the matrix calls RPCs.
        unary(channel, "/grpc.health.v1.Health/Check", None)
            .await
            .unwrap_or_else(|status| panic!("{server}: {status:?}"));
    }
    mesh.stop().await;
}

/// Reflection (v1 and v1alpha) lists each server's own service and not the
/// others', without a token; and the descriptor it serves still carries each
/// method's access option, agreeing with the embedded descriptor.
#[tokio::test]
async fn reflection_lists_each_server_own_service_with_its_access_options() {
    use tonic_reflection::pb::v1 as r1;
    use tonic_reflection::pb::v1alpha as r1a;

    let mesh = TestMesh::start().await;
    let all = services();
    let pool = pool();
    let extension = access_extension(&pool);
    let file_descriptor = pool
        .get_message_by_name("google.protobuf.FileDescriptorProto")
        .expect("descriptor.proto is in the set (auth.proto imports it)");
    let expected: BTreeMap<String, Rule> = proto_methods()
        .into_iter()
        .map(|m| (m.path(), m.rule))
        .collect();

    for service in &all {
        let (server, channel) = server_of(&mesh, service);

        // v1: list services, then fetch the file that defines this one.
        let requests = vec![
            r1::ServerReflectionRequest {
                host: String::new(),
                message_request: Some(r1::server_reflection_request::MessageRequest::ListServices(
                    String::new(),
                )),
            },
            r1::ServerReflectionRequest {
                host: String::new(),
                message_request: Some(
                    r1::server_reflection_request::MessageRequest::FileContainingSymbol(
                        service.clone(),
                    ),
                ),
            },
        ];
        let mut answers =
            r1::server_reflection_client::ServerReflectionClient::new(channel.clone())
                .server_reflection_info(tokio_stream::iter(requests))
                .await
                .unwrap_or_else(|status| panic!("{server}: reflection v1: {status:?}"))
                .into_inner();
        let listed = match answers.message().await.unwrap().unwrap().message_response {
            Some(r1::server_reflection_response::MessageResponse::ListServicesResponse(list)) => {
                list.service
                    .into_iter()
                    .map(|s| s.name)
                    .collect::<BTreeSet<_>>()
            }
            other => panic!("{server}: unexpected reflection answer {other:?}"),
        };
        assert!(listed.contains(service), "{server} lists {listed:?}");
        assert!(
            listed.contains("grpc.health.v1.Health"),
            "{server} lists {listed:?}"
        );
        for other in all.iter().filter(|s| *s != service) {
            assert!(!listed.contains(other), "{server} also lists {other}");
        }
        let files = match answers.message().await.unwrap().unwrap().message_response {
            Some(r1::server_reflection_response::MessageResponse::FileDescriptorResponse(f)) => {
                f.file_descriptor_proto
            }
            other => panic!("{server}: unexpected reflection answer {other:?}"),
        };
        let mut seen = 0;
        for bytes in files {
            let file = DynamicMessage::decode(file_descriptor.clone(), bytes.as_slice()).unwrap();
            let package = file
                .get_field_by_name("package")
                .unwrap()
                .as_str()
                .unwrap()
                .to_owned();
            let Some(Value::List(services)) = file.get_field_by_name("service").as_deref().cloned()
            else {
                continue;
            };
            for svc in services {
                let svc = svc.as_message().unwrap();
                let name = svc
                    .get_field_by_name("name")
                    .unwrap()
                    .as_str()
                    .unwrap()
                    .to_owned();
                if format!("{package}.{name}") != *service {
                    continue;
                }
                let Some(Value::List(rpcs)) = svc.get_field_by_name("method").as_deref().cloned()
                else {
                    panic!("{server}: {service} has no methods in reflection");
                };
                for rpc in rpcs {
                    let rpc = rpc.as_message().unwrap();
                    let method = rpc
                        .get_field_by_name("name")
                        .unwrap()
                        .as_str()
                        .unwrap()
                        .to_owned();
                    let path = format!("/{service}/{method}");
                    let options = rpc.get_field_by_name("options").unwrap();
                    let options = options.as_message().unwrap();
                    assert!(
                        options.has_extension(&extension),
                        "{server}: reflection dropped the access option of {path}"
                    );
                    let value = options.get_extension(&extension);
                    let Value::Message(access) = value.as_ref() else {
                        panic!("{path}: the access option is not a message");
                    };
                    assert_eq!(
                        Some(&rule_of(&path, access, &pool)),
                        expected.get(&path),
                        "{server}: reflection and the embedded descriptor disagree on {path}"
                    );
                    seen += 1;
                }
            }
        }
        let declared = expected
            .keys()
            .filter(|p| p.starts_with(&format!("/{service}/")))
            .count();
        assert_eq!(seen, declared, "{server}: methods seen through reflection");

        // v1alpha: the listing only (grpcurl before 1.9 uses it).
        let request = r1a::ServerReflectionRequest {
            host: String::new(),
            message_request: Some(
                r1a::server_reflection_request::MessageRequest::ListServices(String::new()),
            ),
        };
        let answer = r1a::server_reflection_client::ServerReflectionClient::new(channel)
            .server_reflection_info(tokio_stream::iter(vec![request]))
            .await
            .unwrap_or_else(|status| panic!("{server}: reflection v1alpha: {status:?}"))
            .into_inner()
            .message()
            .await
            .unwrap()
            .unwrap();
        match answer.message_response {
            Some(r1a::server_reflection_response::MessageResponse::ListServicesResponse(list)) => {
                assert!(
                    list.service.iter().any(|s| s.name == *service),
                    "{server}: v1alpha does not list {service}"
                );
            }
            other => panic!("{server}: unexpected v1alpha answer {other:?}"),
        }
    }
    mesh.stop().await;
}

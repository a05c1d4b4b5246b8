//! Who may call what, derived from the protos.
//!
//! `build.rs` reads the `(toestemming.auth.v1.access)` option of every RPC
//! and writes `METHOD_ACCESS`; there is no second, hand-kept list. An RPC
//! without the option does not build. Health and reflection are the only
//! paths public by this file's say-so, because their protos are not ours.

use super::claims::Role;

/// What an RPC's `access` option says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessRule {
    /// No token needed.
    Public,
    /// A verified token with one of these roles.
    Roles(&'static [Role]),
}

/// One row of the generated table.
#[derive(Debug, Clone, Copy)]
pub struct MethodAccess {
    /// The gRPC path, `/package.Service/Method`.
    pub path: &'static str,
    pub rule: AccessRule,
}

include!(concat!(env!("OUT_DIR"), "/access_rules.rs"));

/// Infrastructure services every server exposes, public by design: load
/// balancers and grpcurl must reach them without a token.
const PUBLIC_INFRASTRUCTURE: &[&str] = &[
    "/grpc.health.v1.Health/",
    "/grpc.reflection.v1.ServerReflection/",
    "/grpc.reflection.v1alpha.ServerReflection/",
];

/// The rule for a request path on the server of `service` (its full proto
/// name), or `None` for a path that server does not serve, including the
/// methods of the mesh's other services.
pub fn access_rule(service: &str, path: &str) -> Option<AccessRule> {
    if PUBLIC_INFRASTRUCTURE
        .iter()
        .any(|prefix| path.starts_with(prefix))
    {
        return Some(AccessRule::Public);
    }
    let (path_service, _method) = path.strip_prefix('/')?.split_once('/')?;
    if path_service != service {
        return None;
    }
    METHOD_ACCESS
        .iter()
        .find(|m| m.path == path)
        .map(|m| m.rule)
}

impl AccessRule {
    /// Whether a caller with `role` passes this rule.
    pub fn admits(self, role: Role) -> bool {
        match self {
            AccessRule::Public => true,
            AccessRule::Roles(roles) => roles.contains(&role),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PSEUDONIEM: &str = "toestemming.pseudoniem.v1.PseudoniemService";
    const DOSSIER: &str = "toestemming.dossier.v1.DossierService";

    #[test]
    fn pseudoniem_answers_only_internal_callers() {
        for path in [
            "/toestemming.pseudoniem.v1.PseudoniemService/GetPseudoniem",
            "/toestemming.pseudoniem.v1.PseudoniemService/LookupPseudoniem",
        ] {
            assert_eq!(
                access_rule(PSEUDONIEM, path),
                Some(AccessRule::Roles(&[Role::Internal]))
            );
        }
    }

    #[test]
    fn a_server_has_no_rule_for_another_services_methods() {
        let path = "/toestemming.pseudoniem.v1.PseudoniemService/GetPseudoniem";
        assert_eq!(access_rule(DOSSIER, path), None);
    }

    #[test]
    fn unknown_paths_have_no_rule() {
        for path in [
            "/toestemming.dossier.v1.DossierService/Nope",
            "/toestemming.dossier.v1.DossierService",
            "/grpc.health.v1.Healthy/Check",
            "",
        ] {
            assert_eq!(access_rule(DOSSIER, path), None, "{path:?}");
        }
    }

    #[test]
    fn health_and_reflection_are_public() {
        for path in [
            "/grpc.health.v1.Health/Check",
            "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
            "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
        ] {
            assert_eq!(
                access_rule(DOSSIER, path),
                Some(AccessRule::Public),
                "{path:?}"
            );
        }
    }
}

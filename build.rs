//! Compiles `proto/` without a system `protoc`, and derives the access table.
//!
//! One compile (protox) feeds three outputs, so they can never disagree:
//! - the Rust code for messages, servers and clients (tonic-prost-build);
//! - `descriptor.bin`, the encoded descriptor set served by reflection. It is
//!   encoded by protox itself, not re-encoded through `prost_types`, because
//!   prost drops unknown fields and the custom `access` options would vanish
//!   from what `grpcurl describe` shows;
//! - `access_rules.rs`, the table the verify layer reads: one entry per RPC,
//!   taken from its `(toestemming.auth.v1.access)` option. An RPC without a
//!   valid rule fails the build here: access is denied by default.

use std::error::Error;
use std::fmt::Write as _;
use std::path::PathBuf;

use prost_reflect::{DescriptorPool, Value};

/// The proto files that define the mesh; their imports are resolved from `proto/`.
const PROTOS: &[&str] = &[
    "toestemming/auth/v1/auth.proto",
    "toestemming/identity/v1/identity.proto",
    "toestemming/pseudoniem/v1/pseudoniem.proto",
    "toestemming/dossier/v1/dossier.proto",
];

const ACCESS_EXTENSION: &str = "toestemming.auth.v1.access";

fn main() -> Result<(), Box<dyn Error>> {
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    // tonic-prost-build's own rerun switch does nothing; say it ourselves.
    println!("cargo:rerun-if-changed=proto");
    for proto in PROTOS {
        println!("cargo:rerun-if-changed=proto/{proto}");
    }
    // `sqlx::migrate!` embeds these at compile time but cannot ask cargo to
    // watch them on stable Rust; a new or edited migration must rebuild.
    println!("cargo:rerun-if-changed=services/identity/migrations");
    println!("cargo:rerun-if-changed=services/pseudoniem/migrations");
    println!("cargo:rerun-if-changed=services/dossier/migrations");

    let mut compiler = protox::Compiler::new(["proto"])?;
    compiler.include_imports(true).include_source_info(true);
    compiler.open_files(PROTOS)?;

    std::fs::write(
        out_dir.join("descriptor.bin"),
        compiler.encode_file_descriptor_set(),
    )?;

    let pool = compiler.descriptor_pool();
    std::fs::write(out_dir.join("access_rules.rs"), access_table(&pool)?)?;

    // The well-known types in the set map to prost-types (prost's default
    // extern paths), so only the mesh's own packages become Rust modules.
    tonic_prost_build::configure()
        .emit_rerun_if_changed(false)
        .compile_fds(compiler.file_descriptor_set())?;
    Ok(())
}

/// Renders the access table as Rust source, or explains which RPC has no
/// usable rule.
fn access_table(pool: &DescriptorPool) -> Result<String, Box<dyn Error>> {
    let extension = pool
        .get_extension_by_name(ACCESS_EXTENSION)
        .ok_or("the access extension is missing from auth.proto")?;
    let role_enum = pool
        .get_enum_by_name("toestemming.auth.v1.Role")
        .ok_or("the Role enum is missing from auth.proto")?;

    let mut rows = String::new();
    let mut problems = Vec::new();
    for service in pool.services() {
        if !service.full_name().starts_with("toestemming.") {
            continue;
        }
        for method in service.methods() {
            let path = format!("/{}/{}", service.full_name(), method.name());
            let options = method.options();
            if !options.has_extension(&extension) {
                problems.push(format!(
                    "{path} declares no (toestemming.auth.v1.access) option"
                ));
                continue;
            }
            let rule = options.get_extension(&extension);
            let Value::Message(rule) = rule.as_ref() else {
                problems.push(format!("{path}: the access option is not a message"));
                continue;
            };
            let public = matches!(
                rule.get_field_by_name("public").as_deref(),
                Some(Value::Bool(true))
            );
            let mut roles = Vec::new();
            if let Some(Value::List(values)) = rule.get_field_by_name("roles").as_deref() {
                for value in values {
                    let number = value.as_enum_number().unwrap_or_default();
                    match role_enum
                        .get_value(number)
                        .map(|v| v.name().to_owned())
                        .as_deref()
                    {
                        Some("ROLE_PATIENT") => roles.push("Role::Patient"),
                        Some("ROLE_HEALTHCARE_COMPANY") => roles.push("Role::HealthcareCompany"),
                        Some("ROLE_INTERNAL") => roles.push("Role::Internal"),
                        other => {
                            problems.push(format!("{path}: role {other:?} may not be granted"))
                        }
                    }
                }
            }
            let rule = match (public, roles.is_empty()) {
                (true, true) => "AccessRule::Public".to_owned(),
                (false, false) => format!("AccessRule::Roles(&[{}])", roles.join(", ")),
                (true, false) => {
                    problems.push(format!("{path}: set either public or roles, not both"));
                    continue;
                }
                (false, true) => {
                    problems.push(format!("{path}: the access option grants nobody"));
                    continue;
                }
            };
            writeln!(rows, "    MethodAccess {{ path: {path:?}, rule: {rule} }},")?;
        }
    }
    if !problems.is_empty() {
        return Err(format!(
            "every RPC must declare who may call it (deny by default):\n  {}",
            problems.join("\n  ")
        )
        .into());
    }
    Ok(format!(
        "// Generated by build.rs from the (toestemming.auth.v1.access) option of every RPC.\n\
         // Do not edit: change the proto instead.\n\
         pub static METHOD_ACCESS: &[MethodAccess] = &[\n{rows}];\n"
    ))
}

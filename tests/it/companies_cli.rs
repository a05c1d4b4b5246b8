//! `toestemming companies verify|unverify|list` as a process, on the
//! database of a running mesh's Identity, as an operator runs it: the
//! standing it prints, the exit code, and a patient's default following
//! the verification at once.

use std::process::Command;

use toestemming::proto::dossier::v1::{ConsentStatus, DecisionReason};
use toestemming::settings::ServiceKind;

use crate::support::*;

const BINARY: &str = env!("CARGO_BIN_EXE_toestemming");

/// Runs `toestemming companies ARGS` with only `DATABASE_URL` set; whether
/// it exited 0, what it printed (standard output), and what it said on
/// standard error (its log, and why it failed).
fn companies(database_url: &str, args: &[&str]) -> (bool, String, String) {
    let output = Command::new(BINARY)
        .arg("companies")
        .args(args)
        .env_clear()
        .env("DATABASE_URL", database_url)
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

#[tokio::test]
async fn an_operator_verifies_and_unverifies_a_company_and_defaults_follow() {
    let mesh = TestMesh::start().await;
    let identity_db = mesh.settings.database_url(ServiceKind::Identity);
    let url = identity_db.expose();
    let company = mesh.company_token("Operator Zorg").await;
    mesh.company_token("Andere Zorg").await;
    let patient = bsn(1);
    let (_, token) = mesh.patient_token(&patient).await;
    set_choice(&mesh, &token, None, ConsentStatus::Granted, None)
        .await
        .unwrap();
    create_dossier(&mesh, &company, &patient).await;
    let reason = || async {
        check_permission(&mesh, &company, &patient)
            .await
            .unwrap()
            .reason()
    };
    assert_eq!(reason().await, DecisionReason::NoChoice);

    let (ok, printed, said) = companies(url, &["verify", "OPERATOR zorg"]);
    assert!(ok, "{said}");
    assert_eq!(
        printed.trim(),
        "verified: Operator Zorg",
        "Identity's spelling"
    );
    assert_eq!(reason().await, DecisionReason::DefaultChoice);

    let (ok, printed, said) = companies(url, &["list"]);
    assert!(ok, "{said}");
    assert_eq!(
        printed.lines().collect::<Vec<_>>(),
        ["unverified\tAndere Zorg", "verified\tOperator Zorg"]
    );

    let (ok, printed, said) = companies(url, &["unverify", "Operator Zorg"]);
    assert!(ok, "{said}");
    assert_eq!(printed.trim(), "unverified: Operator Zorg");
    // Dossier keeps a "verified" answer for a few seconds.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while reason().await != DecisionReason::NoChoice {
        assert!(
            std::time::Instant::now() < deadline,
            "the default still covers an unverified company"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }

    let (ok, printed, said) = companies(url, &["verify", "Niemand BV"]);
    assert!(!ok && printed.is_empty());
    assert!(said.contains("no company is registered"), "{said}");
    mesh.stop().await;
}

#[test]
fn without_an_identity_database_it_says_where_it_looked_and_creates_none() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("identity.db");
    let url = format!("sqlite://{}?mode=rwc", missing.display());
    let (ok, printed, said) = companies(&url, &["list"]);
    assert!(!ok && printed.is_empty());
    assert!(said.contains("there is no Identity database"), "{said}");
    assert!(!missing.exists(), "no empty database was made");
}

//! PostgreSQL as the deployment runs it, on clusters of these tests' own:
//! least privilege between the services' roles, a database that is still
//! starting, and one that goes away and comes back.
//!
//! They need the PostgreSQL server binaries (`initdb`, `pg_ctl`), so plain
//! `cargo test` leaves them out (ignored, with the reason);
//! `scripts/test.sh postgres` runs them, then the rest of the suite on a
//! throwaway cluster of its own.

use std::time::{Duration, Instant};

use sqlx::{Connection as _, PgConnection};
use toestemming::auth::Role;
use toestemming::proto::pseudoniem::v1::pseudoniem_service_client::PseudoniemServiceClient;
use toestemming::proto::pseudoniem::v1::{GetPseudoniemRequest, LookupPseudoniemRequest};
use toestemming::settings::ServiceKind;
use tokio_util::sync::CancellationToken;
use tonic::Code;

use crate::support::databases::Cluster;
use crate::support::*;
use toestemming::auth::TokenIssuer;

/// A mesh whose services keep their data in `cluster`'s databases, as the
/// deployment names them; Dossier's migrated first by its owner, as the
/// deployment's dossier-migrate does.
async fn mesh_on(cluster: &Cluster) -> TestMesh {
    crate::support::databases::migrate_as_owner(&cluster.service_url(ServiceKind::Dossier)).await;
    TestMesh::start_with(|settings| {
        for kind in [
            ServiceKind::Identity,
            ServiceKind::Pseudoniem,
            ServiceKind::Dossier,
        ] {
            settings
                .service_database_urls
                .insert(kind, cluster.service_url(kind));
        }
    })
    .await
}

/// The SQLSTATE of a failed connection attempt, if the server refused it.
async fn refusal(url: &str) -> Option<String> {
    match PgConnection::connect(url).await {
        Ok(_) => None,
        Err(error) => Some(
            error
                .as_database_error()
                .and_then(|e| e.code().map(|c| c.into_owned()))
                .unwrap_or_else(|| format!("not a database error: {error}")),
        ),
    }
}

#[tokio::test]
#[ignore = "needs the PostgreSQL server binaries (initdb, pg_ctl): scripts/test.sh postgres"]
async fn each_service_role_reaches_only_its_own_database() {
    let cluster = Cluster::start().await;
    // Pseudoniem's service creates its table and stores a BSN's HMAC in it.
    let mesh = mesh_on(&cluster).await;
    mesh.patient_token(&bsn(1)).await;
    let mut owner = PgConnection::connect(&cluster.url("pseudoniem", "pseudoniem"))
        .await
        .expect("a role reaches its own database");
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM bsn_pseudoniemen")
        .fetch_one(&mut owner)
        .await
        .unwrap();
    assert_eq!(stored, 1, "the control: the BSN table holds the patient");

    // 42501: insufficient_privilege (no CONNECT on the database).
    for (role, database) in [
        ("identity", "pseudoniem"),
        ("dossier", "pseudoniem"),
        ("identity", "dossier"),
        ("dossier", "identity"),
        ("pseudoniem", "identity"),
    ] {
        assert_eq!(
            refusal(&cluster.url(role, database)).await.as_deref(),
            Some("42501"),
            "{role} reached the {database} database"
        );
    }
    // Dossier's role does not own its database: it reads and appends, and
    // may neither rewrite the access log nor change the schema.
    let mut dossier = PgConnection::connect(&cluster.url("dossier", "dossier"))
        .await
        .unwrap();
    let owner: String = sqlx::query_scalar(
        "SELECT pg_get_userbyid(datdba)::text FROM pg_database WHERE datname = 'dossier'",
    )
    .fetch_one(&mut dossier)
    .await
    .unwrap();
    assert_eq!(owner, "dossier_owner");
    for statement in [
        "UPDATE access_log SET refused = 1",
        "DELETE FROM access_log",
        "DELETE FROM choice_versions",
        "CREATE TABLE mine (x int)",
        "DROP TRIGGER access_log_is_never_changed ON access_log",
    ] {
        let error = sqlx::query(statement)
            .execute(&mut dossier)
            .await
            .unwrap_err();
        assert_eq!(
            error.as_database_error().and_then(|e| e.code()).as_deref(),
            Some("42501"),
            "{statement}"
        );
    }

    // Nor may a role make itself more: it is no superuser and cannot
    // create roles or databases.
    let mut identity = PgConnection::connect(&cluster.url("identity", "identity"))
        .await
        .unwrap();
    for statement in ["CREATE ROLE intruder", "CREATE DATABASE elsewhere"] {
        let error = sqlx::query(statement)
            .execute(&mut identity)
            .await
            .unwrap_err();
        assert_eq!(
            error.as_database_error().and_then(|e| e.code()).as_deref(),
            Some("42501"),
            "{statement}"
        );
    }
    mesh.stop().await;
}

#[tokio::test]
#[ignore = "needs the PostgreSQL server binaries (initdb, pg_ctl): scripts/test.sh postgres"]
async fn start_up_waits_for_a_database_that_is_still_starting() {
    let cluster = Cluster::planned();
    let mut settings = test_settings(tempfile::tempdir().unwrap().path());
    settings.database_wait = Duration::from_secs(60);
    settings.service_database_urls.insert(
        ServiceKind::Pseudoniem,
        cluster.service_url(ServiceKind::Pseudoniem),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let shutdown = CancellationToken::new();
    let started_at = Instant::now();
    let starting = tokio::spawn({
        let shutdown = shutdown.clone();
        async move {
            toestemming::launch::start(ServiceKind::Pseudoniem, &settings, listener, shutdown).await
        }
    });
    // The database comes up only after the service began to wait for it.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        !starting.is_finished(),
        "the service waits, it does not give up"
    );
    cluster.start_server().await;
    let started = starting
        .await
        .unwrap()
        .expect("the service started once the database was up");
    assert!(started_at.elapsed() >= Duration::from_millis(1500));
    let internal = TokenIssuer::new(&jwt_settings())
        .issue("internal", Role::Internal)
        .unwrap()
        .access_token;
    let mut client = PseudoniemServiceClient::new(channel(started.addr).await);
    let created = client
        .get_pseudoniem(authed(GetPseudoniemRequest { bsn: bsn(1) }, &internal))
        .await
        .unwrap()
        .into_inner();
    assert!(created.created);
    shutdown.cancel();
}

#[tokio::test]
#[ignore = "needs the PostgreSQL server binaries (initdb, pg_ctl): scripts/test.sh postgres"]
async fn a_database_that_goes_away_is_unavailable_and_recovers_without_a_restart() {
    let cluster = Cluster::start().await;
    let mesh = mesh_on(&cluster).await;
    let internal = mesh.token(Role::Internal, "internal");
    let lookup = |n: u32| {
        let mut client = mesh.pseudoniem();
        let internal = internal.clone();
        async move {
            client
                .lookup_pseudoniem(authed(LookupPseudoniemRequest { bsn: bsn(n) }, &internal))
                .await
        }
    };
    mesh.patient_token(&bsn(1)).await;
    assert!(lookup(1).await.is_ok());

    cluster.stop_server().await;
    // A BSN never seen needs the database: UNAVAILABLE, retry later.
    let status = lookup(2).await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert_eq!(reason(&status).as_deref(), Some("STORAGE_UNAVAILABLE"));
    assert!(!status.message().contains(&bsn(2)));
    // A pseudoniem once made never changes, so Pseudoniem still answers
    // for a BSN it has seen, from its own memory.
    assert!(
        lookup(1).await.is_ok(),
        "a known BSN is answered without the database"
    );

    cluster.start_server().await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match lookup(2).await {
            Err(status) if status.code() == Code::NotFound => break,
            Err(status) => {
                assert_eq!(status.code(), Code::Unavailable, "{status:?}");
                assert!(Instant::now() < deadline, "no recovery: {status:?}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Ok(found) => panic!("a BSN never seen was found: {found:?}"),
        }
    }
    // The whole mesh, not just Pseudoniem, works again: sign in.
    let signed_in = mesh
        .identity()
        .login_patient(toestemming::proto::identity::v1::LoginPatientRequest {
            bsn: bsn(1),
            password: PASSWORD.into(),
        })
        .await;
    assert!(signed_in.is_ok(), "{signed_in:?}");
    mesh.stop().await;
}

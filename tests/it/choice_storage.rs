//! The choices in Dossier's database, on SQLite and (in the second pass)
//! PostgreSQL: a database written by the release before choices existed
//! upgrades without losing a patient's decision, and the versions refuse
//! UPDATE and DELETE even from the service's own role.

use std::path::Path;

use sqlx::{AnyPool, Executor as _};
use toestemming::auth::Role;
use toestemming::proto::dossier::v1::dossier_service_client::DossierServiceClient;
use toestemming::proto::dossier::v1::*;
use toestemming::proto::pseudoniem::v1::GetPseudoniemRequest;
use toestemming::settings::{DatabaseUrl, ServiceKind};
use tokio_util::sync::CancellationToken;

use crate::support::databases::{migrate_as_owner, on_postgres, owner_url, unmigrated_database};
use crate::support::*;

/// A pool on `url` (the service's own role on PostgreSQL).
async fn pool(url: &DatabaseUrl) -> AnyPool {
    sqlx::any::install_default_drivers();
    AnyPool::connect(url.expose()).await.unwrap()
}

/// Brings `pool` to the schema of the release before choices: Dossier's
/// first migration alone, read from the same file the binary embeds (so
/// its checksum is the one the upgrade expects).
async fn old_schema(pool: &AnyPool) {
    let engine = if on_postgres() { "postgres" } else { "sqlite" };
    let source = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("services/dossier/migrations")
        .join(engine)
        .join("0001_dossiers.sql");
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(&source, dir.path().join("0001_dossiers.sql")).unwrap();
    sqlx::migrate::Migrator::new(dir.path())
        .await
        .unwrap()
        .run(pool)
        .await
        .unwrap();
}

#[tokio::test]
async fn an_old_database_upgrades_without_losing_a_decision() {
    let mesh = TestMesh::start().await;
    let company = mesh.company_token("Oude Zorg").await;
    let internal = mesh.token(Role::Internal, "internal");
    // Three patients known to Pseudoniem, as the old release left them.
    let mut pseudoniemen = Vec::new();
    for n in 1..=3 {
        let found = mesh
            .pseudoniem()
            .get_pseudoniem(authed(GetPseudoniemRequest { bsn: bsn(n) }, &internal))
            .await
            .unwrap()
            .into_inner();
        pseudoniemen.push(found.pseudoniem);
    }
    // The old release's Dossier database: consent on the dossier row.
    let url = unmigrated_database(mesh.dir.path(), ServiceKind::Dossier, "old-dossier").await;
    let old = pool(&owner_url(&url)).await;
    old_schema(&old).await;
    let decided_at: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z
    for (pseudoniem, consent) in pseudoniemen.iter().zip(["GRANTED", "DECLINED", "PENDING"]) {
        sqlx::query(
            "INSERT INTO dossiers (id, company_name, pseudoniem, consent, create_time, update_time) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(uuid::Uuid::new_v4().to_string())
        .bind("Oude Zorg")
        .bind(pseudoniem.as_str())
        .bind(consent)
        .bind(decided_at - 1_000)
        .bind(decided_at)
        .execute(&old)
        .await
        .unwrap();
    }
    old.close().await;
    // On PostgreSQL the owner applies this release's migrations, as the
    // deployment's dossier-migrate does; on SQLite the service does.
    if on_postgres() {
        migrate_as_owner(&url).await;
    }

    // This release's Dossier starts on it (and on SQLite upgrades it).
    let stop = CancellationToken::new();
    let upgraded = mesh
        .start_extra(ServiceKind::Dossier, stop.clone(), {
            let url = url.clone();
            move |settings| {
                settings
                    .service_database_urls
                    .insert(ServiceKind::Dossier, url);
            }
        })
        .await;
    let upgraded_channel = channel(upgraded.addr).await;
    let mut dossier = DossierServiceClient::new(upgraded_channel.clone());
    let check = |n: u32| {
        let mut dossier = DossierServiceClient::new(upgraded_channel.clone());
        let company = company.clone();
        async move {
            let answer = dossier
                .check_permission(authed(CheckPermissionRequest { bsn: bsn(n) }, &company))
                .await
                .unwrap()
                .into_inner();
            (answer.consent(), answer.gave_permission, answer.reason())
        }
    };
    assert_eq!(
        check(1).await,
        (ConsentStatus::Granted, true, DecisionReason::CompanyChoice)
    );
    assert_eq!(
        check(2).await,
        (
            ConsentStatus::Declined,
            false,
            DecisionReason::CompanyChoice
        )
    );
    assert_eq!(
        check(3).await,
        (ConsentStatus::Pending, false, DecisionReason::NoChoice)
    );

    // The decision is now the patient's choice, made when it was made.
    let patient = mesh.token(Role::Patient, &pseudoniemen[1]);
    let history = dossier
        .list_my_choices(authed(
            ListMyChoicesRequest {
                include_history: true,
                ..Default::default()
            },
            &patient,
        ))
        .await
        .unwrap()
        .into_inner()
        .choices;
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].company_name, "Oude Zorg");
    assert_eq!(history[0].consent(), ConsentStatus::Declined);
    assert_eq!(
        history[0].update_time.as_ref().map(|t| t.seconds * 1000),
        Some(decided_at)
    );
    // So it outlives the dossier.
    dossier
        .delete_dossier(authed(DeleteDossierRequest { bsn: bsn(2) }, &company))
        .await
        .unwrap();
    dossier
        .create_dossier(authed(CreateDossierRequest { bsn: bsn(2) }, &company))
        .await
        .unwrap();
    assert_eq!(check(2).await.0, ConsentStatus::Declined);
    stop.cancel();
    upgraded.wait().await.unwrap();
    mesh.stop().await;
}

#[tokio::test]
async fn choice_versions_refuse_update_and_delete_even_from_the_service_s_role() {
    let mesh = TestMesh::start().await;
    mesh.company_token("Onveranderlijk Zorg").await;
    let (_, patient) = mesh.patient_token(&bsn(1)).await;
    set_choice(
        &mesh,
        &patient,
        Some("Onveranderlijk Zorg"),
        ConsentStatus::Declined,
        None,
    )
    .await
    .unwrap();
    let before = list_choices(&mesh, &patient, true).await.unwrap();
    // The role the Dossier service runs as (on SQLite: the file itself),
    // and on PostgreSQL also the database's owner.
    let url = mesh.settings.database_url(ServiceKind::Dossier);
    let service = pool(&url).await;
    let owner = pool(&owner_url(&url)).await;
    let mut statements = vec![
        "UPDATE choice_versions SET consent = 'GRANTED'",
        "DELETE FROM choice_versions",
    ];
    if on_postgres() {
        statements.push("TRUNCATE choice_versions");
    }
    for statement in statements {
        for (who, db) in [("the service", &service), ("the owner", &owner)] {
            let error = db.execute(statement).await.unwrap_err();
            let database = error.as_database_error().expect("refused by the database");
            if on_postgres() {
                // The service has no such grant; the owner meets the trigger.
                assert_eq!(
                    database.code().as_deref(),
                    Some("42501"),
                    "{who}: {statement}"
                );
            }
            if who == "the owner" || !on_postgres() {
                assert!(
                    database.message().contains("append-only"),
                    "{who}: {statement}: {database}"
                );
            }
        }
    }
    service.close().await;
    let db = owner;
    db.close().await;
    assert_eq!(list_choices(&mesh, &patient, true).await.unwrap(), before);
    mesh.stop().await;
}

//! The access log over real gRPC, on SQLite and (in the second pass)
//! PostgreSQL: every call about a patient is in it with who, what, on whose
//! behalf and the answer; the patient reads their own, filtered and paged;
//! the chain holds under concurrent calls and across two replicas, and
//! `toestemming audit verify` names an entry an owner altered; the service
//! cannot change an entry; and no log means no answer.

use std::process::Command;

use sqlx::{AnyPool, Executor as _};
use toestemming::proto::dossier::v1::dossier_service_client::DossierServiceClient;
use toestemming::proto::dossier::v1::*;
use toestemming::settings::ServiceKind;
use tokio_util::sync::CancellationToken;
use tonic::Code;

use crate::support::databases::on_postgres;
use crate::support::*;

const BINARY: &str = env!("CARGO_BIN_EXE_toestemming");

/// Every entry of `patient` (a token), newest first, reading every page.
async fn my_log(mesh: &TestMesh, patient: &str) -> Vec<AccessLogEntry> {
    read_log(mesh, patient, ListMyAccessLogRequest::default()).await
}

async fn read_log(
    mesh: &TestMesh,
    patient: &str,
    mut request: ListMyAccessLogRequest,
) -> Vec<AccessLogEntry> {
    let mut entries = Vec::new();
    loop {
        let page = mesh
            .dossier()
            .list_my_access_log(authed(request.clone(), patient))
            .await
            .unwrap()
            .into_inner();
        entries.extend(page.entries);
        if page.next_page_token.is_empty() {
            return entries;
        }
        request.page_token = page.next_page_token;
    }
}

/// `message` with a token and an `x-request-id`.
fn traced<T>(message: T, token: &str, request_id: &str) -> tonic::Request<T> {
    let mut request = authed(message, token);
    request
        .metadata_mut()
        .insert("x-request-id", request_id.parse().unwrap());
    request
}

/// A pool on the mesh's Dossier database, as its owner (the file itself on
/// SQLite; on PostgreSQL `dossier_owner`, which the service never runs as).
async fn dossier_database(mesh: &TestMesh) -> AnyPool {
    let url = mesh.settings.database_url(ServiceKind::Dossier);
    connect(&crate::support::databases::owner_url(&url)).await
}

/// A pool on the mesh's Dossier database as the role the service runs as.
async fn service_database(mesh: &TestMesh) -> AnyPool {
    connect(&mesh.settings.database_url(ServiceKind::Dossier)).await
}

async fn connect(url: &toestemming::settings::DatabaseUrl) -> AnyPool {
    sqlx::any::install_default_drivers();
    AnyPool::connect(url.expose()).await.unwrap()
}

/// `toestemming audit verify URL`: whether it passed, and what it said.
fn audit_verify(url: &str) -> (bool, String) {
    let output = Command::new(BINARY)
        .args(["audit", "verify", url])
        .env_clear()
        .output()
        .unwrap();
    let said =
        String::from_utf8(output.stdout).unwrap() + &String::from_utf8(output.stderr).unwrap();
    (output.status.success(), said)
}

#[tokio::test]
async fn every_call_about_a_patient_is_logged_with_who_what_and_the_answer() {
    let mesh = TestMesh::start().await;
    let company = mesh.company_token("Logboek Zorg").await;
    let stranger = mesh.company_token("Nieuwsgierig BV").await;
    let patient_bsn = bsn(1);
    let (pseudoniem, patient) = mesh.patient_token(&patient_bsn).await;
    let mut dossier = mesh.dossier();

    let created = dossier
        .create_dossier(traced(
            CreateDossierRequest {
                bsn: patient_bsn.clone(),
            },
            &company,
            "req-create",
        ))
        .await
        .unwrap()
        .into_inner()
        .dossier
        .unwrap();
    let check = |request_id: &'static str, token: String| {
        let mut dossier = mesh.dossier();
        let bsn = patient_bsn.clone();
        async move {
            dossier
                .check_permission(traced(CheckPermissionRequest { bsn }, &token, request_id))
                .await
        }
    };
    check("req-check-1", company.clone()).await.unwrap();
    dossier
        .set_consent(traced(
            SetConsentRequest {
                dossier_id: created.id.clone(),
                consent: ConsentStatus::Granted as i32,
                expire_time: None,
            },
            &patient,
            "req-grant",
        ))
        .await
        .unwrap();
    check("req-check-2", company.clone()).await.unwrap();
    let refused = check("req-stranger", stranger.clone()).await.unwrap_err();
    assert_eq!(refused.code(), Code::NotFound);
    set_choice(&mesh, &patient, None, ConsentStatus::Declined, None)
        .await
        .unwrap();
    clear_choice(&mesh, &patient, None).await.unwrap();
    assert!(
        clear_choice(&mesh, &patient, None).await.is_err(),
        "nothing to clear"
    );
    dossier
        .delete_dossier(traced(
            DeleteDossierRequest {
                bsn: patient_bsn.clone(),
            },
            &company,
            "req-delete",
        ))
        .await
        .unwrap();
    // A patient the mesh never saw is nobody's entry.
    let unknown = check_permission(&mesh, &company, &bsn(99))
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);

    let log = my_log(&mesh, &patient).await;
    let summary: Vec<(
        AccessAction,
        &str,
        Actor,
        bool,
        ConsentStatus,
        DecisionReason,
        bool,
    )> = log
        .iter()
        .map(|e| {
            (
                e.action(),
                e.company_name.as_str(),
                e.actor(),
                e.gave_permission,
                e.consent(),
                e.reason(),
                e.refused,
            )
        })
        .collect();
    use AccessAction as A;
    use ConsentStatus as C;
    use DecisionReason as R;
    let company_actor = Actor::HealthcareCompany;
    assert_eq!(
        summary,
        [
            (
                A::DeleteDossier,
                "Logboek Zorg",
                company_actor,
                false,
                C::Unspecified,
                R::Unspecified,
                false
            ),
            (
                A::ClearChoice,
                "",
                Actor::Patient,
                false,
                C::Unspecified,
                R::Unspecified,
                false
            ),
            (
                A::SetChoice,
                "",
                Actor::Patient,
                false,
                C::Declined,
                R::Unspecified,
                false
            ),
            (
                A::CheckPermission,
                "Nieuwsgierig BV",
                company_actor,
                false,
                C::Unspecified,
                R::Unspecified,
                true
            ),
            (
                A::CheckPermission,
                "Logboek Zorg",
                company_actor,
                true,
                C::Granted,
                R::CompanyChoice,
                false
            ),
            (
                A::SetChoice,
                "Logboek Zorg",
                Actor::Patient,
                false,
                C::Granted,
                R::Unspecified,
                false
            ),
            (
                A::CheckPermission,
                "Logboek Zorg",
                company_actor,
                false,
                C::Pending,
                R::NoChoice,
                false
            ),
            (
                A::CreateDossier,
                "Logboek Zorg",
                company_actor,
                false,
                C::Pending,
                R::NoChoice,
                false
            ),
        ],
        "newest first; the second ClearChoice changed nothing and is not logged"
    );
    let request_ids: Vec<&str> = log.iter().map(|e| e.request_id.as_str()).collect();
    for expected in [
        "req-create",
        "req-check-1",
        "req-grant",
        "req-check-2",
        "req-stranger",
        "req-delete",
    ] {
        assert!(
            request_ids.contains(&expected),
            "{expected} in {request_ids:?}"
        );
    }
    assert_eq!(log[4].on_behalf_of, "HealthcareCompany:Logboek Zorg");
    assert_eq!(log[5].on_behalf_of, format!("Patient:{pseudoniem}"));
    assert!(
        log.windows(2).all(|pair| pair[0].id > pair[1].id),
        "ids descend"
    );
    let text = format!("{log:?}");
    assert!(!text.contains(&patient_bsn), "no BSN in the log");
    assert!(!text.contains("Jansen"), "no name of the patient");

    // Another patient sees none of it.
    let (_, other) = mesh.patient_token(&bsn(2)).await;
    assert!(my_log(&mesh, &other).await.is_empty());
    mesh.stop().await;
}

#[tokio::test]
async fn the_patient_filters_by_period_and_company_and_pages_through() {
    let mesh = TestMesh::start().await;
    let linde = mesh.company_token("Huisarts De Linde").await;
    let kruis = mesh.company_token("Apotheek Het Kruis").await;
    let patient_bsn = bsn(1);
    let (_, patient) = mesh.patient_token(&patient_bsn).await;
    create_dossier(&mesh, &linde, &patient_bsn).await;
    create_dossier(&mesh, &kruis, &patient_bsn).await;
    for _ in 0..5 {
        check_permission(&mesh, &linde, &patient_bsn).await.unwrap();
        check_permission(&mesh, &kruis, &patient_bsn).await.unwrap();
    }
    let all = my_log(&mesh, &patient).await;
    assert_eq!(all.len(), 12);

    let linde_only = read_log(
        &mesh,
        &patient,
        ListMyAccessLogRequest {
            company_name: "HUISARTS de linde".into(),
            page_size: 2,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(linde_only.len(), 6, "any case, every page");
    assert!(
        linde_only
            .iter()
            .all(|e| e.company_name == "Huisarts De Linde")
    );

    // A period: from the sixth-newest entry's time to the third-newest's.
    let newest_first = &all;
    let from = newest_first[5].time.unwrap();
    let until = newest_first[2].time.unwrap();
    let period = read_log(
        &mesh,
        &patient,
        ListMyAccessLogRequest {
            start_time: Some(from),
            end_time: Some(until),
            ..Default::default()
        },
    )
    .await;
    assert!(!period.is_empty());
    for entry in &period {
        let at = entry.time.unwrap();
        assert!(
            (at.seconds, at.nanos) >= (from.seconds, from.nanos)
                && (at.seconds, at.nanos) < (until.seconds, until.nanos)
        );
    }

    let status = mesh
        .dossier()
        .list_my_access_log(authed(
            ListMyAccessLogRequest {
                page_size: -1,
                page_token: "forged".into(),
                company_name: " ".into(),
                ..Default::default()
            },
            &patient,
        ))
        .await
        .unwrap_err();
    assert_invalid(&status, &["page_size", "page_token", "company_name"]);
    let status = mesh
        .dossier()
        .list_my_access_log(authed(ListMyAccessLogRequest::default(), &linde))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    mesh.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_calls_and_two_replicas_extend_one_chain() {
    let mesh = TestMesh::start().await;
    let company = mesh.company_token("Drukte Zorg").await;
    let patient_bsn = bsn(1);
    let (_, patient) = mesh.patient_token(&patient_bsn).await;
    create_dossier(&mesh, &company, &patient_bsn).await;
    // A second Dossier on the same database.
    let shared = mesh.settings.database_url(ServiceKind::Dossier);
    let stop = CancellationToken::new();
    let other = mesh.start_replica(ServiceKind::Dossier, stop.clone()).await;
    let replicas = [mesh.dossier_channel(), channel(other.addr).await];
    const CALLS: usize = 200;
    let mut calls = tokio::task::JoinSet::new();
    for n in 0..CALLS {
        let mut client = DossierServiceClient::new(replicas[n % 2].clone());
        let (company, bsn) = (company.clone(), patient_bsn.clone());
        calls.spawn(async move {
            client
                .check_permission(authed(CheckPermissionRequest { bsn }, &company))
                .await
        });
    }
    while let Some(done) = calls.join_next().await {
        done.unwrap().expect("every call is answered");
    }
    let log = my_log(&mesh, &patient).await;
    assert_eq!(log.len(), CALLS + 1, "every call, and the CreateDossier");
    let (holds, said) = audit_verify(shared.expose());
    assert!(holds, "{said}");
    assert!(
        said.contains(&format!("{} entries checked", CALLS + 1)),
        "{said}"
    );
    stop.cancel();
    mesh.stop().await;
}

#[tokio::test]
async fn verify_names_the_entry_an_owner_altered_and_the_service_can_alter_none() {
    let mesh = TestMesh::start().await;
    let company = mesh.company_token("Vervalsing Zorg").await;
    let patient_bsn = bsn(1);
    mesh.patient_token(&patient_bsn).await;
    create_dossier(&mesh, &company, &patient_bsn).await;
    for _ in 0..4 {
        check_permission(&mesh, &company, &patient_bsn)
            .await
            .unwrap();
    }
    let url = mesh.settings.database_url(ServiceKind::Dossier);
    let (holds, said) = audit_verify(url.expose());
    assert!(holds, "{said}");
    assert!(said.contains("5 entries checked (ids 1 to 5)"), "{said}");

    // The service's own role cannot change an entry: on PostgreSQL it has
    // no UPDATE or DELETE grant (42501); on SQLite the triggers refuse. The
    // owner meets the triggers too.
    let service = service_database(&mesh).await;
    let db = dossier_database(&mesh).await;
    for statement in [
        "UPDATE access_log SET gave_permission = 1 WHERE id = 3",
        "DELETE FROM access_log WHERE id = 3",
    ] {
        for (who, pool) in [("the service", &service), ("the owner", &db)] {
            let error = pool.execute(statement).await.unwrap_err();
            let error = error.as_database_error().expect("refused by the database");
            if on_postgres() {
                assert_eq!(error.code().as_deref(), Some("42501"), "{who}: {statement}");
            }
            let expected = if on_postgres() && who == "the service" {
                "permission denied"
            } else {
                "append-only"
            };
            assert!(
                error.message().contains(expected),
                "{who}: {statement}: {error}"
            );
        }
    }
    service.close().await;
    // The database's owner can: it lifts the guard and gives permission
    // where none was given. Verify finds the very entry.
    let lift = if on_postgres() {
        "ALTER TABLE access_log DISABLE TRIGGER USER"
    } else {
        "DROP TRIGGER access_log_is_never_updated"
    };
    db.execute(lift).await.unwrap();
    db.execute("UPDATE access_log SET gave_permission = 1, consent = 'GRANTED' WHERE id = 3")
        .await
        .unwrap();
    db.close().await;
    let (holds, said) = audit_verify(url.expose());
    assert!(!holds, "{said}");
    assert!(said.contains("breaks at entry 3"), "{said}");
    mesh.stop().await;
}

#[tokio::test]
async fn no_log_no_answer() {
    let mesh = TestMesh::start().await;
    let company = mesh.company_token("Zonder Logboek").await;
    let patient_bsn = bsn(1);
    let (_, patient) = mesh.patient_token(&patient_bsn).await;
    let dossier = create_dossier(&mesh, &company, &patient_bsn).await;
    set_consent(&mesh, &patient, &dossier.id, ConsentStatus::Granted as i32)
        .await
        .unwrap();
    assert!(
        check_permission(&mesh, &company, &patient_bsn)
            .await
            .unwrap()
            .gave_permission
    );

    // The log cannot take an entry (a trigger refuses every insert), while
    // everything else of the database works.
    let db = dossier_database(&mesh).await;
    let (block, unblock) = if on_postgres() {
        (
            vec![
                "CREATE FUNCTION refuse_entries() RETURNS trigger LANGUAGE plpgsql AS \
                 $$ BEGIN RAISE EXCEPTION 'the test refuses entries'; END $$",
                "CREATE TRIGGER refuse_entries BEFORE INSERT ON access_log \
                 FOR EACH ROW EXECUTE FUNCTION refuse_entries()",
            ],
            "DROP TRIGGER refuse_entries ON access_log",
        )
    } else {
        (
            vec![
                "CREATE TRIGGER refuse_entries BEFORE INSERT ON access_log \
                 BEGIN SELECT RAISE(ABORT, 'the test refuses entries'); END",
            ],
            "DROP TRIGGER refuse_entries",
        )
    };
    for statement in block {
        db.execute(statement).await.unwrap();
    }
    let status = check_permission(&mesh, &company, &patient_bsn)
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert_reason(&status, "STORAGE_UNAVAILABLE");
    // A change that cannot be logged is not made either.
    let status = set_choice(&mesh, &patient, None, ConsentStatus::Declined, None)
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert!(
        list_choices(&mesh, &patient, true)
            .await
            .unwrap()
            .iter()
            .all(|choice| !choice.every_company),
        "no default was recorded"
    );

    db.execute(unblock).await.unwrap();
    db.close().await;
    assert!(
        check_permission(&mesh, &company, &patient_bsn)
            .await
            .unwrap()
            .gave_permission
    );
    let (holds, said) = audit_verify(mesh.settings.database_url(ServiceKind::Dossier).expose());
    assert!(holds, "{said}");
    mesh.stop().await;
}

/// The retention procedure of `docs/access-log.md`: an owner archives the
/// oldest entries, leaving a checkpoint, and the chain still holds from
/// there; without the checkpoint, verify says the start is gone.
#[tokio::test]
async fn archived_entries_leave_a_checkpoint_the_chain_continues_from() {
    let mesh = TestMesh::start().await;
    let company = mesh.company_token("Archief Zorg").await;
    let patient_bsn = bsn(1);
    mesh.patient_token(&patient_bsn).await;
    create_dossier(&mesh, &company, &patient_bsn).await;
    for _ in 0..5 {
        check_permission(&mesh, &company, &patient_bsn)
            .await
            .unwrap();
    }
    let url = mesh.settings.database_url(ServiceKind::Dossier);
    let db = dossier_database(&mesh).await;
    let lift = if on_postgres() {
        "ALTER TABLE access_log DISABLE TRIGGER USER"
    } else {
        "DROP TRIGGER access_log_is_never_deleted"
    };
    db.execute(lift).await.unwrap();
    db.execute("DELETE FROM access_log WHERE id <= 3")
        .await
        .unwrap();
    let (holds, said) = audit_verify(url.expose());
    assert!(!holds && said.contains("breaks at entry 4"), "{said}");
    assert!(said.contains("no archive checkpoint"), "{said}");
    db.close().await;

    // Done right: the checkpoint of the last archived entry's hash first.
    let mesh2 = TestMesh::start().await;
    let company = mesh2.company_token("Archief Zorg").await;
    mesh2.patient_token(&patient_bsn).await;
    create_dossier(&mesh2, &company, &patient_bsn).await;
    for _ in 0..5 {
        check_permission(&mesh2, &company, &patient_bsn)
            .await
            .unwrap();
    }
    let url = mesh2.settings.database_url(ServiceKind::Dossier);
    let db = dossier_database(&mesh2).await;
    db.execute(
        "INSERT INTO access_log_checkpoints (id, hash, archived_time) \
         SELECT id, hash, 0 FROM access_log WHERE id = 3",
    )
    .await
    .unwrap();
    db.execute(lift).await.unwrap();
    db.execute("DELETE FROM access_log WHERE id <= 3")
        .await
        .unwrap();
    db.close().await;
    let (holds, said) = audit_verify(url.expose());
    assert!(holds, "{said}");
    assert!(said.contains("3 entries checked (ids 4 to 6)"), "{said}");
    // New entries extend the chain after the archive.
    check_permission(&mesh2, &company, &patient_bsn)
        .await
        .unwrap();
    let (holds, said) = audit_verify(url.expose());
    assert!(holds && said.contains("ids 4 to 7"), "{said}");
    mesh.stop().await;
    mesh2.stop().await;
}

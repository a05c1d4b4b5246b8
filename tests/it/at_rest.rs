//! What is stored at rest: after a whole flow, no BSN in any database (not
//! even Pseudoniem's, which keys its table by the BSN's HMAC), and no
//! password, client secret or token in Identity's. On SQLite the files are
//! searched byte by byte, with their write-ahead logs; on PostgreSQL every
//! row of every table. And a Pseudoniem database of the release that
//! stored BSNs in clear is moved under the key at start-up, every BSN
//! keeping its pseudoniem, with no trace of a BSN left in the file.

use crate::support::*;
use toestemming::proto::dossier::v1::*;
use toestemming::settings::ServiceKind;

fn holds(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

#[tokio::test]
async fn no_bsn_password_or_secret_is_stored_outside_where_it_belongs() {
    let mesh = TestMesh::start().await;
    let patient_bsn = "111222333";
    let password = "a-distinctive password 4711";

    let company = mesh.register_company("Opslag Zorg").await;
    let pseudoniem = register_patient(&mesh, patient_bsn, "Geertruida", "Opslag", password)
        .await
        .unwrap();
    let dossier = create_dossier(&mesh, &company.token, patient_bsn).await;
    assert!(
        !check_permission(&mesh, &company.token, patient_bsn)
            .await
            .unwrap()
            .gave_permission
    );
    let patient = login(&mesh, patient_bsn, password).await.unwrap();
    assert_eq!(
        list_my_dossiers(&mesh, &patient, 0, "")
            .await
            .unwrap()
            .dossiers
            .len(),
        1
    );
    set_consent(&mesh, &patient, &dossier.id, ConsentStatus::Granted as i32)
        .await
        .unwrap();
    assert!(
        check_permission(&mesh, &company.token, patient_bsn)
            .await
            .unwrap()
            .gave_permission
    );

    // The SQLite files with their WAL, or every row of the PostgreSQL
    // databases.
    let identity = mesh.database_contents(ServiceKind::Identity).await;
    let dossiers = mesh.database_contents(ServiceKind::Dossier).await;
    let pseudoniemen = mesh.database_contents(ServiceKind::Pseudoniem).await;

    // Controls: the files read are the ones holding this flow's rows.
    assert!(holds(&identity, &pseudoniem), "identity.db has the patient");
    assert!(holds(&identity, "Geertruida"));
    assert!(holds(&identity, &company.id), "identity.db has the company");
    assert!(holds(&dossiers, &pseudoniem), "dossier.db has the dossier");
    assert!(holds(&dossiers, &dossier.id));
    assert!(
        holds(&pseudoniemen, &pseudoniem),
        "pseudoniem.db has the patient"
    );

    assert!(
        !holds(&pseudoniemen, patient_bsn),
        "pseudoniem.db holds the BSN"
    );
    assert!(!holds(&identity, patient_bsn), "identity.db holds the BSN");
    assert!(!holds(&dossiers, patient_bsn), "dossier.db holds the BSN");
    assert!(
        !holds(&identity, password),
        "identity.db holds the password"
    );
    assert!(
        !holds(&identity, &company.secret),
        "identity.db holds the client secret"
    );
    assert!(!holds(&identity, &company.token) && !holds(&identity, &patient));

    mesh.stop().await;
}

#[tokio::test]
async fn clear_bsns_of_the_release_before_move_under_the_key_and_leave_no_trace() {
    use sqlx::AnyPool;
    use toestemming::auth::Role;
    use toestemming::proto::pseudoniem::v1::LookupPseudoniemRequest;
    use toestemming::proto::pseudoniem::v1::pseudoniem_service_client::PseudoniemServiceClient;
    use tokio_util::sync::CancellationToken;

    let mesh = TestMesh::start().await;
    // The release before's Pseudoniem database: BSNs in clear.
    let url = crate::support::databases::fresh_database(
        mesh.dir.path(),
        ServiceKind::Pseudoniem,
        "old-pseudoniem",
    )
    .await;
    sqlx::any::install_default_drivers();
    let old = AnyPool::connect(url.expose()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("services/pseudoniem/migrations/0001_pseudoniemen.sql"),
        dir.path().join("0001_pseudoniemen.sql"),
    )
    .unwrap();
    sqlx::migrate::Migrator::new(dir.path())
        .await
        .unwrap()
        .run(&old)
        .await
        .unwrap();
    let known: Vec<(String, String)> = (1..=50)
        .map(|n| (bsn(n), uuid::Uuid::new_v4().hyphenated().to_string()))
        .collect();
    for (bsn, pseudoniem) in &known {
        sqlx::query("INSERT INTO pseudoniemen (bsn, pseudoniem, created_at) VALUES ($1, $2, $3)")
            .bind(bsn.as_str())
            .bind(pseudoniem.as_str())
            .bind(1_767_225_600_000_i64)
            .execute(&old)
            .await
            .unwrap();
    }
    old.close().await;
    let before = crate::support::databases::contents(&url).await;
    assert!(
        holds(&before, &known[0].0),
        "the control: the old file holds a BSN"
    );

    // This release's Pseudoniem starts on it, with its key.
    let stop = CancellationToken::new();
    let upgraded = mesh
        .start_extra(ServiceKind::Pseudoniem, stop.clone(), {
            let url = url.clone();
            move |settings| {
                settings
                    .service_database_urls
                    .insert(ServiceKind::Pseudoniem, url);
            }
        })
        .await;
    let internal = mesh.token(Role::Internal, "internal");
    let mut client = PseudoniemServiceClient::new(channel(upgraded.addr).await);
    for (bsn, pseudoniem) in &known {
        let found = client
            .lookup_pseudoniem(authed(
                LookupPseudoniemRequest { bsn: bsn.clone() },
                &internal,
            ))
            .await
            .unwrap()
            .into_inner()
            .pseudoniem;
        assert_eq!(&found, pseudoniem, "every BSN keeps its pseudoniem");
    }
    let after = crate::support::databases::contents(&url).await;
    assert!(
        holds(&after, &known[0].1),
        "the control: the file holds the pseudoniemen"
    );
    for (bsn, _) in &known {
        assert!(!holds(&after, bsn), "a BSN is left in the database");
    }
    stop.cancel();
    upgraded.wait().await.unwrap();
    mesh.stop().await;
}

/// Issue 17: the SQLite files are the mesh's data, so no other user of the
/// machine may read them: a folder the mesh makes is 0700, and every file
/// of every database (WAL and shared memory included) is 0600. SQLite on
/// the PostgreSQL run too: these are SQLite's files.
#[tokio::test]
async fn data_files_are_private_to_the_user_that_runs_the_mesh() {
    use std::os::unix::fs::PermissionsExt as _;
    use toestemming::settings::DatabaseUrl;
    let mesh = TestMesh::start_with(|settings| {
        settings.data_dir = settings.data_dir.join("data").join("nested");
        for kind in [
            ServiceKind::Identity,
            ServiceKind::Pseudoniem,
            ServiceKind::Dossier,
        ] {
            let url = DatabaseUrl::sqlite_file(&settings.data_dir, kind.name());
            settings.service_database_urls.insert(kind, url);
        }
    })
    .await;
    // Write to every database, so each has its WAL.
    let company = mesh.company_token("Rechten Zorg").await;
    create_dossier(&mesh, &company, &bsn(7)).await;
    let data_dir = &mesh.settings.data_dir;
    let mode =
        |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(data_dir), 0o700, "{}", data_dir.display());
    let files: Vec<_> = std::fs::read_dir(data_dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    let databases = files
        .iter()
        .filter(|path| path.to_string_lossy().contains(".db"))
        .count();
    assert!(
        databases >= 9,
        "three databases, each with WAL and SHM: {files:?}"
    );
    for file in &files {
        assert_eq!(mode(file), 0o600, "{}", file.display());
    }
    mesh.stop().await;
}

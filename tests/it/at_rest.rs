//! What is stored at rest: after a whole flow, the BSN only in Pseudoniem's
//! database (not in Identity's or Dossier's), and no password, client
//! secret or token in Identity's.

use crate::support::*;
use toestemming::proto::dossier::v1::*;

/// The bytes of `<dir>/<name>.db` and its `-wal` and `-shm` files, when
/// present.
fn database_bytes(dir: &std::path::Path, name: &str) -> Vec<u8> {
    let mut bytes = std::fs::read(dir.join(format!("{name}.db"))).expect("the database file");
    for suffix in ["-wal", "-shm"] {
        if let Ok(more) = std::fs::read(dir.join(format!("{name}.db{suffix}"))) {
            bytes.extend(more);
        }
    }
    bytes
}

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

    let dir = mesh.dir.path();
    let identity = database_bytes(dir, "identity");
    let dossiers = database_bytes(dir, "dossier");
    let pseudoniemen = database_bytes(dir, "pseudoniem");

    // Controls: the files read are the ones holding this flow's rows.
    assert!(holds(&identity, &pseudoniem), "identity.db has the patient");
    assert!(holds(&identity, "Geertruida"));
    assert!(holds(&identity, &company.id), "identity.db has the company");
    assert!(holds(&dossiers, &pseudoniem), "dossier.db has the dossier");
    assert!(holds(&dossiers, &dossier.id));
    assert!(holds(&pseudoniemen, patient_bsn), "the one BSN table");

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

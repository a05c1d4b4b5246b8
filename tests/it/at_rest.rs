//! What is stored at rest: after a whole flow, the BSN only in Pseudoniem's
//! database (not in Identity's or Dossier's), and no password, client
//! secret or token in Identity's. On SQLite the files are searched byte by
//! byte; on PostgreSQL every row of every table.

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

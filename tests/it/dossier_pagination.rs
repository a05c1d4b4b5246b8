//! ListMyDossiers pages: a patient's dossiers come oldest first in pages
//! of the requested size, and a bad page size or page token is
//! INVALID_ARGUMENT.

use std::collections::HashSet;
use std::time::Duration;

use crate::support::*;
use toestemming::proto::dossier::v1::*;
use tonic::Code;

#[tokio::test]
async fn a_patients_dossiers_come_in_pages_oldest_first() {
    let mesh = TestMesh::start().await;
    let patient_bsn = bsn(1);
    let (_, patient) = mesh.patient_token(&patient_bsn).await;
    let mut created = Vec::new();
    for n in 0..7 {
        let company = mesh.company_token(&format!("Praktijk {n}")).await;
        created.push(create_dossier(&mesh, &company, &patient_bsn).await);
        // Distinct creation milliseconds, so "oldest first" has one answer.
        tokio::time::sleep(Duration::from_millis(3)).await;
    }

    let mut pages = Vec::new();
    let mut token = String::new();
    loop {
        let page = list_my_dossiers(&mesh, &patient, 3, &token).await.unwrap();
        pages.push(page.dossiers);
        if page.next_page_token.is_empty() {
            break;
        }
        assert!(pages.len() < 5, "the pages never end");
        token = page.next_page_token;
    }
    let sizes: Vec<usize> = pages.iter().map(Vec::len).collect();
    assert_eq!(sizes, [3, 3, 1]);

    let listed: Vec<&Dossier> = pages.iter().flatten().collect();
    let ids: Vec<&str> = listed.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), 7, "all distinct");
    let expected: Vec<&str> = created.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(ids, expected, "oldest first");
    let companies: Vec<&str> = listed.iter().map(|d| d.company_name.as_str()).collect();
    assert_eq!(
        companies,
        (0..7).map(|n| format!("Praktijk {n}")).collect::<Vec<_>>()
    );
    let times: Vec<(i64, i32)> = listed
        .iter()
        .map(|d| {
            let t = d.create_time.unwrap();
            (t.seconds, t.nanos)
        })
        .collect();
    assert!(times.windows(2).all(|w| w[0] < w[1]), "{times:?}");

    // The default page holds them all.
    let all = list_my_dossiers(&mesh, &patient, 0, "").await.unwrap();
    assert_eq!(all.dossiers.len(), 7);
    assert!(all.next_page_token.is_empty());

    mesh.stop().await;
}

#[tokio::test]
async fn bad_page_requests_are_invalid_argument() {
    let mesh = TestMesh::start().await;
    let (_, patient) = mesh.patient_token(&bsn(1)).await;

    for garbage in ["garbage", "!!!", "djE6MTox", &"A".repeat(300)] {
        let status = list_my_dossiers(&mesh, &patient, 3, garbage)
            .await
            .unwrap_err();
        assert_invalid(&status, &["page_token"]);
    }
    for negative in [-1, i32::MIN] {
        let status = list_my_dossiers(&mesh, &patient, negative, "")
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
        assert_reason(&status, "INVALID_ARGUMENT");
        assert_eq!(bad_fields(&status), ["page_size"]);
    }

    mesh.stop().await;
}

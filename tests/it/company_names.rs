//! Company names that could pass for one another (issue 17, finding 5):
//! every spelling that once registered a second "Zorg BV" is now refused or
//! found taken, over the wire; names registered before the rule keep their
//! spelling, and the operator hears of the pairs that look alike.

use std::process::Command;

use sqlx::AnyPool;
use tonic::Code;

use toestemming::proto::identity::v1::*;
use toestemming::settings::ServiceKind;

use crate::support::*;

async fn register(mesh: &TestMesh, name: &str) -> Result<String, tonic::Status> {
    mesh.identity()
        .register_company(RegisterCompanyRequest {
            company_name: name.into(),
        })
        .await
        .map(|r| r.into_inner().company_id)
}

#[tokio::test]
async fn spellings_that_read_as_a_taken_name_are_refused_or_taken() {
    let mesh = TestMesh::start().await;
    register(&mesh, "Zorg BV").await.unwrap();
    register(&mesh, "Modem Zorg").await.unwrap();
    let invisible_or_mixed = [
        ("zero-width space", "Zorg\u{200b} BV"),
        ("byte-order mark", "\u{feff}Zorg BV"),
        ("soft hyphen", "Zo\u{ad}rg BV"),
        ("right-to-left override", "\u{202e}VB groZ"),
        ("combining marks", "Zorg BV\u{336}"),
        ("Cyrillic o", "Z\u{43e}rg BV"),
    ];
    for (what, name) in invisible_or_mixed {
        let status = register(&mesh, name).await.unwrap_err();
        assert_invalid(&status, &["company_name"]);
        assert_not_echoed(&status, name);
        println!("{what}: {}", status.message());
    }
    let taken = [
        ("no-break space", "Zorg\u{a0}BV"),
        ("other case", "ZORG bv"),
        ("full-width letters", "\u{ff3a}org BV"),
        ("rn for m", "Modern Zorg"),
    ];
    for (what, name) in taken {
        let status = register(&mesh, name).await.unwrap_err();
        assert_eq!(status.code(), Code::AlreadyExists, "{what}: {status:?}");
        assert_reason(&status, "COMPANY_NAME_TAKEN");
    }
    // A Kelvin sign is a K: the company is registered as "Kliniek", so the
    // name reads as what it is, and a second "Kliniek" is taken.
    let kelvin = register(&mesh, "\u{212a}liniek").await.unwrap();
    let status = register(&mesh, "Kliniek").await.unwrap_err();
    assert_reason(&status, "COMPANY_NAME_TAKEN");
    let company = company_by_name(&mesh, "kliniek").await.unwrap();
    assert_eq!(company.company_name, "Kliniek");
    assert!(!kelvin.is_empty());
    mesh.stop().await;
}

#[tokio::test]
async fn look_alikes_from_before_the_rule_keep_their_names_and_are_reported() {
    let mesh = TestMesh::start().await;
    let zorg = mesh.register_company("Zorg BV").await;
    // A company registered by the release before names were compared by
    // their look: its row, as that release wrote it (no skeleton).
    let url = mesh.settings.database_url(ServiceKind::Identity);
    sqlx::any::install_default_drivers();
    let pool = AnyPool::connect(url.expose()).await.unwrap();
    let legacy = "Z\u{43e}rg BV";
    sqlx::query(
        "INSERT INTO companies (id, name, name_key, secret_hash, created_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(uuid::Uuid::new_v4().to_string())
    .bind(legacy)
    .bind(legacy.to_lowercase())
    .bind("0".repeat(64))
    .bind(i64::MAX / 2)
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;

    let output = Command::new(env!("CARGO_BIN_EXE_toestemming"))
        .args(["companies", "list"])
        .env_clear()
        .env("DATABASE_URL", url.expose())
        .output()
        .unwrap();
    let printed = String::from_utf8(output.stdout).unwrap();
    assert!(output.status.success(), "{printed}");
    assert!(
        printed
            .lines()
            .any(|line| line == format!("look-alike\t{legacy}\tlooks like\tZorg BV")),
        "{printed}"
    );
    assert!(printed.contains("unverified\tZorg BV"), "{printed}");
    assert!(
        printed.contains(&format!("unverified\t{legacy}")),
        "kept as it was: {printed}"
    );
    // The older company still signs in under its own name.
    mesh.issue_company_token(&zorg.id, &zorg.secret)
        .await
        .unwrap();
    mesh.stop().await;
}

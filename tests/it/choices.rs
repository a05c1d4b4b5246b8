//! The patient's choice over real gRPC, on SQLite and (in the second pass
//! of `scripts/test.sh`) PostgreSQL: the contract's table, a choice made
//! before a company asks, a Decline that survives anything a company does,
//! expiry to the second, withdrawal, the history, concurrent changes, and
//! every company RPC leaving a choice as it was. The rules alone are a
//! table of unit tests in `services/dossier/consent.rs`; these check that
//! the store, the handlers and Identity's answers give the same.

use std::time::Duration;

use toestemming::proto::dossier::v1::*;
use tonic::Code;

use crate::support::*;

const GRANTED: ConsentStatus = ConsentStatus::Granted;
const DECLINED: ConsentStatus = ConsentStatus::Declined;

/// What CheckPermission says, as one comparable value.
fn answer(response: &CheckPermissionResponse) -> (ConsentStatus, bool, DecisionReason) {
    (
        response.consent(),
        response.gave_permission,
        response.reason(),
    )
}

/// CheckPermission's answer for `patient` (a BSN), asked by `company` (a
/// token).
async fn answer_for(
    mesh: &TestMesh,
    company: &str,
    patient: &str,
) -> (ConsentStatus, bool, DecisionReason) {
    answer(&check_permission(mesh, company, patient).await.unwrap())
}

/// A stance in a table row: GRANTED, GRANTED until the table's expiry
/// moment, or DECLINED.
#[derive(Debug, Clone, Copy)]
enum Set {
    Grant,
    GrantExpiring,
    Decline,
}

impl Set {
    fn consent(self) -> ConsentStatus {
        match self {
            Set::Grant | Set::GrantExpiring => GRANTED,
            Set::Decline => DECLINED,
        }
    }
}

/// The contract's table over gRPC: each row a patient of its own, a
/// company choice and a default as the row says, a dossier of a verified
/// or an unverified company, then CheckPermission once every expiring
/// grant of the table has passed its `expire_time`.
#[tokio::test]
async fn the_contract_s_table_over_grpc() {
    use ConsentStatus::*;
    use DecisionReason as R;
    let mesh = TestMesh::start().await;
    let verified = mesh.register_company("Tabel Geverifieerd").await.token;
    mesh.verify_company("tabel geverifieerd").await;
    let unverified = mesh.register_company("Tabel Ongeverifieerd").await.token;
    // (company choice, default, company verified) -> (consent, permission, reason)
    type Row = (
        Option<Set>,
        Option<Set>,
        bool,
        (ConsentStatus, bool, DecisionReason),
    );
    let rows: &[Row] = &[
        (None, None, true, (Pending, false, R::NoChoice)),
        (
            Some(Set::Grant),
            None,
            true,
            (Granted, true, R::CompanyChoice),
        ),
        (
            Some(Set::Grant),
            None,
            false,
            (Granted, true, R::CompanyChoice),
        ),
        (
            Some(Set::Decline),
            None,
            true,
            (Declined, false, R::CompanyChoice),
        ),
        (
            Some(Set::GrantExpiring),
            None,
            true,
            (Granted, false, R::ChoiceExpired),
        ),
        (
            Some(Set::GrantExpiring),
            Some(Set::Grant),
            true,
            (Granted, false, R::ChoiceExpired),
        ),
        (
            Some(Set::Decline),
            Some(Set::Grant),
            true,
            (Declined, false, R::CompanyChoice),
        ),
        (
            Some(Set::Grant),
            Some(Set::Decline),
            true,
            (Granted, true, R::CompanyChoice),
        ),
        (
            None,
            Some(Set::Grant),
            true,
            (Granted, true, R::DefaultChoice),
        ),
        (
            None,
            Some(Set::Decline),
            true,
            (Declined, false, R::DefaultChoice),
        ),
        (
            None,
            Some(Set::GrantExpiring),
            true,
            (Granted, false, R::ChoiceExpired),
        ),
        (None, Some(Set::Grant), false, (Pending, false, R::NoChoice)),
        (
            None,
            Some(Set::Decline),
            false,
            (Pending, false, R::NoChoice),
        ),
    ];
    let mut patients = Vec::new();
    for i in 0..rows.len() {
        let patient_bsn = bsn(100 + i as u32);
        let (_, patient) = mesh.patient_token(&patient_bsn).await;
        patients.push((patient_bsn, patient));
    }
    // Every expiring grant of the table stops at this moment.
    let expiry = now_millis() + 2_000;
    let mut checks = Vec::new();
    for (i, ((company_choice, default, is_verified, want), (patient_bsn, patient))) in
        rows.iter().zip(patients).enumerate()
    {
        let (company_token, company_name) = if *is_verified {
            (&verified, "Tabel Geverifieerd")
        } else {
            (&unverified, "Tabel Ongeverifieerd")
        };
        let until = |set: Set| matches!(set, Set::GrantExpiring).then(|| at_millis(expiry));
        if let Some(set) = company_choice {
            set_choice(
                &mesh,
                &patient,
                Some(company_name),
                set.consent(),
                until(*set),
            )
            .await
            .unwrap();
        }
        if let Some(set) = default {
            set_choice(&mesh, &patient, None, set.consent(), until(*set))
                .await
                .unwrap();
        }
        create_dossier(&mesh, company_token, &patient_bsn).await;
        checks.push((i, company_token.clone(), patient_bsn, *want));
    }
    let wait = expiry - now_millis();
    if wait > 0 {
        tokio::time::sleep(Duration::from_millis(wait.unsigned_abs())).await;
    }
    for (i, company, patient, want) in checks {
        let got = check_permission(&mesh, &company, &patient).await.unwrap();
        assert_eq!(answer(&got), want, "row {i}: {:?}", rows[i]);
        if want.2 == R::ChoiceExpired {
            assert_eq!(
                got.expire_time.as_ref().map(millis_of),
                Some(expiry),
                "row {i}"
            );
        } else {
            assert_eq!(got.expire_time, None, "row {i}");
        }
    }
    mesh.stop().await;
}

#[tokio::test]
async fn a_decline_survives_deleting_and_creating_the_dossier_again() {
    let mesh = TestMesh::start().await;
    let company = mesh.company_token("Wisser BV").await;
    let patient_bsn = bsn(1);
    let (_, patient) = mesh.patient_token(&patient_bsn).await;
    let dossier = create_dossier(&mesh, &company, &patient_bsn).await;
    set_consent(&mesh, &patient, &dossier.id, DECLINED as i32)
        .await
        .unwrap();

    for round in 0..3 {
        mesh.dossier()
            .delete_dossier(authed(
                DeleteDossierRequest {
                    bsn: patient_bsn.clone(),
                },
                &company,
            ))
            .await
            .unwrap();
        let again = create_dossier(&mesh, &company, &patient_bsn).await;
        assert_ne!(again.id, dossier.id, "round {round}: a new dossier");
        assert_eq!(
            (again.consent(), again.reason()),
            (DECLINED, DecisionReason::CompanyChoice),
            "round {round}: the patient's no stands"
        );
        let permission = check_permission(&mesh, &company, &patient_bsn)
            .await
            .unwrap();
        assert_eq!(
            answer(&permission),
            (DECLINED, false, DecisionReason::CompanyChoice)
        );
    }
    mesh.stop().await;
}

#[tokio::test]
async fn a_patient_chooses_before_the_company_asks_in_any_case() {
    let mesh = TestMesh::start().await;
    let company = mesh.company_token("Huisartsenpraktijk De Linde").await;
    let patient_bsn = bsn(1);
    let (_, patient) = mesh.patient_token(&patient_bsn).await;

    // Typed in another case: stored as Identity spells the name.
    let choice = set_choice(
        &mesh,
        &patient,
        Some("  huisartsenpraktijk DE LINDE "),
        GRANTED,
        None,
    )
    .await
    .unwrap();
    assert_eq!(choice.company_name, "Huisartsenpraktijk De Linde");
    assert!(!choice.every_company);
    assert_eq!(choice.consent(), GRANTED);
    assert!(choice.update_time.is_some() && choice.replace_time.is_none());

    let created = create_dossier(&mesh, &company, &patient_bsn).await;
    assert_eq!(
        (created.consent(), created.reason()),
        (GRANTED, DecisionReason::CompanyChoice)
    );
    assert_eq!(
        answer_for(&mesh, &company, &patient_bsn).await,
        (GRANTED, true, DecisionReason::CompanyChoice)
    );

    // A name nobody registered.
    let status = set_choice(&mesh, &patient, Some("Niemand BV"), GRANTED, None)
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
    assert_reason(&status, "COMPANY_NOT_FOUND");
    assert_eq!(list_choices(&mesh, &patient, true).await.unwrap().len(), 1);
    mesh.stop().await;
}

#[tokio::test]
async fn a_default_covers_a_company_once_an_operator_verifies_it() {
    let mesh = TestMesh::start().await;
    let company = mesh.company_token("Nieuw Zorg").await;
    let patient_bsn = bsn(1);
    let (_, patient) = mesh.patient_token(&patient_bsn).await;
    set_choice(&mesh, &patient, None, GRANTED, None)
        .await
        .unwrap();
    let created = create_dossier(&mesh, &company, &patient_bsn).await;
    assert_eq!(
        (created.consent(), created.reason()),
        (ConsentStatus::Pending, DecisionReason::NoChoice),
        "anyone can register a name: a default does not cover it"
    );
    let permission = check_permission(&mesh, &company, &patient_bsn)
        .await
        .unwrap();
    assert!(!permission.gave_permission);

    mesh.verify_company("NIEUW ZORG").await;
    assert_eq!(
        answer_for(&mesh, &company, &patient_bsn).await,
        (GRANTED, true, DecisionReason::DefaultChoice),
        "the very next call after the operator verified it"
    );
    mesh.stop().await;
}

#[tokio::test]
async fn a_grant_stops_at_its_expire_time() {
    let mesh = TestMesh::start().await;
    let company = mesh.company_token("Tijdelijk Zorg").await;
    let patient_bsn = bsn(1);
    let (_, patient) = mesh.patient_token(&patient_bsn).await;
    let dossier = create_dossier(&mesh, &company, &patient_bsn).await;
    let expiry = now_millis() + 1_500;
    let granted = mesh
        .dossier()
        .set_consent(authed(
            SetConsentRequest {
                dossier_id: dossier.id.clone(),
                consent: GRANTED as i32,
                expire_time: Some(at_millis(expiry)),
            },
            &patient,
        ))
        .await
        .unwrap()
        .into_inner()
        .dossier
        .unwrap();
    assert_eq!(granted.expire_time.as_ref().map(millis_of), Some(expiry));

    // Asked until the expiry passes: granted before it, never after it.
    let mut saw_granted = false;
    loop {
        let asked_at = now_millis();
        let permission = check_permission(&mesh, &company, &patient_bsn)
            .await
            .unwrap();
        let answered_at = now_millis();
        assert_eq!(permission.expire_time.as_ref().map(millis_of), Some(expiry));
        if permission.gave_permission {
            assert!(asked_at < expiry, "granted after the grant stopped");
            assert_eq!(permission.reason(), DecisionReason::CompanyChoice);
            saw_granted = true;
        } else {
            assert!(answered_at >= expiry, "refused before the grant stopped");
            assert_eq!(
                answer(&permission),
                (GRANTED, false, DecisionReason::ChoiceExpired)
            );
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(saw_granted);
    let listed = list_my_dossiers(&mesh, &patient, 0, "").await.unwrap();
    assert_eq!(listed.dossiers[0].reason(), DecisionReason::ChoiceExpired);
    assert!(
        millis_of(listed.dossiers[0].update_time.as_ref().unwrap()) >= expiry,
        "the dossier changed when its grant expired"
    );
    mesh.stop().await;
}

#[tokio::test]
async fn withdrawing_a_choice_lets_the_default_decide_and_keeps_the_history() {
    let mesh = TestMesh::start().await;
    let company = mesh.company_token("Terugval Zorg").await;
    mesh.verify_company("Terugval Zorg").await;
    let patient_bsn = bsn(1);
    let (_, patient) = mesh.patient_token(&patient_bsn).await;
    create_dossier(&mesh, &company, &patient_bsn).await;
    set_choice(&mesh, &patient, None, DECLINED, None)
        .await
        .unwrap();
    set_choice(&mesh, &patient, Some("Terugval Zorg"), GRANTED, None)
        .await
        .unwrap();
    assert_eq!(
        answer_for(&mesh, &company, &patient_bsn).await,
        (GRANTED, true, DecisionReason::CompanyChoice)
    );

    clear_choice(&mesh, &patient, Some("TERUGVAL zorg"))
        .await
        .unwrap();
    assert_eq!(
        answer_for(&mesh, &company, &patient_bsn).await,
        (DECLINED, false, DecisionReason::DefaultChoice)
    );
    let status = clear_choice(&mesh, &patient, Some("Terugval Zorg"))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    assert_reason(&status, "CHOICE_NOT_FOUND");

    clear_choice(&mesh, &patient, None).await.unwrap();
    assert_eq!(
        answer_for(&mesh, &company, &patient_bsn).await,
        (ConsentStatus::Pending, false, DecisionReason::NoChoice)
    );
    let status = clear_choice(&mesh, &patient, None).await.unwrap_err();
    assert_reason(&status, "CHOICE_NOT_FOUND");
    let status = clear_choice(&mesh, &patient, Some("Niemand BV"))
        .await
        .unwrap_err();
    assert_reason(&status, "CHOICE_NOT_FOUND");

    // Nothing is current; the history holds both versions, withdrawn.
    assert!(
        list_choices(&mesh, &patient, false)
            .await
            .unwrap()
            .is_empty()
    );
    let history = list_choices(&mesh, &patient, true).await.unwrap();
    assert_eq!(history.len(), 2, "{history:?}");
    assert!(history.iter().all(|choice| choice.replace_time.is_some()));
    mesh.stop().await;
}

#[tokio::test]
async fn every_version_is_kept_newest_first_and_pages_through() {
    let mesh = TestMesh::start().await;
    mesh.company_token("Historie Zorg").await;
    let (_, patient) = mesh.patient_token(&bsn(1)).await;
    let steps = [GRANTED, DECLINED, GRANTED, DECLINED, GRANTED];
    for consent in steps {
        set_choice(&mesh, &patient, Some("Historie Zorg"), consent, None)
            .await
            .unwrap();
        // Distinct milliseconds, so "newest first" is visible in the times.
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    set_choice(&mesh, &patient, None, DECLINED, None)
        .await
        .unwrap();

    let current = list_choices(&mesh, &patient, false).await.unwrap();
    assert_eq!(current.len(), 2, "one per target: {current:?}");
    assert!(current[0].every_company && current[0].company_name.is_empty());
    assert_eq!(current[1].company_name, "Historie Zorg");
    assert_eq!(current[1].consent(), GRANTED);

    let history = list_choices(&mesh, &patient, true).await.unwrap();
    assert_eq!(history.len(), 6);
    let company: Vec<&Choice> = history.iter().filter(|c| !c.every_company).collect();
    let newest_first: Vec<ConsentStatus> = company.iter().map(|c| c.consent()).collect();
    let mut expected = steps.to_vec();
    expected.reverse();
    assert_eq!(newest_first, expected);
    // Each replaced version ends when the next began.
    assert!(company[0].replace_time.is_none());
    for pair in company.windows(2) {
        assert_eq!(pair[1].replace_time, pair[0].update_time);
    }

    // One at a time: the same versions, in the same order, each once.
    let mut paged = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = mesh
            .dossier()
            .list_my_choices(authed(
                ListMyChoicesRequest {
                    include_history: true,
                    page_size: 1,
                    page_token,
                },
                &patient,
            ))
            .await
            .unwrap()
            .into_inner();
        assert!(page.choices.len() <= 1);
        paged.extend(page.choices);
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    assert_eq!(paged, history);

    // Another patient's list is empty.
    let (_, other) = mesh.patient_token(&bsn(2)).await;
    assert!(list_choices(&mesh, &other, true).await.unwrap().is_empty());
    mesh.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_changes_to_one_choice_are_all_kept_and_the_last_one_stands() {
    let mesh = TestMesh::start().await;
    let company = mesh.company_token("Gelijktijdig Zorg").await;
    let patient_bsn = bsn(1);
    let (_, patient) = mesh.patient_token(&patient_bsn).await;
    create_dossier(&mesh, &company, &patient_bsn).await;
    const CHANGES: usize = 24;
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..CHANGES {
        let (mesh_dossier, patient) = (mesh.dossier(), patient.clone());
        tasks.spawn(async move {
            let consent = if n % 2 == 0 { GRANTED } else { DECLINED };
            let mut client = mesh_dossier;
            client
                .set_choice(authed(
                    SetChoiceRequest {
                        target: Some(set_choice_request::Target::CompanyName(
                            "Gelijktijdig Zorg".into(),
                        )),
                        consent: consent as i32,
                        expire_time: None,
                    },
                    &patient,
                ))
                .await
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap().expect("no change is refused");
    }
    let history = list_choices(&mesh, &patient, true).await.unwrap();
    assert_eq!(history.len(), CHANGES, "every change is a version");
    assert_eq!(
        history.iter().filter(|c| c.replace_time.is_none()).count(),
        1,
        "exactly one current version"
    );
    let current = list_choices(&mesh, &patient, false).await.unwrap();
    let permission = check_permission(&mesh, &company, &patient_bsn)
        .await
        .unwrap();
    assert_eq!(permission.consent(), current[0].consent());
    mesh.stop().await;
}

/// Every RPC a company may call, called around a patient's choices: none
/// of them changes, adds or removes a version.
#[tokio::test]
async fn no_company_rpc_touches_a_choice() {
    let mesh = TestMesh::start().await;
    let company = mesh.company_token("Nieuwsgierig BV").await;
    mesh.verify_company("Nieuwsgierig BV").await;
    let patient_bsn = bsn(1);
    let (_, patient) = mesh.patient_token(&patient_bsn).await;
    set_choice(&mesh, &patient, Some("Nieuwsgierig BV"), DECLINED, None)
        .await
        .unwrap();
    set_choice(&mesh, &patient, None, GRANTED, None)
        .await
        .unwrap();
    let before = list_choices(&mesh, &patient, true).await.unwrap();

    let mut dossier = mesh.dossier();
    let by_company = |bsn: &str| CreateDossierRequest { bsn: bsn.into() };
    dossier
        .create_dossier(authed(by_company(&patient_bsn), &company))
        .await
        .unwrap();
    dossier
        .check_permission(authed(
            CheckPermissionRequest {
                bsn: patient_bsn.clone(),
            },
            &company,
        ))
        .await
        .unwrap();
    dossier
        .delete_dossier(authed(
            DeleteDossierRequest {
                bsn: patient_bsn.clone(),
            },
            &company,
        ))
        .await
        .unwrap();
    let again = dossier
        .create_dossier(authed(by_company(&patient_bsn), &company))
        .await
        .unwrap()
        .into_inner();
    // The patient's RPCs refuse a company token before doing anything.
    let refused = [
        dossier
            .set_choice(authed(
                SetChoiceRequest {
                    target: Some(set_choice_request::Target::CompanyName(
                        "Nieuwsgierig BV".into(),
                    )),
                    consent: GRANTED as i32,
                    expire_time: None,
                },
                &company,
            ))
            .await
            .map(drop),
        dossier
            .clear_choice(authed(
                ClearChoiceRequest {
                    target: Some(clear_choice_request::Target::EveryCompany(true)),
                },
                &company,
            ))
            .await
            .map(drop),
        dossier
            .set_consent(authed(
                SetConsentRequest {
                    dossier_id: again.dossier.as_ref().unwrap().id.clone(),
                    consent: GRANTED as i32,
                    expire_time: None,
                },
                &company,
            ))
            .await
            .map(drop),
        dossier
            .list_my_choices(authed(ListMyChoicesRequest::default(), &company))
            .await
            .map(drop),
    ];
    for outcome in refused {
        let status = outcome.unwrap_err();
        assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    }

    assert_eq!(list_choices(&mesh, &patient, true).await.unwrap(), before);
    assert_eq!(
        again.dossier.unwrap().consent(),
        DECLINED,
        "the company choice, not the default"
    );
    mesh.stop().await;
}

#[tokio::test]
async fn bad_choices_are_refused_by_field_and_change_nothing() {
    let mesh = TestMesh::start().await;
    mesh.company_token("Velden Zorg").await;
    let (_, patient) = mesh.patient_token(&bsn(1)).await;
    let request = |target, consent: ConsentStatus, expire_time| SetChoiceRequest {
        target,
        consent: consent as i32,
        expire_time,
    };
    let company = || {
        Some(set_choice_request::Target::CompanyName(
            "Velden Zorg".into(),
        ))
    };
    let past = Some(at_millis(now_millis() - 1_000));
    let future = Some(at_millis(now_millis() + 60_000));
    let cases = [
        (request(None, GRANTED, None), vec!["target"]),
        (
            request(
                Some(set_choice_request::Target::EveryCompany(false)),
                GRANTED,
                None,
            ),
            vec!["every_company"],
        ),
        (
            request(
                Some(set_choice_request::Target::CompanyName(" ".into())),
                GRANTED,
                None,
            ),
            vec!["company_name"],
        ),
        (
            request(company(), ConsentStatus::Pending, None),
            vec!["consent"],
        ),
        (
            request(company(), ConsentStatus::Unspecified, None),
            vec!["consent"],
        ),
        (request(company(), GRANTED, past), vec!["expire_time"]),
        (request(company(), DECLINED, future), vec!["expire_time"]),
        (
            request(None, ConsentStatus::Pending, past),
            vec!["target", "expire_time", "consent"],
        ),
    ];
    for (request, fields) in cases {
        let status = mesh
            .dossier()
            .set_choice(authed(request, &patient))
            .await
            .unwrap_err();
        assert_invalid(&status, &fields);
    }
    assert!(
        list_choices(&mesh, &patient, true)
            .await
            .unwrap()
            .is_empty()
    );
    let status = mesh
        .dossier()
        .list_my_choices(authed(
            ListMyChoicesRequest {
                include_history: false,
                page_size: -1,
                page_token: "not-a-token".into(),
            },
            &patient,
        ))
        .await
        .unwrap_err();
    assert_invalid(&status, &["page_size", "page_token"]);
    mesh.stop().await;
}

#[tokio::test]
async fn patients_find_verified_companies_by_the_start_of_their_name() {
    let mesh = TestMesh::start().await;
    for name in [
        "Zorg Alfa",
        "zorg Beta",
        "Zorg Gamma",
        "Zorgeloos",
        "Andere Zorg",
        "Zorg Delta",
    ] {
        mesh.company_token(name).await;
    }
    for name in [
        "ZORG ALFA",
        "zorg beta",
        "Zorg Gamma",
        "Zorgeloos",
        "Andere Zorg",
    ] {
        mesh.verify_company(name).await;
    }
    let (_, patient) = mesh.patient_token(&bsn(1)).await;
    let list = |prefix: &str, page_size: i32, page_token: String| {
        let mut identity = mesh.identity();
        let request = authed(
            toestemming::proto::identity::v1::ListCompaniesRequest {
                name_prefix: prefix.into(),
                page_size,
                page_token,
            },
            &patient,
        );
        async move {
            identity
                .list_companies(request)
                .await
                .map(|r| r.into_inner())
        }
    };
    let all = list("zorg ", 0, String::new()).await.unwrap();
    assert_eq!(
        all.company_names,
        ["Zorg Alfa", "zorg Beta", "Zorg Gamma"],
        "verified only (not Zorg Delta), as registered, in name order"
    );
    assert!(all.next_page_token.is_empty());
    let mut paged = Vec::new();
    let mut token = String::new();
    loop {
        let page = list("ZORG", 2, token).await.unwrap();
        paged.extend(page.company_names);
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(paged, ["Zorg Alfa", "zorg Beta", "Zorg Gamma", "Zorgeloos"]);
    assert!(
        list("%", 0, String::new())
            .await
            .unwrap()
            .company_names
            .is_empty()
    );
    let status = list(&"x".repeat(101), -1, "forged".into())
        .await
        .unwrap_err();
    assert_invalid(&status, &["name_prefix", "page_size", "page_token"]);
    mesh.stop().await;
}

/// Two Dossier replicas on one database: a choice made through one is the
/// answer of the other at once (nothing caches consent).
#[tokio::test]
async fn every_replica_answers_from_the_latest_choice() {
    let mesh = TestMesh::start().await;
    let company = mesh.company_token("Replica Keuze").await;
    let patient_bsn = bsn(1);
    let (_, patient) = mesh.patient_token(&patient_bsn).await;
    create_dossier(&mesh, &company, &patient_bsn).await;
    let shared = mesh
        .settings
        .database_url(toestemming::settings::ServiceKind::Dossier);
    let stop = tokio_util::sync::CancellationToken::new();
    let other = mesh
        .start_extra(
            toestemming::settings::ServiceKind::Dossier,
            stop.clone(),
            move |settings| {
                settings
                    .service_database_urls
                    .insert(toestemming::settings::ServiceKind::Dossier, shared);
            },
        )
        .await;
    let mut replica = dossier_service_client::DossierServiceClient::new(channel(other.addr).await);
    for consent in [GRANTED, DECLINED, GRANTED, DECLINED] {
        set_choice(&mesh, &patient, Some("Replica Keuze"), consent, None)
            .await
            .unwrap();
        let permission = replica
            .check_permission(authed(
                CheckPermissionRequest {
                    bsn: patient_bsn.clone(),
                },
                &company,
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(permission.consent(), consent);
    }
    stop.cancel();
    mesh.stop().await;
}

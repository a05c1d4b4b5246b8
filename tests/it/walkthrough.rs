//! The contract's walkthrough, end to end over loopback gRPC.

use crate::support::*;
use toestemming::proto::dossier::v1::*;
use toestemming::proto::identity::v1::*;
use tonic::Code;

#[tokio::test]
async fn the_contract_walkthrough() {
    let mesh = TestMesh::start().await;
    let (mut identity, mut dossier) = (mesh.identity(), mesh.dossier());

    // RegisterCompany → IssueCompanyToken
    let company = identity
        .register_company(RegisterCompanyRequest {
            company_name: "Huisartsenpraktijk De Linde".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(uuid::Uuid::try_parse(&company.company_id).is_ok());
    assert!(company.client_secret.len() >= 32);
    let company_token = identity
        .issue_company_token(IssueCompanyTokenRequest {
            company_id: company.company_id.clone(),
            client_secret: company.client_secret.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(company_token.token_type, "Bearer");
    assert_eq!(company_token.expires_in, 900);
    let company_token = company_token.access_token;

    // RegisterPatient
    let pseudoniem = identity
        .register_patient(RegisterPatientRequest {
            bsn: "111222333".into(),
            first_name: "Anna".into(),
            last_name: "de Vries".into(),
            password: PASSWORD.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .pseudoniem;
    assert_eq!(
        uuid::Uuid::try_parse(&pseudoniem).unwrap().to_string(),
        pseudoniem
    );

    // CreateDossier (PENDING), idempotent
    let created = dossier
        .create_dossier(authed(
            CreateDossierRequest {
                bsn: "111222333".into(),
            },
            &company_token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(created.created);
    let created_dossier = created.dossier.unwrap();
    assert_eq!(created_dossier.consent(), ConsentStatus::Pending);
    assert_eq!(created_dossier.company_name, "Huisartsenpraktijk De Linde");
    let again = dossier
        .create_dossier(authed(
            CreateDossierRequest {
                bsn: "111222333".into(),
            },
            &company_token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(!again.created);
    assert_eq!(again.dossier.unwrap().id, created_dossier.id);

    // CheckPermission: not yet
    let permission = dossier
        .check_permission(authed(
            CheckPermissionRequest {
                bsn: "111222333".into(),
            },
            &company_token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(!permission.gave_permission);
    assert_eq!(permission.consent(), ConsentStatus::Pending);

    // LoginPatient → ListMyDossiers
    let patient_token = identity
        .login_patient(LoginPatientRequest {
            bsn: "111222333".into(),
            password: PASSWORD.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .access_token;
    let profile = identity
        .get_my_profile(authed(GetMyProfileRequest {}, &patient_token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (profile.first_name.as_str(), profile.last_name.as_str()),
        ("Anna", "de Vries")
    );
    let listed = dossier
        .list_my_dossiers(authed(ListMyDossiersRequest::default(), &patient_token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.dossiers.len(), 1);
    assert_eq!(listed.dossiers[0].id, created_dossier.id);
    assert_eq!(
        listed.dossiers[0].company_name,
        "Huisartsenpraktijk De Linde"
    );
    assert!(listed.next_page_token.is_empty());

    // SetConsent GRANTED → CheckPermission true
    let granted = dossier
        .set_consent(authed(
            SetConsentRequest {
                dossier_id: created_dossier.id.clone(),
                consent: ConsentStatus::Granted as i32,
                expire_time: None,
            },
            &patient_token,
        ))
        .await
        .unwrap()
        .into_inner()
        .dossier
        .unwrap();
    assert_eq!(granted.consent(), ConsentStatus::Granted);
    let permission = dossier
        .check_permission(authed(
            CheckPermissionRequest {
                bsn: "111222333".into(),
            },
            &company_token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(permission.gave_permission);
    assert_eq!(permission.consent(), ConsentStatus::Granted);

    // DeleteDossier → CheckPermission NOT_FOUND
    dossier
        .delete_dossier(authed(
            DeleteDossierRequest {
                bsn: "111222333".into(),
            },
            &company_token,
        ))
        .await
        .unwrap();
    let gone = dossier
        .check_permission(authed(
            CheckPermissionRequest {
                bsn: "111222333".into(),
            },
            &company_token,
        ))
        .await
        .unwrap_err();
    assert_eq!(gone.code(), Code::NotFound);
    assert_reason(&gone, "DOSSIER_NOT_FOUND");
    let deleted_twice = dossier
        .delete_dossier(authed(
            DeleteDossierRequest {
                bsn: "111222333".into(),
            },
            &company_token,
        ))
        .await
        .unwrap_err();
    assert_eq!(deleted_twice.code(), Code::NotFound);
    assert_reason(&deleted_twice, "DOSSIER_NOT_FOUND");

    // CreateDossier again: GRANTED, the patient's choice outlived the dossier
    let patient_bsn = "111222333";
    let again = create_dossier(&mesh, &company_token, patient_bsn).await;
    assert_eq!(
        (again.consent(), again.reason()),
        (ConsentStatus::Granted, DecisionReason::CompanyChoice)
    );
    // SetConsent DECLINED → DeleteDossier → CreateDossier: DECLINED
    set_consent(
        &mesh,
        &patient_token,
        &again.id,
        ConsentStatus::Declined as i32,
    )
    .await
    .unwrap();
    dossier
        .delete_dossier(authed(
            DeleteDossierRequest {
                bsn: patient_bsn.into(),
            },
            &company_token,
        ))
        .await
        .unwrap();
    let after_delete = create_dossier(&mesh, &company_token, patient_bsn).await;
    assert_eq!(
        (after_delete.consent(), after_delete.reason()),
        (ConsentStatus::Declined, DecisionReason::CompanyChoice)
    );
    // SetChoice every_company GRANTED → a second, verified company's
    // CreateDossier: GRANTED by the default
    set_choice(&mesh, &patient_token, None, ConsentStatus::Granted, None)
        .await
        .unwrap();
    let second = mesh.company_token("Apotheek Het Kruis").await;
    mesh.verify_company("Apotheek Het Kruis").await;
    let by_default = create_dossier(&mesh, &second, patient_bsn).await;
    assert_eq!(
        (by_default.consent(), by_default.reason()),
        (ConsentStatus::Granted, DecisionReason::DefaultChoice)
    );
    let permission = check_permission(&mesh, &second, patient_bsn).await.unwrap();
    assert!(permission.gave_permission);
    // …while the first company's DECLINED stands
    let permission = check_permission(&mesh, &company_token, patient_bsn)
        .await
        .unwrap();
    assert!(!permission.gave_permission);

    mesh.stop().await;
}

//! One-line wrappers around the RPCs the tests call most, so a test reads
//! as the flow it checks.

use tonic::Status;

use toestemming::proto::dossier::v1::*;
use toestemming::proto::identity::v1::*;

use super::{TestMesh, authed};

/// CreateDossier for `patient` (a BSN) as `company` (a token); panics if
/// it fails.
pub async fn create_dossier(mesh: &TestMesh, company: &str, patient: &str) -> Dossier {
    mesh.dossier()
        .create_dossier(authed(
            CreateDossierRequest {
                bsn: patient.into(),
            },
            company,
        ))
        .await
        .unwrap()
        .into_inner()
        .dossier
        .unwrap()
}

/// CheckPermission for `patient` (a BSN) as `company` (a token).
pub async fn check_permission(
    mesh: &TestMesh,
    company: &str,
    patient: &str,
) -> Result<CheckPermissionResponse, Status> {
    mesh.dossier()
        .check_permission(authed(
            CheckPermissionRequest {
                bsn: patient.into(),
            },
            company,
        ))
        .await
        .map(|r| r.into_inner())
}

/// SetConsent on `dossier_id` as `patient` (a token).
pub async fn set_consent(
    mesh: &TestMesh,
    patient: &str,
    dossier_id: &str,
    consent: i32,
) -> Result<Dossier, Status> {
    mesh.dossier()
        .set_consent(authed(
            SetConsentRequest {
                dossier_id: dossier_id.into(),
                consent,
                expire_time: None,
            },
            patient,
        ))
        .await
        .map(|r| r.into_inner().dossier.unwrap())
}

/// SetChoice as `patient` (a token): for the company named `company`, or
/// for every company when it is `None`.
pub async fn set_choice(
    mesh: &TestMesh,
    patient: &str,
    company: Option<&str>,
    consent: ConsentStatus,
    expire_time: Option<prost_types::Timestamp>,
) -> Result<Choice, Status> {
    mesh.dossier()
        .set_choice(authed(
            SetChoiceRequest {
                target: Some(match company {
                    Some(name) => set_choice_request::Target::CompanyName(name.into()),
                    None => set_choice_request::Target::EveryCompany(true),
                }),
                consent: consent as i32,
                expire_time,
            },
            patient,
        ))
        .await
        .map(|r| r.into_inner().choice.unwrap())
}

/// ClearChoice as `patient` (a token): the choice for `company`, or the
/// default when it is `None`.
pub async fn clear_choice(
    mesh: &TestMesh,
    patient: &str,
    company: Option<&str>,
) -> Result<(), Status> {
    mesh.dossier()
        .clear_choice(authed(
            ClearChoiceRequest {
                target: Some(match company {
                    Some(name) => clear_choice_request::Target::CompanyName(name.into()),
                    None => clear_choice_request::Target::EveryCompany(true),
                }),
            },
            patient,
        ))
        .await
        .map(drop)
}

/// Every choice version of `patient` (a token), newest first: the current
/// ones, or with `history` all of them, reading every page.
pub async fn list_choices(
    mesh: &TestMesh,
    patient: &str,
    history: bool,
) -> Result<Vec<Choice>, Status> {
    let mut choices = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = mesh
            .dossier()
            .list_my_choices(authed(
                ListMyChoicesRequest {
                    include_history: history,
                    page_size: 0,
                    page_token,
                },
                patient,
            ))
            .await?
            .into_inner();
        choices.extend(page.choices);
        if page.next_page_token.is_empty() {
            return Ok(choices);
        }
        page_token = page.next_page_token;
    }
}

/// ListMyDossiers as `patient` (a token).
pub async fn list_my_dossiers(
    mesh: &TestMesh,
    patient: &str,
    page_size: i32,
    page_token: &str,
) -> Result<ListMyDossiersResponse, Status> {
    mesh.dossier()
        .list_my_dossiers(authed(
            ListMyDossiersRequest {
                page_size,
                page_token: page_token.into(),
            },
            patient,
        ))
        .await
        .map(|r| r.into_inner())
}

/// LoginPatient; returns the access token.
pub async fn login(mesh: &TestMesh, bsn: &str, password: &str) -> Result<String, Status> {
    mesh.identity()
        .login_patient(LoginPatientRequest {
            bsn: bsn.into(),
            password: password.into(),
        })
        .await
        .map(|r| r.into_inner().access_token)
}

/// RegisterPatient; returns the pseudoniem.
pub async fn register_patient(
    mesh: &TestMesh,
    bsn: &str,
    first_name: &str,
    last_name: &str,
    password: &str,
) -> Result<String, Status> {
    mesh.identity()
        .register_patient(RegisterPatientRequest {
            bsn: bsn.into(),
            first_name: first_name.into(),
            last_name: last_name.into(),
            password: password.into(),
        })
        .await
        .map(|r| r.into_inner().pseudoniem)
}

/// GetCompany as Dossier asks it (an Internal token): the company
/// registered under `name` in any case, as Identity spells it.
pub async fn company_by_name(mesh: &TestMesh, name: &str) -> Result<GetCompanyResponse, Status> {
    let internal = mesh.token(toestemming::auth::Role::Internal, "internal");
    mesh.identity()
        .get_company(authed(
            GetCompanyRequest {
                company_name: name.into(),
            },
            &internal,
        ))
        .await
        .map(|r| r.into_inner())
}

/// GetMyProfile as `patient` (a token): (first name, last name).
pub async fn profile(mesh: &TestMesh, patient: &str) -> (String, String) {
    let profile = mesh
        .identity()
        .get_my_profile(authed(GetMyProfileRequest {}, patient))
        .await
        .unwrap()
        .into_inner();
    (profile.first_name, profile.last_name)
}

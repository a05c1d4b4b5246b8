//! The RPCs a patient calls: the patient's dossiers, the patient's choices
//! (SetConsent, SetChoice, ClearChoice, ListMyChoices) and the patient's
//! access log. Only these write a choice, each the calling patient's own,
//! in the same transaction as its access log entry.

use tonic::Request;

use super::access_log::{Action, Change, Outcome, Republish};
use super::consent::{Consent, Millis, Stance};
use super::error::DossierError;
use super::grpc::{DossierApi, entry};
use super::model::{ChoiceCursor, ChoiceVersion, DossierCursor, LogCursor, Target};
use super::store::LogFilter;
use super::wire::{self, Requested};
use crate::auth::Caller;
use crate::errors::FieldErrors;
use crate::ids::{CompanyName, DossierId, Pseudoniem};
use crate::mesh::CallContext;
use crate::paging::{page, page_size};
use crate::proto::dossier::v1::*;
use crate::storage::now_millis;

impl DossierApi {
    pub(super) async fn list(
        &self,
        request: Request<ListMyDossiersRequest>,
    ) -> Result<ListMyDossiersResponse, DossierError> {
        let pseudoniem = Caller::from_request(&request)?.patient()?;
        let input = request.get_ref();
        let mut errors = FieldErrors::new();
        let limit = errors.check("page_size", page_size(input.page_size));
        let cursor = page_token(&mut errors, &input.page_token, DossierCursor::decode);
        let (Some(limit), Some(cursor)) = (limit, cursor) else {
            return Err(errors.into());
        };
        let views = self
            .store
            .list_for_patient(&pseudoniem, cursor.as_ref(), limit + 1)
            .await?;
        let (views, next_page_token) = page(views, limit, |last| {
            DossierCursor::after(&last.record).encode()
        });
        Ok(ListMyDossiersResponse {
            dossiers: self.shown_all(&CallContext::of(&request), &views).await?,
            next_page_token,
        })
    }

    /// SetConsent: the patient's choice for the company of one of the
    /// patient's own dossiers.
    pub(super) async fn decide_dossier(
        &self,
        request: Request<SetConsentRequest>,
    ) -> Result<SetConsentResponse, DossierError> {
        let pseudoniem = Caller::from_request(&request)?.patient()?;
        let input = request.get_ref();
        let mut errors = FieldErrors::new();
        let id = errors.check(
            "dossier_id",
            DossierId::parse(&input.dossier_id).ok_or("must be a dossier id (UUID)"),
        );
        let stance = checked_stance(&mut errors, input.consent, input.expire_time.as_ref());
        // A missing value means its field was recorded as bad.
        let (Some(id), Some(stance)) = (id, stance) else {
            return Err(errors.into());
        };
        let view = self
            .store
            .find_by_id(id, &pseudoniem)
            .await?
            .ok_or(DossierError::NotYourDossier)?;
        let target = Target::Company(view.record.company_name.clone());
        self.record(&request, &pseudoniem, &target, stance).await?;
        let view = self
            .store
            .find_by_id(id, &pseudoniem)
            .await?
            .ok_or(DossierError::NotYourDossier)?;
        Ok(SetConsentResponse {
            dossier: Some(self.shown(&CallContext::of(&request), &view).await?),
        })
    }

    /// SetChoice: a choice for a company named by the patient, asked or
    /// not, or for every company.
    pub(super) async fn choose(
        &self,
        request: Request<SetChoiceRequest>,
    ) -> Result<SetChoiceResponse, DossierError> {
        let pseudoniem = Caller::from_request(&request)?.patient()?;
        let input = request.get_ref();
        let mut errors = FieldErrors::new();
        let requested = checked_target(&mut errors, wire::set_choice_target(input.target.as_ref()));
        let stance = checked_stance(&mut errors, input.consent, input.expire_time.as_ref());
        let (Some(requested), Some(stance)) = (requested, stance) else {
            return Err(errors.into());
        };
        let target = self
            .target(&CallContext::of(&request), requested)
            .await?
            .ok_or(DossierError::CompanyNotFound)?;
        let (version, recorded) = self.record(&request, &pseudoniem, &target, stance).await?;
        Ok(SetChoiceResponse {
            choice: Some(wire::choice(&ChoiceVersion {
                target,
                version,
                stance,
                recorded,
                replaced: None,
            })),
        })
    }

    /// ClearChoice: withdraws a current choice; the history keeps it.
    pub(super) async fn withdraw(
        &self,
        request: Request<ClearChoiceRequest>,
    ) -> Result<ClearChoiceResponse, DossierError> {
        let pseudoniem = Caller::from_request(&request)?.patient()?;
        let input = request.get_ref();
        let mut errors = FieldErrors::new();
        let requested = checked_target(
            &mut errors,
            wire::clear_choice_target(input.target.as_ref()),
        );
        let Some(requested) = requested else {
            return Err(errors.into());
        };
        // A company Identity does not know has no choice of the patient's.
        let target = self
            .target(&CallContext::of(&request), requested)
            .await?
            .ok_or(DossierError::ChoiceNotFound)?;
        let logged = entry(&request, Action::ClearChoice, &pseudoniem, target.stored())?;
        let change = Change::WithdrawChoice {
            pseudoniem: pseudoniem.clone(),
            target: target.clone(),
        };
        let republish = reached(&pseudoniem, &target);
        let outcome = self
            .write(
                &CallContext::of(&request),
                change,
                Some(logged),
                Some(republish),
            )
            .await?;
        if outcome != Outcome::Withdrawn(true) {
            return Err(DossierError::ChoiceNotFound);
        }
        tracing::info!(patient = %pseudoniem, about = %describe(&target), "choice withdrawn");
        Ok(ClearChoiceResponse {})
    }

    pub(super) async fn list_choices(
        &self,
        request: Request<ListMyChoicesRequest>,
    ) -> Result<ListMyChoicesResponse, DossierError> {
        let pseudoniem = Caller::from_request(&request)?.patient()?;
        let input = request.get_ref();
        let mut errors = FieldErrors::new();
        let limit = errors.check("page_size", page_size(input.page_size));
        let cursor = page_token(&mut errors, &input.page_token, ChoiceCursor::decode);
        let (Some(limit), Some(cursor)) = (limit, cursor) else {
            return Err(errors.into());
        };
        let versions = self
            .store
            .list_choices(
                &pseudoniem,
                input.include_history,
                &cursor.unwrap_or_else(ChoiceCursor::start),
                limit + 1,
            )
            .await?;
        let (versions, next_page_token) =
            page(versions, limit, |last| ChoiceCursor::after(last).encode());
        Ok(ListMyChoicesResponse {
            choices: versions.iter().map(wire::choice).collect(),
            next_page_token,
        })
    }

    /// The stored target a patient's request names: a company as Identity
    /// spells it (`None` when Identity knows no such company), or every
    /// company.
    async fn target(
        &self,
        context: &CallContext,
        requested: Requested,
    ) -> Result<Option<Target>, DossierError> {
        Ok(match requested {
            Requested::EveryCompany => Some(Target::EveryCompany),
            Requested::Company(name) => self
                .companies
                .find(context, &name)
                .await?
                .map(|company| Target::Company(company.name)),
        })
    }

    /// Records a new version of the patient's choice, with its access log
    /// entry; its version number and when it was made.
    async fn record<T>(
        &self,
        request: &Request<T>,
        pseudoniem: &Pseudoniem,
        target: &Target,
        stance: Stance,
    ) -> Result<(i64, Millis), DossierError> {
        let mut logged = entry(request, Action::SetChoice, pseudoniem, target.stored())?;
        logged.consent = Some(match stance {
            Stance::Grant { .. } => Consent::Granted,
            Stance::Decline => Consent::Declined,
        });
        let recorded = logged.time;
        let change = Change::RecordChoice {
            pseudoniem: pseudoniem.clone(),
            target: target.clone(),
            stance,
        };
        let republish = reached(pseudoniem, target);
        let outcome = self
            .write(
                &CallContext::of(request),
                change,
                Some(logged),
                Some(republish),
            )
            .await?;
        let Outcome::Recorded(version) = outcome else {
            return Err(crate::storage::StorageError::missing_row().into());
        };
        let (consent, until) = stance.stored();
        tracing::info!(
            patient = %pseudoniem,
            about = %describe(target),
            consent,
            limited = until.is_some(),
            version,
            "choice recorded"
        );
        Ok((version, recorded))
    }

    /// ListMyAccessLog: the calling patient's own entries, newest first.
    pub(super) async fn list_access_log(
        &self,
        request: Request<ListMyAccessLogRequest>,
    ) -> Result<ListMyAccessLogResponse, DossierError> {
        let pseudoniem = Caller::from_request(&request)?.patient()?;
        let input = request.get_ref();
        let mut errors = FieldErrors::new();
        let limit = errors.check("page_size", page_size(input.page_size));
        let cursor = page_token(&mut errors, &input.page_token, LogCursor::decode);
        let start = input
            .start_time
            .as_ref()
            .map(|at| errors.check("start_time", wire::instant(at)))
            .unwrap_or(Some(Millis::MIN));
        let end = input
            .end_time
            .as_ref()
            .map(|at| errors.check("end_time", wire::instant(at)))
            .unwrap_or(Some(Millis::MAX));
        let company_key = match input.company_name.as_str() {
            "" => Some(String::new()),
            name => errors
                .check("company_name", CompanyName::parse(name))
                .map(|name| name.key()),
        };
        let (Some(limit), Some(cursor), Some(start), Some(end), Some(company_key)) =
            (limit, cursor, start, end, company_key)
        else {
            return Err(errors.into());
        };
        let filter = LogFilter {
            start,
            end,
            company_key,
        };
        let before = cursor.unwrap_or_else(LogCursor::start).before;
        let rows = self
            .store
            .list_access_log(&pseudoniem, &filter, before, limit + 1)
            .await?;
        let (rows, next_page_token) =
            page(rows, limit, |last| LogCursor { before: last.id }.encode());
        Ok(ListMyAccessLogResponse {
            entries: rows.iter().map(wire::access_log_entry).collect(),
            next_page_token,
        })
    }
}

/// A page token field, checked: `Some(None)` for the first page.
fn page_token<C>(
    errors: &mut FieldErrors,
    token: &str,
    decode: impl Fn(&str) -> Option<C>,
) -> Option<Option<C>> {
    match token {
        "" => Some(None),
        token => errors
            .check(
                "page_token",
                decode(token).ok_or("is not a token from a previous page"),
            )
            .map(Some),
    }
}

/// The stance fields of SetConsent and SetChoice, checked.
fn checked_stance(
    errors: &mut FieldErrors,
    consent: i32,
    expire_time: Option<&prost_types::Timestamp>,
) -> Option<Stance> {
    match wire::stance(consent, expire_time, now_millis()) {
        Ok(stance) => Some(stance),
        Err(problems) => {
            for (field, rule) in problems {
                errors.add(field, rule);
            }
            None
        }
    }
}

/// The target oneof of SetChoice and ClearChoice, with its problem
/// recorded.
fn checked_target(
    errors: &mut FieldErrors,
    checked: Result<Requested, (&'static str, &'static str)>,
) -> Option<Requested> {
    match checked {
        Ok(requested) => Some(requested),
        Err((field, rule)) => {
            errors.add(field, rule);
            None
        }
    }
}

/// The dossiers whose decision a change of the patient's choice about
/// `target` can change: the one at that company, or, for the default,
/// every dossier of the patient's.
fn reached(pseudoniem: &Pseudoniem, target: &Target) -> Republish {
    match target {
        Target::Company(company) => Republish::dossier(pseudoniem, company),
        Target::EveryCompany => Republish::patient(pseudoniem),
    }
}

/// A target for a log line: the company's name, or "every company".
fn describe(target: &Target) -> &str {
    match target {
        Target::Company(name) => name.as_str(),
        Target::EveryCompany => "every company",
    }
}

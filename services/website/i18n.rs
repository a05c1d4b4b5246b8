//! Dutch and English, chosen by `Accept-Language`.
//!
//! Every word a page shows is here, once per language, so the templates
//! hold markup only. The routes and form field names are the same in both
//! languages.

use axum::http::HeaderMap;
use axum::http::header::ACCEPT_LANGUAGE;

/// A language the website speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Nl,
}

impl Lang {
    /// The language the browser prefers among Dutch and English, by the
    /// `q` weights of `Accept-Language`; English when it asks for neither.
    pub fn from_headers(headers: &HeaderMap) -> Self {
        let Some(accepted) = headers
            .get(ACCEPT_LANGUAGE)
            .and_then(|value| value.to_str().ok())
        else {
            return Lang::En;
        };
        let mut best: Option<(f32, Lang)> = None;
        for item in accepted.split(',') {
            let mut parts = item.trim().split(';');
            let tag = parts.next().unwrap_or_default().trim();
            let primary = tag.split('-').next().unwrap_or_default();
            let lang = if primary.eq_ignore_ascii_case("nl") {
                Lang::Nl
            } else if primary.eq_ignore_ascii_case("en") {
                Lang::En
            } else {
                continue;
            };
            let weight = parts
                .filter_map(|parameter| parameter.trim().strip_prefix("q="))
                .filter_map(|q| q.trim().parse::<f32>().ok())
                .next()
                .unwrap_or(1.0);
            if weight > 0.0 && best.is_none_or(|(best_weight, _)| weight > best_weight) {
                best = Some((weight, lang));
            }
        }
        best.map_or(Lang::En, |(_, lang)| lang)
    }

    /// The `lang` attribute of the page.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Nl => "nl",
        }
    }

    pub fn texts(self) -> &'static Texts {
        match self {
            Lang::En => &EN,
            Lang::Nl => &NL,
        }
    }
}

/// Every text of the website in one language.
pub struct Texts {
    pub site_name: &'static str,
    pub skip_to_content: &'static str,
    pub footer: &'static str,

    pub register_title: &'static str,
    pub register_intro: &'static str,
    pub register_button: &'static str,
    pub have_account: &'static str,
    pub bsn_label: &'static str,
    pub bsn_hint: &'static str,
    pub first_name_label: &'static str,
    pub last_name_label: &'static str,
    pub password_label: &'static str,
    pub new_password_hint: &'static str,

    pub signin_title: &'static str,
    pub signin_intro: &'static str,
    pub signin_button: &'static str,
    pub no_account: &'static str,
    pub signin_with: &'static str,
    pub signin_provider_intro: &'static str,
    pub signin_password_heading: &'static str,
    pub provider_cancelled: &'static str,
    pub provider_failed: &'static str,
    pub provider_restart: &'static str,
    pub provider_refused: &'static str,
    pub provider_signed_in: &'static str,
    pub provider_continue: &'static str,
    pub provider_only: &'static str,

    pub dashboard_title: &'static str,
    pub greeting: &'static str,
    pub dossiers_caption: &'static str,
    pub dossiers_intro: &'static str,
    pub no_dossiers: &'static str,
    pub column_company: &'static str,
    pub column_status: &'static str,
    pub column_changed: &'static str,
    pub column_decision: &'static str,
    pub approve: &'static str,
    pub decline: &'static str,
    pub for_company: &'static str,
    pub status_pending: &'static str,
    pub status_granted: &'static str,
    pub status_declined: &'static str,
    pub signout_button: &'static str,
    pub nav_log: &'static str,
    pub log_title: &'static str,
    pub log_intro: &'static str,
    pub log_from_label: &'static str,
    pub log_to_label: &'static str,
    pub log_company_label: &'static str,
    pub log_filter_button: &'static str,
    pub log_caption: &'static str,
    pub log_none: &'static str,
    pub log_older: &'static str,
    pub column_when: &'static str,
    pub column_who: &'static str,
    pub column_what: &'static str,
    pub column_answer: &'static str,
    pub who_you: &'static str,
    pub what_check: &'static str,
    pub what_create: &'static str,
    pub what_delete: &'static str,
    pub what_set_choice: &'static str,
    pub what_clear_choice: &'static str,
    pub answer_allowed: &'static str,
    pub answer_not_allowed: &'static str,
    pub answer_refused: &'static str,
    pub for_every_company: &'static str,
    pub error_log_dates: &'static str,

    pub nav_label: &'static str,
    pub nav_dossiers: &'static str,
    pub nav_choices: &'static str,
    pub column_why: &'static str,
    pub column_until: &'static str,
    pub no_end: &'static str,
    pub status_expired: &'static str,
    pub reason_company_choice: &'static str,
    pub reason_default_choice: &'static str,
    pub reason_no_choice: &'static str,
    pub reason_awaiting_confirmation: &'static str,
    pub reason_choice_expired: &'static str,
    pub expire_date_label: &'static str,
    pub expire_date_hint: &'static str,
    pub error_expire_date: &'static str,
    pub choices_title: &'static str,
    pub choices_intro: &'static str,
    pub default_heading: &'static str,
    pub default_intro: &'static str,
    pub default_none: &'static str,
    pub default_current: &'static str,
    pub approve_every: &'static str,
    pub decline_every: &'static str,
    pub withdraw: &'static str,
    pub companies_heading: &'static str,
    pub no_company_choices: &'static str,
    pub column_choice: &'static str,
    pub column_since: &'static str,
    pub column_change: &'static str,
    pub choice_granted: &'static str,
    pub choice_declined: &'static str,
    pub choose_heading: &'static str,
    pub find_label: &'static str,
    pub find_button: &'static str,
    pub found_caption: &'static str,
    pub found_none: &'static str,
    pub company_name_label: &'static str,
    pub company_name_hint: &'static str,
    pub consent_legend: &'static str,
    pub save_choice: &'static str,
    pub error_company_name: &'static str,
    pub error_company_not_found: &'static str,
    pub error_consent: &'static str,
    pub history_heading: &'static str,
    pub history_caption: &'static str,
    pub column_about: &'static str,
    pub column_made: &'static str,
    pub column_replaced: &'static str,
    pub still_current: &'static str,
    pub no_history: &'static str,
    pub download_heading: &'static str,
    pub download_text: &'static str,
    pub download_link: &'static str,
    pub notice_choice_saved: &'static str,
    pub notice_choice_withdrawn: &'static str,
    pub notice_no_such_choice: &'static str,

    pub error_summary_title: &'static str,
    pub error_bsn: &'static str,
    pub error_first_name: &'static str,
    pub error_last_name: &'static str,
    pub error_password_new: &'static str,
    pub error_password_missing: &'static str,
    pub error_wrong_credentials: &'static str,
    pub error_too_many_attempts: &'static str,
    pub error_already_registered: &'static str,
    pub error_unavailable: &'static str,
    pub error_unexpected: &'static str,

    pub notice_registered: &'static str,
    pub notice_signed_out: &'static str,
    pub notice_expired: &'static str,
    pub notice_signin_needed: &'static str,
    pub notice_saved: &'static str,
    pub notice_gone: &'static str,

    pub forbidden_title: &'static str,
    pub forbidden_text: &'static str,
    pub forbidden_back: &'static str,
    pub not_found_title: &'static str,
    pub not_found_text: &'static str,
    pub home_link: &'static str,
}

const BSN_RULE_EN: &str = "A BSN is 9 digits that pass the 11-proof: 9 × the first digit + 8 × the second + … + 2 × the eighth − the ninth must be divisible by 11. Check the number on your passport, ID card or driving licence.";
const BSN_RULE_NL: &str = "Een BSN bestaat uit 9 cijfers die de elfproef doorstaan: 9 × het eerste cijfer + 8 × het tweede + … + 2 × het achtste − het negende moet deelbaar zijn door 11. Controleer het nummer op uw paspoort, identiteitskaart of rijbewijs.";

pub static EN: Texts = Texts {
    site_name: "Online Toestemming",
    skip_to_content: "Skip to content",
    footer: "Your BSN is replaced by a pseudonym as soon as it reaches us; only that pseudonym is stored with your consent.",

    register_title: "Create an account",
    register_intro: "With an account you decide which healthcare companies may access your dossier.",
    register_button: "Create account",
    have_account: "Already have an account? Sign in",
    bsn_label: "BSN (citizen service number)",
    bsn_hint: "9 digits, without spaces or dots.",
    first_name_label: "First name",
    last_name_label: "Last name",
    password_label: "Password",
    new_password_hint: "At least 10 characters.",

    signin_title: "Sign in",
    signin_intro: "Sign in with your BSN and password to see and decide on your dossiers.",
    signin_button: "Sign in",
    no_account: "No account yet? Create one",
    signin_with: "Sign in with",
    signin_provider_intro: "Sign in with your digital identity to see and decide on your dossiers. The first time, your account is made for you.",
    signin_password_heading: "Or with a BSN and password (development mode)",
    provider_cancelled: "You cancelled signing in. Nothing was changed; you can try again.",
    provider_failed: "The identity provider could not sign you in. Try again later.",
    provider_restart: "This sign-in could not be verified: it took too long, or was started in another window. Please start again.",
    provider_refused: "Your sign-in could not be verified, or it gave no valid BSN. Nothing was changed; please start again.",
    provider_signed_in: "You are signed in",
    provider_continue: "Continue to your dossiers",
    provider_only: "Here you sign in with your digital identity, not with a password.",

    dashboard_title: "Your dossiers",
    greeting: "Signed in as",
    dossiers_caption: "Healthcare companies that keep a dossier about you",
    dossiers_intro: "A company may see your dossier only after you approve. You can change your decision at any time, and limit an approval to a date.",
    no_dossiers: "No healthcare company keeps a dossier about you yet.",
    column_company: "Company",
    column_status: "Status",
    column_changed: "Last changed",
    column_decision: "Your decision",
    approve: "Approve",
    decline: "Decline",
    for_company: "access for",
    status_pending: "Waiting for your decision",
    status_granted: "Approved",
    status_declined: "Declined",
    signout_button: "Sign out",
    nav_log: "Who looked",
    log_title: "Who looked",
    log_intro: "Every time a healthcare company asked about you, opened or deleted a dossier, and every choice you made, newest first. Nothing is left out: a company's question is answered only once it is written here.",
    log_from_label: "From (date)",
    log_to_label: "Up to and including (date)",
    log_company_label: "Company (optional)",
    log_filter_button: "Show",
    log_caption: "What happened, newest first",
    log_none: "Nothing has been logged about you for this selection.",
    log_older: "Older entries",
    column_when: "When",
    column_who: "Who",
    column_what: "What",
    column_answer: "Answer",
    who_you: "You",
    what_check: "Asked whether it may see your data",
    what_create: "Opened a dossier about you",
    what_delete: "Deleted its dossier about you",
    what_set_choice: "Made a choice",
    what_clear_choice: "Withdrew a choice",
    answer_allowed: "Allowed",
    answer_not_allowed: "Not allowed",
    answer_refused: "Refused: it keeps no dossier about you",
    for_every_company: "for every company",
    error_log_dates: "Enter dates as YYYY-MM-DD.",

    nav_label: "Main",
    nav_dossiers: "Your dossiers",
    nav_choices: "Your choices",
    column_why: "Why",
    column_until: "Until (inclusive)",
    no_end: "No end date",
    status_expired: "Approval ended",
    reason_company_choice: "Your choice for this company",
    reason_default_choice: "Your choice for every company",
    reason_no_choice: "You have not chosen yet",
    reason_awaiting_confirmation: "An approval made before you first signed in with your digital identity: approve again to confirm it",
    reason_choice_expired: "The period you approved has ended",
    expire_date_label: "Until (optional)",
    expire_date_hint: "Leave empty to approve until you change your mind.",
    error_expire_date: "Choose a date from today on, or leave the date empty.",
    choices_title: "Your choices",
    choices_intro: "Decide for a healthcare company before it asks, or for every company at once. Your choice for a particular company always goes before your choice for every company.",
    default_heading: "Every company",
    default_intro: "This choice applies to every company verified by Online Toestemming for which you have not made a choice of its own.",
    default_none: "You have no choice for every company. A company you have not decided on may not see your dossier.",
    default_current: "Your choice for every company",
    approve_every: "Approve every company",
    decline_every: "Decline every company",
    withdraw: "Withdraw",
    companies_heading: "Your choices per company",
    no_company_choices: "You have not made a choice for a particular company yet.",
    column_choice: "Your choice",
    column_since: "Since",
    column_change: "Change",
    choice_granted: "Approved",
    choice_declined: "Declined",
    choose_heading: "Choose for a company",
    find_label: "Find a company by the start of its name",
    find_button: "Search",
    found_caption: "Companies found",
    found_none: "No verified company starts with that name. If you know the exact name, enter it below.",
    company_name_label: "Company name",
    company_name_hint: "As the company is registered; capitals do not matter.",
    consent_legend: "Your choice",
    save_choice: "Save choice",
    error_company_name: "Enter the name of the company (at most 100 characters).",
    error_company_not_found: "No company is registered under that name.",
    error_consent: "Choose Approve or Decline.",
    history_heading: "History",
    history_caption: "Every choice you made, newest first",
    column_about: "About",
    column_made: "Made on",
    column_replaced: "Replaced on",
    still_current: "Current",
    no_history: "You have not made any choice yet.",
    download_heading: "Take your choices with you",
    download_text: "Every version of your choices as HL7 FHIR R4 Consent resources: a standard format that other healthcare systems read.",
    download_link: "Download my choices (FHIR, JSON)",
    notice_choice_saved: "Your choice has been saved.",
    notice_choice_withdrawn: "Your choice has been withdrawn.",
    notice_no_such_choice: "You had no such choice.",

    error_summary_title: "There is a problem",
    error_bsn: BSN_RULE_EN,
    error_first_name: "Enter your first name (at most 100 characters).",
    error_last_name: "Enter your last name (at most 100 characters).",
    error_password_new: "Choose a password of at least 10 characters.",
    error_password_missing: "Enter your password.",
    error_wrong_credentials: "The BSN or password is not correct.",
    error_too_many_attempts: "Too many failed attempts to sign in. Wait a while and try again.",
    error_already_registered: "An account with this BSN already exists. Sign in instead.",
    error_unavailable: "The service is not available right now. Nothing was changed; please try again in a moment.",
    error_unexpected: "Something went wrong on our side. Nothing was changed; please try again.",

    notice_registered: "Your account has been created. You can sign in now.",
    notice_signed_out: "You have been signed out.",
    notice_expired: "Your session has expired. Please sign in again.",
    notice_signin_needed: "Please sign in to continue.",
    notice_saved: "Your decision has been saved.",
    notice_gone: "That dossier no longer exists.",

    forbidden_title: "This form has expired",
    forbidden_text: "For your safety we did not process it. Go back, reload the page and try again.",
    forbidden_back: "Go to the start page",
    not_found_title: "Page not found",
    not_found_text: "This page does not exist.",
    home_link: "Go to the start page",
};

pub static NL: Texts = Texts {
    site_name: "Online Toestemming",
    skip_to_content: "Naar de inhoud",
    footer: "Uw BSN wordt vervangen door een pseudoniem zodra het bij ons binnenkomt; alleen dat pseudoniem wordt bij uw toestemming bewaard.",

    register_title: "Account aanmaken",
    register_intro: "Met een account bepaalt u welke zorgaanbieders uw dossier mogen inzien.",
    register_button: "Account aanmaken",
    have_account: "Heeft u al een account? Log in",
    bsn_label: "BSN (burgerservicenummer)",
    bsn_hint: "9 cijfers, zonder spaties of punten.",
    first_name_label: "Voornaam",
    last_name_label: "Achternaam",
    password_label: "Wachtwoord",
    new_password_hint: "Minimaal 10 tekens.",

    signin_title: "Inloggen",
    signin_intro: "Log in met uw BSN en wachtwoord om uw dossiers te zien en erover te beslissen.",
    signin_button: "Inloggen",
    no_account: "Nog geen account? Maak er een aan",
    signin_with: "Inloggen met",
    signin_provider_intro: "Log in met uw digitale identiteit om uw dossiers te zien en erover te beslissen. De eerste keer wordt uw account voor u aangemaakt.",
    signin_password_heading: "Of met BSN en wachtwoord (ontwikkelmodus)",
    provider_cancelled: "U hebt het inloggen afgebroken. Er is niets gewijzigd; u kunt het opnieuw proberen.",
    provider_failed: "De identiteitsdienst kon u niet inloggen. Probeer het later opnieuw.",
    provider_restart: "Deze inlogpoging kon niet worden gecontroleerd: ze duurde te lang of is in een ander venster begonnen. Begin opnieuw.",
    provider_refused: "Uw inlogpoging kon niet worden gecontroleerd, of gaf geen geldig BSN. Er is niets gewijzigd; begin opnieuw.",
    provider_signed_in: "U bent ingelogd",
    provider_continue: "Verder naar uw dossiers",
    provider_only: "Hier logt u in met uw digitale identiteit, niet met een wachtwoord.",

    dashboard_title: "Uw dossiers",
    greeting: "Ingelogd als",
    dossiers_caption: "Zorgaanbieders die een dossier over u bijhouden",
    dossiers_intro: "Een zorgaanbieder mag uw dossier pas inzien als u toestemming geeft. U kunt uw besluit altijd wijzigen, en een toestemming tot een datum beperken.",
    no_dossiers: "Er houdt nog geen zorgaanbieder een dossier over u bij.",
    column_company: "Zorgaanbieder",
    column_status: "Status",
    column_changed: "Laatst gewijzigd",
    column_decision: "Uw besluit",
    approve: "Toestaan",
    decline: "Weigeren",
    for_company: "toegang voor",
    status_pending: "Wacht op uw besluit",
    status_granted: "Toegestaan",
    status_declined: "Geweigerd",
    signout_button: "Uitloggen",
    nav_log: "Wie keek er",
    log_title: "Wie keek er",
    log_intro: "Elke keer dat een zorgaanbieder naar u vroeg, een dossier opende of verwijderde, en elke keuze die u maakte, nieuwste eerst. Er ontbreekt niets: een vraag van een zorgaanbieder wordt pas beantwoord als die hier staat.",
    log_from_label: "Vanaf (datum)",
    log_to_label: "Tot en met (datum)",
    log_company_label: "Zorgaanbieder (optioneel)",
    log_filter_button: "Tonen",
    log_caption: "Wat er gebeurde, nieuwste eerst",
    log_none: "Er is voor deze selectie niets over u vastgelegd.",
    log_older: "Oudere regels",
    column_when: "Wanneer",
    column_who: "Wie",
    column_what: "Wat",
    column_answer: "Antwoord",
    who_you: "U",
    what_check: "Vroeg of hij uw gegevens mag inzien",
    what_create: "Opende een dossier over u",
    what_delete: "Verwijderde zijn dossier over u",
    what_set_choice: "Maakte een keuze",
    what_clear_choice: "Trok een keuze in",
    answer_allowed: "Toegestaan",
    answer_not_allowed: "Niet toegestaan",
    answer_refused: "Geweigerd: hij houdt geen dossier over u bij",
    for_every_company: "voor alle zorgaanbieders",
    error_log_dates: "Vul datums in als JJJJ-MM-DD.",

    nav_label: "Hoofdmenu",
    nav_dossiers: "Uw dossiers",
    nav_choices: "Uw keuzes",
    column_why: "Waarom",
    column_until: "Tot en met",
    no_end: "Geen einddatum",
    status_expired: "Toestemming verlopen",
    reason_company_choice: "Uw keuze voor deze zorgaanbieder",
    reason_default_choice: "Uw keuze voor alle zorgaanbieders",
    reason_no_choice: "U heeft nog niet gekozen",
    reason_awaiting_confirmation: "Een toestemming van vóór uw eerste inlog met uw digitale identiteit: geef opnieuw toestemming om haar te bevestigen",
    reason_choice_expired: "De periode waarvoor u toestemming gaf is voorbij",
    expire_date_label: "Tot en met (optioneel)",
    expire_date_hint: "Laat leeg om toe te staan totdat u het wijzigt.",
    error_expire_date: "Kies een datum vanaf vandaag, of laat de datum leeg.",
    choices_title: "Uw keuzes",
    choices_intro: "Beslis voor een zorgaanbieder voordat die het vraagt, of voor alle zorgaanbieders tegelijk. Uw keuze voor een bepaalde zorgaanbieder gaat altijd voor uw keuze voor alle zorgaanbieders.",
    default_heading: "Alle zorgaanbieders",
    default_intro: "Deze keuze geldt voor elke door Online Toestemming gecontroleerde zorgaanbieder waarvoor u geen eigen keuze heeft gemaakt.",
    default_none: "U heeft geen keuze voor alle zorgaanbieders. Een zorgaanbieder waarover u niet heeft beslist, mag uw dossier niet inzien.",
    default_current: "Uw keuze voor alle zorgaanbieders",
    approve_every: "Alle zorgaanbieders toestaan",
    decline_every: "Alle zorgaanbieders weigeren",
    withdraw: "Intrekken",
    companies_heading: "Uw keuzes per zorgaanbieder",
    no_company_choices: "U heeft nog geen keuze gemaakt voor een bepaalde zorgaanbieder.",
    column_choice: "Uw keuze",
    column_since: "Sinds",
    column_change: "Wijzigen",
    choice_granted: "Toegestaan",
    choice_declined: "Geweigerd",
    choose_heading: "Kies voor een zorgaanbieder",
    find_label: "Zoek een zorgaanbieder op het begin van de naam",
    find_button: "Zoeken",
    found_caption: "Gevonden zorgaanbieders",
    found_none: "Geen gecontroleerde zorgaanbieder begint met die naam. Weet u de precieze naam, vul die dan hieronder in.",
    company_name_label: "Naam van de zorgaanbieder",
    company_name_hint: "Zoals de zorgaanbieder geregistreerd is; hoofdletters maken niet uit.",
    consent_legend: "Uw keuze",
    save_choice: "Keuze opslaan",
    error_company_name: "Vul de naam van de zorgaanbieder in (maximaal 100 tekens).",
    error_company_not_found: "Er is geen zorgaanbieder met die naam geregistreerd.",
    error_consent: "Kies Toestaan of Weigeren.",
    history_heading: "Geschiedenis",
    history_caption: "Elke keuze die u maakte, nieuwste eerst",
    column_about: "Over",
    column_made: "Gemaakt op",
    column_replaced: "Vervangen op",
    still_current: "Huidig",
    no_history: "U heeft nog geen keuze gemaakt.",
    download_heading: "Neem uw keuzes mee",
    download_text: "Elke versie van uw keuzes als HL7 FHIR R4 Consent-resources: een standaardformaat dat andere zorgsystemen kunnen lezen.",
    download_link: "Mijn keuzes downloaden (FHIR, JSON)",
    notice_choice_saved: "Uw keuze is opgeslagen.",
    notice_choice_withdrawn: "Uw keuze is ingetrokken.",
    notice_no_such_choice: "U had zo'n keuze niet.",

    error_summary_title: "Er is een probleem",
    error_bsn: BSN_RULE_NL,
    error_first_name: "Vul uw voornaam in (maximaal 100 tekens).",
    error_last_name: "Vul uw achternaam in (maximaal 100 tekens).",
    error_password_new: "Kies een wachtwoord van minimaal 10 tekens.",
    error_password_missing: "Vul uw wachtwoord in.",
    error_wrong_credentials: "Het BSN of wachtwoord is niet juist.",
    error_too_many_attempts: "Te veel mislukte pogingen om in te loggen. Wacht even en probeer het opnieuw.",
    error_already_registered: "Er bestaat al een account met dit BSN. Log in.",
    error_unavailable: "De dienst is op dit moment niet beschikbaar. Er is niets gewijzigd; probeer het zo opnieuw.",
    error_unexpected: "Er ging bij ons iets mis. Er is niets gewijzigd; probeer het opnieuw.",

    notice_registered: "Uw account is aangemaakt. U kunt nu inloggen.",
    notice_signed_out: "U bent uitgelogd.",
    notice_expired: "Uw sessie is verlopen. Log opnieuw in.",
    notice_signin_needed: "Log in om verder te gaan.",
    notice_saved: "Uw besluit is opgeslagen.",
    notice_gone: "Dat dossier bestaat niet meer.",

    forbidden_title: "Dit formulier is verlopen",
    forbidden_text: "Voor uw veiligheid hebben we het niet verwerkt. Ga terug, laad de pagina opnieuw en probeer het nog eens.",
    forbidden_back: "Naar de startpagina",
    not_found_title: "Pagina niet gevonden",
    not_found_text: "Deze pagina bestaat niet.",
    home_link: "Naar de startpagina",
};

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn lang(accept: &str) -> Lang {
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT_LANGUAGE, HeaderValue::from_str(accept).unwrap());
        Lang::from_headers(&headers)
    }

    #[test]
    fn the_preferred_of_dutch_and_english_wins_and_english_is_the_default() {
        assert_eq!(lang("nl-NL,nl;q=0.9,en;q=0.8"), Lang::Nl);
        assert_eq!(lang("en-GB,en;q=0.9,nl;q=0.8"), Lang::En);
        assert_eq!(lang("de-DE,nl;q=0.5,en;q=0.4"), Lang::Nl);
        assert_eq!(lang("en;q=0.2, NL;q=0.7"), Lang::Nl);
        assert_eq!(lang("fr, de"), Lang::En);
        assert_eq!(lang("nl;q=0"), Lang::En);
        assert_eq!(Lang::from_headers(&HeaderMap::new()), Lang::En);
    }
}

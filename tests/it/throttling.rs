//! Identity's throttles under real concurrency (issue 17, findings 1, 2, 4,
//! 6 and the service credential): many calls at once over real sockets,
//! from several loopback addresses (127.0.0.x) as different clients.
//!
//! Each test prints the figure `docs/security.md` quotes.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use tonic::transport::Channel;
use tonic::{Code, Status};
use tonic_types::StatusExt as _;

use toestemming::proto::identity::v1::identity_service_client::IdentityServiceClient;
use toestemming::proto::identity::v1::*;
use toestemming::settings::ServiceKind;

use crate::support::*;

fn loopback(last: u8) -> IpAddr {
    IpAddr::from([127, 0, 0, last])
}

/// An Identity client whose connection comes from 127.0.0.`last`.
async fn identity_from(mesh: &TestMesh, last: u8) -> IdentityServiceClient<Channel> {
    IdentityServiceClient::new(channel_from(mesh.addr(ServiceKind::Identity), loopback(last)).await)
}

async fn login_from(
    client: &IdentityServiceClient<Channel>,
    bsn: &str,
    password: &str,
) -> Result<String, Status> {
    client
        .clone()
        .login_patient(LoginPatientRequest {
            bsn: bsn.into(),
            password: password.into(),
        })
        .await
        .map(|r| r.into_inner().access_token)
}

/// How many answers had each outcome: `OK` or the ErrorInfo reason.
fn tally<T>(answers: &[Result<T, Status>]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for answer in answers {
        let key = match answer {
            Ok(_) => "OK".to_owned(),
            Err(status) => reason(status).unwrap_or_else(|| format!("{:?}", status.code())),
        };
        *counts.entry(key).or_insert(0) += 1;
    }
    counts
}

/// `n` GetMyProfile calls as `patient`, one after another: a bystander's
/// reads during a flood.
async fn profile_reads(
    mesh: &TestMesh,
    patient: &str,
    n: usize,
) -> Vec<Result<tonic::Response<GetMyProfileResponse>, Status>> {
    let mut answers = Vec::with_capacity(n);
    for _ in 0..n {
        answers.push(
            mesh.identity()
                .get_my_profile(authed(GetMyProfileRequest {}, patient))
                .await,
        );
    }
    answers
}

fn retry_after(status: &Status) -> Duration {
    status
        .get_details_retry_info()
        .and_then(|info| info.retry_delay)
        .unwrap_or_else(|| panic!("no RetryInfo: {status:?}"))
}

/// Finding 1: 1000 concurrent guesses at one account, the right password
/// among them, from ten addresses. Only the account's free failures may
/// reach the password check; the rest are refused before it
/// (TOO_MANY_ATTEMPTS) or turned away at the hasher's door (OVERLOADED).
/// The right guess, if it was checked at all, does not wipe the failures
/// that were in flight beside it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_guesses_check_no_more_passwords_than_the_account_allows() {
    let mesh = TestMesh::start().await;
    let patient = bsn(1);
    register_patient(&mesh, &patient, "Anna", "Jansen", PASSWORD)
        .await
        .unwrap();
    let clients = join_all((2..12).map(|last| identity_from(&mesh, last))).await;
    let guesses = (0..1000).map(|n| {
        let client = &clients[n % clients.len()];
        let password = if n == 500 {
            PASSWORD.to_owned()
        } else {
            format!("wrong guess {n}")
        };
        let patient = patient.clone();
        async move { login_from(client, &patient, &password).await }
    });
    let answers = join_all(guesses).await;
    let counts = tally(&answers);
    let checked = counts.get("OK").unwrap_or(&0) + counts.get("INVALID_CREDENTIALS").unwrap_or(&0);
    println!("1000 concurrent guesses at one account: {counts:?}; passwords checked: {checked}");
    assert!(
        checked <= 5,
        "only the 5 free failures may be checked: {counts:?}"
    );
    assert!(checked >= 1, "some guess must have been judged: {counts:?}");
    for key in counts.keys() {
        assert!(
            [
                "OK",
                "INVALID_CREDENTIALS",
                "TOO_MANY_ATTEMPTS",
                "OVERLOADED"
            ]
            .contains(&key.as_str()),
            "unexpected answer {key}: {counts:?}"
        );
    }
    // Whatever the right guess did, the failures stand: guessing on at
    // once, the account's allowance runs out at five checked passwords in
    // all, the flood's included.
    let mut later = Vec::new();
    for n in 0..10 {
        later.push(login_from(&clients[0], &patient, &format!("later guess {n}")).await);
    }
    let later_counts = tally(&later);
    let checked_in_all = checked + later_counts.get("INVALID_CREDENTIALS").unwrap_or(&0);
    println!(
        "then 10 guesses one after another: {later_counts:?}; checked in all: {checked_in_all}"
    );
    assert!(checked_in_all <= 5, "{counts:?} then {later_counts:?}");
    let last = later.last().unwrap().as_ref().unwrap_err();
    assert_eq!(last.code(), Code::ResourceExhausted, "{last:?}");
    assert_reason(last, "TOO_MANY_ATTEMPTS");
    mesh.stop().await;
}

/// Finding 2: an attacker at one address earns delays that grow to the
/// window, but the patient at another address waits at most the account's
/// cap (a second here), then signs in.
#[tokio::test]
async fn guesses_from_elsewhere_cannot_lock_the_patient_out() {
    let mesh = TestMesh::start_with(|settings| {
        settings.login_throttle.first_delay = Duration::from_millis(50);
        settings.login_throttle.max_account_delay = Duration::from_secs(1);
    })
    .await;
    let patient = bsn(2);
    register_patient(&mesh, &patient, "Bert", "Jansen", PASSWORD)
        .await
        .unwrap();
    let attacker = identity_from(&mesh, 20).await;
    let mut attacker_wait = Duration::ZERO;
    let mut guesses = 0;
    // Guess as fast as allowed until the attacker's own wait passes ten
    // times the account's cap.
    while attacker_wait < Duration::from_secs(10) {
        match login_from(&attacker, &patient, "a wrong guess").await {
            Err(status) if status.code() == Code::Unauthenticated => guesses += 1,
            Err(status) if reason(&status).as_deref() == Some("TOO_MANY_ATTEMPTS") => {
                attacker_wait = retry_after(&status);
                if attacker_wait < Duration::from_secs(10) {
                    tokio::time::sleep(attacker_wait).await;
                }
            }
            other => panic!("unexpected answer {other:?}"),
        }
    }
    let started = Instant::now();
    let home = identity_from(&mesh, 30).await;
    let token = loop {
        match login_from(&home, &patient, PASSWORD).await {
            Ok(token) => break token,
            Err(status) if reason(&status).as_deref() == Some("TOO_MANY_ATTEMPTS") => {
                let wait = retry_after(&status);
                assert!(wait <= Duration::from_secs(1), "the patient waits {wait:?}");
                tokio::time::sleep(wait).await;
            }
            Err(status) => panic!("the patient's sign-in failed: {status:?}"),
        }
    };
    let patient_wait = started.elapsed();
    println!(
        "after {guesses} wrong guesses the attacker waits {attacker_wait:?}; the patient \
         elsewhere signed in after {patient_wait:?}"
    );
    assert!(patient_wait < Duration::from_secs(3), "{patient_wait:?}");
    assert!(!token.is_empty());
    mesh.stop().await;
}

/// Finding 6: RegisterPatient answers whether a BSN is registered, so an
/// address gets a burst of registrations and then one per interval; a
/// second address is not affected. RegisterCompany shares the bound.
#[tokio::test]
async fn registrations_are_bounded_per_address() {
    let mesh = TestMesh::start_with(|settings| {
        settings.login_throttle.registration_burst = 3;
        settings.login_throttle.registration_refill = Duration::from_secs(60);
    })
    .await;
    let prober = identity_from(&mesh, 40).await;
    let taken = bsn(3);
    register_patient(&mesh, &taken, "Cor", "Jansen", PASSWORD)
        .await
        .unwrap();
    let mut answers = Vec::new();
    for _ in 0..50 {
        answers.push(
            prober
                .clone()
                .register_patient(RegisterPatientRequest {
                    bsn: taken.clone(),
                    first_name: "Cor".into(),
                    last_name: "Jansen".into(),
                    password: PASSWORD.into(),
                })
                .await,
        );
    }
    let counts = tally(&answers);
    println!("50 registrations of a taken BSN from one address: {counts:?}");
    assert_eq!(
        counts.get("PATIENT_ALREADY_REGISTERED"),
        Some(&3),
        "{counts:?}"
    );
    assert_eq!(counts.get("TOO_MANY_ATTEMPTS"), Some(&47), "{counts:?}");
    let refused = answers.last().unwrap().as_ref().unwrap_err();
    assert_eq!(refused.code(), Code::ResourceExhausted);
    assert!(retry_after(refused) <= Duration::from_secs(60));
    let company = prober
        .clone()
        .register_company(RegisterCompanyRequest {
            company_name: "Prober BV".into(),
        })
        .await
        .unwrap_err();
    assert_reason(&company, "TOO_MANY_ATTEMPTS");

    let neighbour = identity_from(&mesh, 41).await;
    neighbour
        .clone()
        .register_company(RegisterCompanyRequest {
            company_name: "Buurman BV".into(),
        })
        .await
        .unwrap();
    mesh.stop().await;
}

/// Finding 9: wrong service credentials are counted per address and, past
/// ten, refused without a log line each; the right credential from the
/// same address still gets its token (every service of `all` shares it).
#[tokio::test]
async fn wrong_service_credentials_are_throttled_but_never_the_right_one() {
    let mesh = TestMesh::start().await;
    let client = identity_from(&mesh, 50).await;
    let ask = |secret: &str| {
        let mut client = client.clone();
        let secret = secret.to_owned();
        async move {
            client
                .issue_internal_token(IssueInternalTokenRequest {
                    service_name: "probe".into(),
                    service_secret: secret,
                })
                .await
        }
    };
    let mut answers = Vec::new();
    for n in 0..30 {
        answers.push(ask(&format!("not the credential {n}")).await);
    }
    let counts = tally(&answers);
    println!("30 wrong service credentials from one address: {counts:?}");
    assert_eq!(counts.get("INVALID_CREDENTIALS"), Some(&10), "{counts:?}");
    assert_eq!(counts.get("TOO_MANY_ATTEMPTS"), Some(&20), "{counts:?}");
    ask(INTERNAL_SECRET).await.unwrap();
    mesh.stop().await;
}

/// Finding 4: a flood of registrations (each an argon2 hash) from many
/// addresses is turned away at the hasher's door, OVERLOADED with a
/// RetryInfo, never a pool time-out; a bystander's profile reads all
/// succeed meanwhile, and the bystander's own sign-in is admitted at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_argon2_flood_is_turned_away_and_a_bystander_goes_on() {
    let mesh = TestMesh::start().await;
    let bystander = bsn(4);
    let (_, token) = mesh.patient_token(&bystander).await;
    let solo = Instant::now();
    login(&mesh, &bystander, PASSWORD).await.unwrap();
    let quiet_login = solo.elapsed();

    let clients = join_all((60..90).map(|last| identity_from(&mesh, last))).await;
    let flood = join_all((0..600u32).map(|n| {
        let mut client = clients[n as usize % clients.len()].clone();
        async move {
            client
                .register_patient(RegisterPatientRequest {
                    bsn: bsn(1000 + n),
                    first_name: "Flood".into(),
                    last_name: "Vloed".into(),
                    password: PASSWORD.into(),
                })
                .await
        }
    }));
    let home = identity_from(&mesh, 100).await;
    let bystander_calls = async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let started = Instant::now();
        // Registrations hold only half the hasher's places: the sign-in is
        // admitted at once, however full the queue.
        login_from(&home, &bystander, PASSWORD)
            .await
            .unwrap_or_else(|status| panic!("the bystander's sign-in failed: {status:?}"));
        let signed_in = started.elapsed();
        (signed_in, profile_reads(&mesh, &token, 40).await)
    };
    let (answers, (signed_in, profiles)) = tokio::join!(flood, bystander_calls);
    let counts = tally(&answers);
    let profile_counts = tally(&profiles);
    println!(
        "600 concurrent registrations: {counts:?}; the bystander's sign-in took {signed_in:?} \
         (alone: {quiet_login:?}); 40 profile reads: {profile_counts:?}"
    );
    assert_eq!(profile_counts.get("OK"), Some(&40), "{profile_counts:?}");
    for key in counts.keys() {
        assert!(
            ["OK", "OVERLOADED"].contains(&key.as_str()),
            "a flood call failed otherwise ({key}): {counts:?}"
        );
    }
    assert!(counts.contains_key("OVERLOADED"), "{counts:?}");
    let overloaded = answers
        .iter()
        .find_map(|a| a.as_ref().err())
        .expect("some were refused");
    assert_eq!(overloaded.code(), Code::ResourceExhausted);
    assert!(retry_after(overloaded) > Duration::ZERO);
    mesh.stop().await;
}

/// Finding 4, the other half: 1000 concurrent correct sign-ins to the
/// attacker's own account once made 504 calls fail STORAGE_UNAVAILABLE
/// (the pool timed out) and a bystander's profile read fail 1 time in 40.
/// Now the account's sign-ins in flight are bounded, the hasher's door
/// turns the rest away, and sign-ins read through their own connections.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_correct_sign_ins_leave_a_bystanders_reads_alone() {
    let mesh = TestMesh::start().await;
    let own = bsn(5);
    register_patient(&mesh, &own, "Eigen", "Account", PASSWORD)
        .await
        .unwrap();
    let (_, bystander) = mesh.patient_token(&bsn(6)).await;
    let clients = join_all((110..130).map(|last| identity_from(&mesh, last))).await;
    let flood = join_all((0..1000).map(|n| {
        let client = &clients[n % clients.len()];
        let own = own.clone();
        async move { login_from(client, &own, PASSWORD).await }
    }));
    let reads = profile_reads(&mesh, &bystander, 40);
    let (answers, reads) = tokio::join!(flood, reads);
    let counts = tally(&answers);
    let read_counts = tally(&reads);
    println!("1000 concurrent correct sign-ins: {counts:?}; 40 profile reads: {read_counts:?}");
    assert_eq!(read_counts.get("OK"), Some(&40), "{read_counts:?}");
    assert!(counts.contains_key("OK"), "{counts:?}");
    for key in counts.keys() {
        assert!(
            ["OK", "TOO_MANY_ATTEMPTS", "OVERLOADED"].contains(&key.as_str()),
            "a sign-in failed otherwise ({key}): {counts:?}"
        );
    }
    mesh.stop().await;
}

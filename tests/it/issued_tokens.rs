//! The tokens Identity issues: exactly the contract's header and claims,
//! a lifetime of 900 s, the pseudoniem as a patient's subject, and nothing
//! personal (no BSN, no name) in any token.

use std::collections::HashSet;

use crate::support::*;

#[tokio::test]
async fn issued_tokens_carry_the_contracts_claims_and_nothing_personal() {
    let mesh = TestMesh::start().await;
    let company = mesh.register_company("Claims Zorg B.V.").await;

    let decoded = decode(&company.token);
    assert_eq!(
        decoded.header,
        serde_json::json!({"alg": "HS256", "typ": "JWT"}),
        "exactly alg and typ"
    );
    let claims = &decoded.payload;
    let keys: HashSet<&str> = claims
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        HashSet::from(["sub", "role", "iss", "aud", "exp", "iat", "nbf", "jti"])
    );
    assert_eq!(claims["sub"], "Claims Zorg B.V.");
    assert_eq!(claims["role"], "HealthcareCompany");
    assert_eq!(claims["iss"], ISSUER);
    assert_eq!(claims["aud"], AUDIENCE);
    let (exp, iat, nbf) = (
        claims["exp"].as_u64().unwrap(),
        claims["iat"].as_u64().unwrap(),
        claims["nbf"].as_u64().unwrap(),
    );
    assert_eq!(exp - iat, 900);
    assert!(nbf <= iat);
    assert!(iat.abs_diff(now()) <= 60, "iat {iat} is not now");
    assert!(uuid::Uuid::try_parse(claims["jti"].as_str().unwrap()).is_ok());

    // A patient token: sub is the pseudoniem; no BSN, no name.
    let patient_bsn = bsn(7);
    let pseudoniem = register_patient(&mesh, &patient_bsn, "Wilhelmina", "Brouwershaven", PASSWORD)
        .await
        .unwrap();
    let token = login(&mesh, &patient_bsn, PASSWORD).await.unwrap();
    let decoded = decode(&token);
    assert_eq!(
        decoded.header,
        serde_json::json!({"alg": "HS256", "typ": "JWT"})
    );
    assert_eq!(decoded.payload["sub"], pseudoniem.as_str());
    assert_eq!(
        uuid::Uuid::try_parse(&pseudoniem)
            .unwrap()
            .hyphenated()
            .to_string(),
        pseudoniem,
        "a lowercase hyphenated UUID"
    );
    assert_eq!(decoded.payload["role"], "Patient");
    let (exp, iat) = (
        decoded.payload["exp"].as_u64().unwrap(),
        decoded.payload["iat"].as_u64().unwrap(),
    );
    assert_eq!(exp - iat, 900);
    for personal in [patient_bsn.as_str(), "Wilhelmina", "Brouwershaven"] {
        assert!(
            !decoded.payload_text.contains(personal),
            "the payload holds {personal:?}"
        );
        assert!(!token.contains(personal));
    }
    // Nor does the company's token hold anything about the patient.
    assert!(!decode(&company.token).payload_text.contains(&patient_bsn));

    mesh.stop().await;
}

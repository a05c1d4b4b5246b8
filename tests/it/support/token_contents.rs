//! Reading what the issuer wrote into a token, without verifying it.

use base64::Engine as _;

/// The decoded header and payload of a compact JWS (not verified: the test
/// only reads what the issuer wrote).
pub struct Decoded {
    pub header: serde_json::Value,
    pub payload: serde_json::Value,
    pub payload_text: String,
}

pub fn decode(token: &str) -> Decoded {
    let segments: Vec<&str> = token.split('.').collect();
    assert_eq!(segments.len(), 3, "a compact JWS has three segments");
    let text = |segment: &str| {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(segment)
            .expect("unpadded base64url");
        String::from_utf8(bytes).expect("UTF-8 JSON")
    };
    let header_text = text(segments[0]);
    let payload_text = text(segments[1]);
    Decoded {
        header: serde_json::from_str(&header_text).expect("JSON header"),
        payload: serde_json::from_str(&payload_text).expect("JSON payload"),
        payload_text,
    }
}

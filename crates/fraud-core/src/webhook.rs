//! The alert webhook's signature: what notify sends and what a receiver checks.
//!
//! Each POST carries the alert as its body, `x-fraud-timestamp: <epoch seconds>` and
//! `x-fraud-signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">` under the shared
//! secret, and `idempotency-key: <trans_num>` so a receiver can drop a repeat. Defined
//! once here for the notify function, the local webhook sink and users' receivers.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Header carrying `sha256=<hex HMAC of "<timestamp>.<body>">`.
pub const SIGNATURE_HEADER: &str = "x-fraud-signature";
/// Header carrying the signing time (epoch seconds), part of the signed text.
pub const TIMESTAMP_HEADER: &str = "x-fraud-timestamp";
/// Header the receiver can use to drop duplicate deliveries (the alert's trans_num).
pub const IDEMPOTENCY_HEADER: &str = "idempotency-key";

type HmacSha256 = Hmac<Sha256>;

fn mac(secret: &str, timestamp: u64, body: &[u8]) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// `sha256=<hex>` signature of `"<timestamp>.<body>"`.
pub fn sign(secret: &str, timestamp: u64, body: &[u8]) -> String {
    format!(
        "sha256={}",
        hex::encode(mac(secret, timestamp, body).finalize().into_bytes())
    )
}

/// Checks a signature in constant time.
pub fn verify(secret: &str, timestamp: u64, body: &[u8], signature: &str) -> bool {
    let Some(expected) = signature
        .strip_prefix("sha256=")
        .and_then(|h| hex::decode(h).ok())
    else {
        return false;
    };
    mac(secret, timestamp, body).verify_slice(&expected).is_ok()
}

/// Checks a request's headers (looked up by name) and body.
pub fn verify_headers<'a>(
    secret: &str,
    header: impl Fn(&str) -> Option<&'a str>,
    body: &[u8],
) -> bool {
    let (Some(ts), Some(sig)) = (header(TIMESTAMP_HEADER), header(SIGNATURE_HEADER)) else {
        return false;
    };
    ts.parse::<u64>()
        .is_ok_and(|ts| verify(secret, ts, body, sig))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_verifies_and_tampering_is_detected() {
        let sig = sign("k", 1700000000, b"{\"a\":1}");
        assert!(verify("k", 1700000000, b"{\"a\":1}", &sig));
        assert!(!verify("k", 1700000000, b"{\"a\":2}", &sig));
        assert!(!verify("other", 1700000000, b"{\"a\":1}", &sig));
        assert!(!verify("k", 1700000001, b"{\"a\":1}", &sig));
        assert!(!verify("k", 1700000000, b"{\"a\":1}", "sha256=zz"));
    }

    #[test]
    fn headers_without_a_numeric_timestamp_or_a_signature_do_not_verify() {
        let body = b"{}";
        let sig = sign("k", 7, body);
        let with = |ts: Option<&'static str>, s: Option<String>| {
            let s = s.map(|s| &*Box::leak(s.into_boxed_str()));
            verify_headers(
                "k",
                |name| match name {
                    TIMESTAMP_HEADER => ts,
                    SIGNATURE_HEADER => s,
                    _ => None,
                },
                body,
            )
        };
        assert!(with(Some("7"), Some(sig.clone())));
        assert!(!with(Some("seven"), Some(sig.clone())));
        assert!(!with(None, Some(sig)));
        assert!(!with(Some("7"), None));
    }
}

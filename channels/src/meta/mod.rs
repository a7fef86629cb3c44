//! What WhatsApp Cloud API and Instagram Messaging share, because both arrive on the
//! same Meta webhook (`/webhooks/meta`) and answer through the same Graph API:
//! the `hub.challenge` handshake, the `X-Hub-Signature-256` check, the webhook
//! envelope (`object`, `entry[]`, `changes[]` / `messaging[]`) and the Graph error body.
//!
//! The envelope keeps every item as raw JSON: each channel parses its items one by one,
//! so one malformed item becomes an `Ignored` event instead of losing the whole batch.

pub mod wire;

use crate::event::ParseError;
use crate::send::{SendError, SendErrorKind, parse_retry_after};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::Value;
use sha2::Sha256;
use subtle::ConstantTimeEq;

pub use wire::GraphError;

/// Why a webhook POST's signature was refused (answer 401, do not parse the body).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("X-Hub-Signature-256 header is missing")]
    Missing,
    #[error("X-Hub-Signature-256 is not `sha256=<64 hex digits>`")]
    Malformed,
    #[error("X-Hub-Signature-256 does not match the body")]
    Mismatch,
    #[error("no app secret is configured")]
    NoSecret,
}

/// Checks `X-Hub-Signature-256: sha256=<hex>`: the HMAC-SHA256 of the **raw** body
/// (exactly the bytes received, before any parsing) keyed with the app secret,
/// compared in constant time.
pub fn verify_signature(
    app_secret: &[u8],
    raw_body: &[u8],
    header: Option<&str>,
) -> Result<(), SignatureError> {
    if app_secret.is_empty() {
        return Err(SignatureError::NoSecret);
    }
    let header = header.ok_or(SignatureError::Missing)?.trim();
    let hex_digest = header
        .strip_prefix("sha256=")
        .ok_or(SignatureError::Malformed)?;
    let given = hex::decode(hex_digest).map_err(|_| SignatureError::Malformed)?;
    if given.len() != 32 {
        return Err(SignatureError::Malformed);
    }
    let mut mac =
        Hmac::<Sha256>::new_from_slice(app_secret).map_err(|_| SignatureError::NoSecret)?;
    mac.update(raw_body);
    let expected = mac.finalize().into_bytes();
    if bool::from(expected.as_slice().ct_eq(&given)) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// The signature header Meta would send for `raw_body` (for fakes and tests).
pub fn sign(app_secret: &[u8], raw_body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(app_secret).expect("HMAC takes any key length");
    mac.update(raw_body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Why the `GET` verification handshake was refused (answer 403).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ChallengeError {
    #[error("hub.mode is not `subscribe`")]
    WrongMode,
    #[error("hub.verify_token does not match")]
    WrongToken,
    #[error("hub.challenge is missing or not a plain token")]
    BadChallenge,
}

/// Longest `hub.challenge` echoed back (Meta sends a short number).
const MAX_CHALLENGE: usize = 256;

/// The `GET ?hub.mode=subscribe&hub.verify_token=…&hub.challenge=…` handshake: returns
/// the challenge to answer with (200, `text/plain`) when the token matches (constant
/// time). Only plain tokens (ASCII letters, digits, `-`, `_`, `.`) are echoed, so the
/// endpoint never reflects arbitrary content.
pub fn verify_challenge(
    mode: Option<&str>,
    token: Option<&str>,
    challenge: Option<&str>,
    expected_token: &str,
) -> Result<String, ChallengeError> {
    if mode != Some("subscribe") {
        return Err(ChallengeError::WrongMode);
    }
    let token = token.unwrap_or_default();
    if expected_token.is_empty() || !bool::from(token.as_bytes().ct_eq(expected_token.as_bytes())) {
        return Err(ChallengeError::WrongToken);
    }
    let challenge = challenge.unwrap_or_default();
    let plain = !challenge.is_empty()
        && challenge.len() <= MAX_CHALLENGE
        && challenge
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if plain {
        Ok(challenge.to_string())
    } else {
        Err(ChallengeError::BadChallenge)
    }
}

/// Which product a webhook body is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Object {
    /// `whatsapp_business_account`: WhatsApp Cloud API.
    WhatsappBusinessAccount,
    /// `instagram`: Instagram Messaging.
    Instagram,
    /// Anything else (`page` for Messenger, …): not handled by us.
    Other(String),
}

impl Object {
    fn from_name(s: &str) -> Self {
        match s {
            "whatsapp_business_account" => Object::WhatsappBusinessAccount,
            "instagram" => Object::Instagram,
            other => Object::Other(other.to_string()),
        }
    }
}

/// A Meta webhook body: `{"object": …, "entry": [...]}`.
#[derive(Clone, Debug, PartialEq)]
pub struct Envelope {
    pub object: Object,
    pub entries: Vec<Entry>,
    /// Entries that were not objects of the documented shape, with the reason: each
    /// becomes an `Ignored` event, the others are still handled.
    pub bad_entries: Vec<String>,
}

/// One `entry[]`: the account it is about, and its items.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct Entry {
    /// WhatsApp: the WhatsApp Business Account id. Instagram: the professional account id.
    #[serde(default, deserialize_with = "wire::string_or_number")]
    pub id: String,
    /// When Meta sent it (Instagram: unix ms).
    #[serde(default, deserialize_with = "wire::opt_i64")]
    pub time: Option<i64>,
    /// WhatsApp items (and Instagram test / comment notifications).
    #[serde(default, deserialize_with = "wire::lenient_vec")]
    pub changes: Vec<Change>,
    /// Instagram messaging items, kept raw.
    #[serde(default, deserialize_with = "wire::lenient_vec")]
    pub messaging: Vec<Value>,
    /// Instagram items received while another app controls the thread (handover).
    #[serde(default, deserialize_with = "wire::lenient_vec")]
    pub standby: Vec<Value>,
}

/// One `changes[]` item: `field` names the subscription, `value` is kept raw.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct Change {
    #[serde(default, deserialize_with = "wire::string_or_number")]
    pub field: String,
    #[serde(default)]
    pub value: Value,
}

#[derive(Deserialize)]
struct RawEnvelope {
    object: String,
    entry: Vec<Value>,
}

/// Parses a Meta webhook body. Unknown fields are ignored; a body that is not JSON, or
/// JSON without a string `object` and an `entry` array, is an error (the gateway keeps
/// it as a dead letter and still answers 200).
pub fn parse(raw_body: &[u8]) -> Result<Envelope, ParseError> {
    let raw: RawEnvelope = serde_json::from_slice(raw_body)
        .map_err(|e| ParseError::from_json("Meta webhook envelope", e))?;
    let mut entries = Vec::with_capacity(raw.entry.len());
    let mut bad_entries = Vec::new();
    for (i, entry) in raw.entry.into_iter().enumerate() {
        match serde_json::from_value::<Entry>(entry) {
            Ok(e) => entries.push(e),
            Err(e) => bad_entries.push(format!("entry[{i}] is not a webhook entry: {e}")),
        }
    }
    Ok(Envelope {
        object: Object::from_name(&raw.object),
        entries,
        bad_entries,
    })
}

/// Which Graph API product answered, for the parts of the error table that differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Product {
    Whatsapp,
    Instagram,
}

/// Classifies a failed Graph API call from its HTTP status, its body
/// (`{"error": {"message", "type", "code", "error_subcode", "fbtrace_id", "error_data", "is_transient"}}`)
/// and its `Retry-After` header. See `docs/channels.md` for the table.
pub(crate) fn classify(
    product: Product,
    status: u16,
    body: &[u8],
    retry_after_header: Option<&str>,
) -> SendError {
    let after = parse_retry_after(retry_after_header);
    let error = serde_json::from_slice::<wire::GraphErrorBody>(body)
        .ok()
        .map(|b| b.error);
    let Some(error) = error else {
        let kind = by_status(status, after);
        return SendError::new(
            kind,
            None,
            format!("HTTP {status} without a Graph error body"),
        );
    };
    let code = error.code;
    let subcode = error.error_subcode;
    let kind = match (product, code, subcode) {
        // The customer-service window.
        (Product::Whatsapp, Some(131047 | 470), _) => SendErrorKind::WindowClosed,
        (Product::Instagram, _, Some(2534022 | 2018278)) => SendErrorKind::WindowClosed,
        // Per-recipient pacing.
        (_, Some(131056), _) => SendErrorKind::PairLimit,
        // Rate limits of the number, the account or the app.
        (_, Some(4 | 17 | 32 | 613 | 80002 | 80004 | 80006 | 80007 | 130429 | 131048), _) => {
            SendErrorKind::SlowDown { after }
        }
        // Credentials and permissions.
        (_, Some(0 | 3 | 10 | 190 | 131005 | 131031), _) => SendErrorKind::Auth,
        (_, Some(c), _) if (200..300).contains(&c) => SendErrorKind::Auth,
        // Meta says: temporary, try again.
        (_, Some(1 | 2 | 131000 | 131016 | 131057 | 133004), _) => SendErrorKind::Retry { after },
        (_, _, _) if error.is_transient == Some(true) => SendErrorKind::Retry { after },
        // Known final errors, and any other documented code.
        (_, Some(_), _) if status < 500 && status != 429 => SendErrorKind::Permanent,
        _ => by_status(status, after),
    };
    let mut message = error.message.unwrap_or_default();
    if let Some(details) = error.error_data.and_then(|d| d.details)
        && !details.is_empty()
        && !message.contains(&details)
    {
        message = format!("{message}: {details}");
    }
    if let Some(trace) = error.fbtrace_id {
        message = format!("{message} [fbtrace_id {trace}]");
    }
    SendError {
        kind,
        code,
        subcode,
        message,
    }
}

fn by_status(status: u16, after: Option<std::time::Duration>) -> SendErrorKind {
    match status {
        429 => SendErrorKind::SlowDown { after },
        401 => SendErrorKind::Auth,
        408 | 500..=599 => SendErrorKind::Retry { after },
        _ => SendErrorKind::Permanent,
    }
}

/// Unix seconds (a string on WhatsApp) to milliseconds.
pub(crate) fn seconds_to_ms(v: Option<&Value>) -> Option<i64> {
    let secs = match v? {
        Value::String(s) => s.trim().parse::<i64>().ok()?,
        Value::Number(n) => n.as_i64()?,
        _ => return None,
    };
    secs.checked_mul(1000)
}

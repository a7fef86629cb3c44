//! Graph API wire types shared by WhatsApp and Instagram, and the lenient serde helpers
//! the webhook types use (a malformed item is skipped, not fatal).

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// `{"error": {...}}`: the body of every failed Graph API call.
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct GraphErrorBody {
    pub(crate) error: GraphError,
}

/// A Graph API error object, as documented: `message`, `type`, `code`,
/// `error_subcode`, `error_user_title`, `error_user_msg`, `fbtrace_id`, and for
/// WhatsApp `error_data.details`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct GraphError {
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub code: Option<i64>,
    #[serde(default)]
    pub error_subcode: Option<i64>,
    #[serde(default)]
    pub fbtrace_id: Option<String>,
    #[serde(default)]
    pub is_transient: Option<bool>,
    #[serde(default)]
    pub error_data: Option<ErrorData>,
}

/// WhatsApp's `error_data`: `{"messaging_product": "whatsapp", "details": "…"}`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct ErrorData {
    #[serde(default)]
    pub details: Option<String>,
}

/// A list where items that do not parse are dropped (and a non-list is empty).
pub(crate) fn lenient_vec<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    let v = Value::deserialize(d)?;
    Ok(match v {
        Value::Array(items) => items
            .into_iter()
            .filter_map(|i| serde_json::from_value(i).ok())
            .collect(),
        _ => Vec::new(),
    })
}

/// An id Meta documents as a string but some payloads send as a number.
pub(crate) fn string_or_number<'de, D>(d: D) -> Result<String, D::Error>
where
    D: Deserializer<'de>,
{
    Ok(match Value::deserialize(d)? {
        Value::String(s) => s,
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    })
}

/// Like [`string_or_number`], absent or null as `None`.
pub(crate) fn opt_string_or_number<'de, D>(d: D) -> Result<Option<String>, D::Error>
where
    D: Deserializer<'de>,
{
    Ok(match Value::deserialize(d)? {
        Value::String(s) => Some(s),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    })
}

/// A number that may come as a string; anything else is `None`.
pub(crate) fn opt_i64<'de, D>(d: D) -> Result<Option<i64>, D::Error>
where
    D: Deserializer<'de>,
{
    Ok(match Value::deserialize(d)? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    })
}

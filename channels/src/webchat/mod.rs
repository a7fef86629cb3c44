//! The web chat channel: a versioned JSON-over-WebSocket protocol (see
//! `docs/webchat-protocol.md`), its parsing and limits, normalisation into [`Inbound`],
//! and the embeddable widget script served by the gateway.

use crate::model::{Button, Channel, Contact, Content, Inbound, OutContent, Referral};
use serde::{Deserialize, Serialize};

/// The protocol version this server speaks; a `hello` with another `v` is refused.
pub const PROTOCOL_VERSION: u32 = 1;
/// The largest client frame accepted, in bytes.
pub const MAX_FRAME_BYTES: usize = 16 * 1024;
/// The longest customer message accepted, in characters.
pub const MAX_TEXT_CHARS: usize = 4_000;
/// Longest session and client message ids accepted.
pub const MAX_ID_CHARS: usize = 100;

/// The widget script, served at `/webchat.js`.
pub const WIDGET_JS: &str = include_str!("webchat.js");

/// UTM and click ids the widget read from the page URL (first touch attribution).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PageReferral {
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub utm_source: Option<String>,
    #[serde(default)]
    pub utm_medium: Option<String>,
    #[serde(default)]
    pub utm_campaign: Option<String>,
    #[serde(default)]
    pub gclid: Option<String>,
}

/// A frame the browser sends.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientFrame {
    /// First frame on a socket. `session` resumes a conversation; `last_seen` is the
    /// highest message `seq` the client already shows (history after it is replayed).
    Hello {
        v: u32,
        #[serde(default)]
        session: Option<String>,
        #[serde(default)]
        last_seen: Option<i64>,
        #[serde(default)]
        name: Option<String>,
        #[serde(default)]
        referral: Option<PageReferral>,
    },
    /// A customer message; `id` is chosen by the client and makes resends idempotent.
    Message {
        id: String,
        text: String,
    },
    /// A tap on a button the bot offered.
    Postback {
        id: String,
        button: String,
        title: String,
    },
    Ping,
}

/// Who wrote a message shown in the widget.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sender {
    Customer,
    Bot,
    Agent,
}

/// A frame the server sends.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    Welcome {
        v: u32,
        session: String,
        tenant_name: String,
    },
    /// The client message `id` is stored; `duplicate` when it had been stored before.
    Ack {
        id: String,
        duplicate: bool,
    },
    Message {
        seq: i64,
        from: Sender,
        text: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        buttons: Vec<Button>,
        /// RFC 3339 time the message was stored.
        at: String,
        /// The client id of a customer message, so the widget can match its own echo.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_id: Option<String>,
    },
    Error {
        code: ErrorCode,
        message: String,
    },
    Pong,
}

/// Machine-readable reasons a frame was refused; the socket stays open unless noted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Not JSON, or not a frame of this protocol.
    Malformed,
    /// Over [`MAX_FRAME_BYTES`] or [`MAX_TEXT_CHARS`].
    TooLarge,
    /// `hello` named a version we do not speak (the socket is closed).
    UnsupportedVersion,
    /// A message before `hello`, or a second `hello`.
    OutOfOrder,
    /// A message with no text after cleaning, or a bad id.
    Invalid,
    /// Sending too fast.
    RateLimited,
    /// The tenant does not exist or has no web chat (the socket is closed).
    UnknownTenant,
    /// Something failed on our side; the message was not stored and may be resent.
    Unavailable,
}

/// Why a client frame was refused, with the text shown to the developer of a client.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct FrameError {
    pub code: ErrorCode,
    pub message: String,
}

impl FrameError {
    fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    pub fn to_frame(&self) -> ServerFrame {
        ServerFrame::Error {
            code: self.code,
            message: self.message.clone(),
        }
    }
}

/// Parses and checks one text frame from a browser.
pub fn parse_client_frame(raw: &str) -> Result<ClientFrame, FrameError> {
    if raw.len() > MAX_FRAME_BYTES {
        return Err(FrameError::new(
            ErrorCode::TooLarge,
            format!(
                "frame is {} bytes; the limit is {MAX_FRAME_BYTES}",
                raw.len()
            ),
        ));
    }
    let frame: ClientFrame = serde_json::from_str(raw)
        .map_err(|e| FrameError::new(ErrorCode::Malformed, format!("not a web chat frame: {e}")))?;
    match &frame {
        ClientFrame::Hello {
            session,
            name,
            referral,
            ..
        } => {
            if let Some(s) = session {
                check_id("session", s)?;
            }
            if let Some(name) = name {
                check_label("name", name, MAX_ID_CHARS)?;
            }
            if let Some(r) = referral {
                let fields = [
                    ("referral.url", &r.url),
                    ("referral.utm_source", &r.utm_source),
                    ("referral.utm_medium", &r.utm_medium),
                    ("referral.utm_campaign", &r.utm_campaign),
                    ("referral.gclid", &r.gclid),
                ];
                for (field, value) in fields {
                    if let Some(value) = value {
                        check_label(field, value, MAX_REFERRAL_CHARS)?;
                    }
                }
            }
        }
        ClientFrame::Message { id, text } => {
            check_id("id", id)?;
            check_text(text)?;
        }
        ClientFrame::Postback { id, button, title } => {
            check_id("id", id)?;
            check_id("button", button)?;
            check_text(title)?;
        }
        ClientFrame::Ping => {
            // serde lets a unit variant carry extra fields; the other frames refuse them.
            let fields = serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(raw)
                .map(|m| m.len())
                .unwrap_or(0);
            if fields > 1 {
                return Err(FrameError::new(
                    ErrorCode::Malformed,
                    "not a web chat frame: ping has no fields besides `type`",
                ));
            }
        }
    }
    Ok(frame)
}

/// Longest referral value accepted (a landing page URL with its query string).
const MAX_REFERRAL_CHARS: usize = 2_000;

/// Free text that is not a message (a display name, a referral value): bounded, and
/// without control characters (a NUL byte, for one, cannot be stored in PostgreSQL).
fn check_label(field: &str, value: &str, max: usize) -> Result<(), FrameError> {
    if value.chars().count() > max || value.chars().any(char::is_control) {
        return Err(FrameError::new(
            ErrorCode::Invalid,
            format!("{field} must be at most {max} characters, without control characters"),
        ));
    }
    Ok(())
}

fn check_id(field: &str, id: &str) -> Result<(), FrameError> {
    let ok = !id.is_empty()
        && id.chars().count() <= MAX_ID_CHARS
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'));
    if ok {
        Ok(())
    } else {
        Err(FrameError::new(
            ErrorCode::Invalid,
            format!("{field} must be 1-{MAX_ID_CHARS} characters of A-Z a-z 0-9 - _ . :"),
        ))
    }
}

fn check_text(text: &str) -> Result<(), FrameError> {
    let n = text.chars().count();
    if n > MAX_TEXT_CHARS {
        return Err(FrameError::new(
            ErrorCode::TooLarge,
            format!("message is {n} characters; the limit is {MAX_TEXT_CHARS}"),
        ));
    }
    if text.chars().all(|c| c.is_whitespace() || is_invisible(c)) {
        return Err(FrameError::new(
            ErrorCode::Invalid,
            "message has no visible text",
        ));
    }
    // Line breaks and tabs are text; other control characters (NUL above all, which
    // PostgreSQL cannot store) would make the message unstorable, so refuse them here.
    if text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(FrameError::new(
            ErrorCode::Invalid,
            "message contains control characters",
        ));
    }
    Ok(())
}

/// Zero-width, bidi-control and other invisible format characters.
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}' | '\u{00AD}')
}

impl Sender {
    /// How a stored message's sender shows in the widget.
    pub fn for_sender(sender: &str) -> Sender {
        match sender {
            "customer" => Sender::Customer,
            "agent" => Sender::Agent,
            _ => Sender::Bot,
        }
    }
}

/// Turns a customer frame into the normalised model. `Hello` and `Ping` carry no message.
pub fn normalize(
    tenant: &str,
    session: &str,
    name: Option<&str>,
    referral: Option<&PageReferral>,
    frame: &ClientFrame,
) -> Option<Inbound> {
    let (provider_id, content) = match frame {
        ClientFrame::Message { id, text } => (id.clone(), Content::Text { body: text.clone() }),
        ClientFrame::Postback { id, button, title } => (
            id.clone(),
            Content::Interactive {
                id: button.clone(),
                title: title.clone(),
            },
        ),
        ClientFrame::Hello { .. } | ClientFrame::Ping => return None,
    };
    // Blank values count as absent; a referral is kept only when it names a campaign
    // (some UTM tag or a gclid): a bare page URL says nothing about attribution.
    let present = |v: &Option<String>| v.as_ref().filter(|v| !v.trim().is_empty()).cloned();
    let referral = referral
        .map(|r| Referral {
            source_type: Some("web".into()),
            source_url: present(&r.url),
            utm_source: present(&r.utm_source),
            utm_medium: present(&r.utm_medium),
            utm_campaign: present(&r.utm_campaign),
            gclid: present(&r.gclid),
            ..Referral::default()
        })
        .filter(|r| {
            r.utm_source.is_some()
                || r.utm_medium.is_some()
                || r.utm_campaign.is_some()
                || r.gclid.is_some()
        });
    Some(Inbound {
        tenant: tenant.to_string(),
        channel: Channel::Webchat,
        contact: Contact {
            handle: session.to_string(),
            name: name.map(str::to_string),
            phone: None,
        },
        content,
        referral,
        provider_id: format!("{session}:{provider_id}"),
        sent_at_ms: None,
        reply_to: None,
        details: Default::default(),
    })
}

/// Renders a bot or agent message for the widget.
pub fn render(seq: i64, from: Sender, content: &OutContent, at: String) -> ServerFrame {
    let (text, buttons) = match content {
        OutContent::Text { body } => (body.clone(), Vec::new()),
        OutContent::Buttons { body, buttons } => (body.clone(), buttons.clone()),
        OutContent::Template { name, params, .. } => (
            format!("{name} {}", params.join(" ")).trim().to_string(),
            Vec::new(),
        ),
        OutContent::Media { caption, url, .. } => (
            match caption {
                Some(c) if !c.trim().is_empty() => format!("{c}\n{url}"),
                _ => url.clone(),
            },
            Vec::new(),
        ),
    };
    ServerFrame::Message {
        seq,
        from,
        text,
        buttons,
        at,
        client_id: None,
    }
}

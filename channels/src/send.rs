//! The channel-neutral outcome of a send call: what went wrong and what the sender
//! should do about it ([`SendErrorKind`]), and why an [`OutContent`](crate::OutContent)
//! could not be rendered for a channel ([`RenderError`]). Shared by every adapter.

use std::time::Duration;

/// What the outbox worker should do after a failed send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendErrorKind {
    /// A transient failure (5xx, a provider "try again" code): retry this message with
    /// backoff and jitter, not before `after` when given.
    Retry { after: Option<Duration> },
    /// The sender is over the provider's rate (WhatsApp 130429, Graph 4/80007, Telegram
    /// 429): slow the whole phone number / account / bot down, then retry this message.
    SlowDown { after: Option<Duration> },
    /// Too many messages to this one customer (WhatsApp 131056): retry this message
    /// later; other customers are not affected.
    PairLimit,
    /// The customer-service window is closed (WhatsApp 131047, Instagram subcode
    /// 2534022): never retry free-form; the flow's template fallback applies.
    WindowClosed,
    /// Our credentials or permissions are wrong (token expired, 190): every message of
    /// this account will fail the same way. Keep the message queued, alert, stop sending
    /// for the account until the configuration is fixed.
    Auth,
    /// The provider refused this message for good (invalid recipient, blocked bot,
    /// bad parameter): record the error on the message, do not retry.
    Permanent,
}

/// A failed send, classified.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message} (code {code:?}, {kind:?})")]
pub struct SendError {
    pub kind: SendErrorKind,
    /// The provider's error code (Graph `error.code`, Telegram `error_code`).
    pub code: Option<i64>,
    /// Graph `error.error_subcode`.
    pub subcode: Option<i64>,
    /// The provider's message, for the log and the stored message (never shown to a
    /// customer).
    pub message: String,
}

impl SendError {
    pub(crate) fn new(kind: SendErrorKind, code: Option<i64>, message: impl Into<String>) -> Self {
        SendError {
            kind,
            code,
            subcode: None,
            message: message.into(),
        }
    }

    /// Whether the message must not be sent again as it is.
    pub fn is_final(&self) -> bool {
        matches!(
            self.kind,
            SendErrorKind::WindowClosed | SendErrorKind::Permanent
        )
    }

    /// The earliest moment to try again that the provider asked for.
    pub fn retry_after(&self) -> Option<Duration> {
        match self.kind {
            SendErrorKind::Retry { after } | SendErrorKind::SlowDown { after } => after,
            _ => None,
        }
    }
}

/// Why an outbound message cannot be rendered for a channel. The message can never be
/// sent as it is: the outbox records it as failed for good.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    #[error("{what} is {len} characters; {channel} allows {max}")]
    TooLong {
        channel: &'static str,
        what: &'static str,
        len: usize,
        max: usize,
    },
    #[error("{got} buttons; {channel} allows at most {max}")]
    TooManyButtons {
        channel: &'static str,
        got: usize,
        max: usize,
    },
    #[error("button id {id:?} is not valid on {channel}: {reason}")]
    InvalidButtonId {
        channel: &'static str,
        id: String,
        reason: &'static str,
    },
    #[error("{channel} cannot send {what}")]
    Unsupported {
        channel: &'static str,
        what: &'static str,
    },
    #[error("{what} is empty")]
    Empty { what: &'static str },
}

/// Cuts `s` to at most `max` characters, ending with `…` when it had to cut.
pub(crate) fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Checks a text against a provider limit counted in characters.
pub(crate) fn check_len(
    channel: &'static str,
    what: &'static str,
    s: &str,
    max: usize,
) -> Result<(), RenderError> {
    if s.trim().is_empty() {
        return Err(RenderError::Empty { what });
    }
    let len = s.chars().count();
    if len > max {
        return Err(RenderError::TooLong {
            channel,
            what,
            len,
            max,
        });
    }
    Ok(())
}

/// Reads a `Retry-After` header given in seconds (the form Meta and Telegram use).
pub fn parse_retry_after(header: Option<&str>) -> Option<Duration> {
    let secs: u64 = header?.trim().parse().ok()?;
    Some(Duration::from_secs(secs.min(24 * 3600)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cut_counts_characters_not_bytes() {
        assert_eq!(cut("Randevu al", 20), "Randevu al");
        assert_eq!(cut("Çağrı merkezine bağlanın", 20), "Çağrı merkezine bağ…");
        assert_eq!(cut("Çağrı merkezine bağlanın", 20).chars().count(), 20);
    }

    #[test]
    fn retry_after_reads_seconds_only() {
        assert_eq!(
            parse_retry_after(Some(" 30 ")),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after(Some("Wed, 21 Oct 2015 07:28:00 GMT")),
            None
        );
        assert_eq!(parse_retry_after(None), None);
    }
}

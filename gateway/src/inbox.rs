//! The front door of every channel: a normalised [`Inbound`] is deduplicated, stored in
//! the inbox (before anyone is told it arrived) and the workers are woken.

use crate::metrics as m;
use crate::runtime::Runtime;
use channels::Inbound;
use std::time::Duration;
use store::{Notice, StoreError};

/// How long the hot dedupe cache remembers a provider id (Meta retries for 7 days;
/// the SQL unique key is the real guard, this only saves a write).
const DEDUPE_TTL: Duration = Duration::from_secs(24 * 3600);

/// The outcome of [`ingest`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ingested {
    pub duplicate: bool,
    /// The conversation; `None` when the hot cache alone recognised a duplicate.
    pub conversation: Option<i64>,
}

fn dedupe_key(inbound: &Inbound) -> String {
    format!(
        "dedupe:{}:{}:{}",
        inbound.tenant, inbound.channel, inbound.provider_id
    )
}

/// Stores a customer message once. Returns only after the message is durable. Its time
/// is the runtime's clock (the one the flows see), so a conversation test's `wait` turns
/// measure the 24-hour window from the test's own clock, not from the real time.
pub async fn ingest(rt: &Runtime, inbound: &Inbound) -> Result<Ingested, StoreError> {
    let key = dedupe_key(inbound);
    // A hot-cache failure (Redis down) must not refuse the message: fall through to
    // the SQL unique key.
    if rt.hot.seen(&key).await.unwrap_or(false) {
        m::message_in(&inbound.tenant, inbound.channel.as_str(), true);
        return Ok(Ingested {
            duplicate: true,
            conversation: None,
        });
    }
    let accepted = rt.store.accept_inbound(inbound, rt.clock.now()).await?;
    let _ = rt.hot.remember(&key, DEDUPE_TTL).await;
    m::message_in(
        &inbound.tenant,
        inbound.channel.as_str(),
        accepted.duplicate,
    );
    if !accepted.duplicate {
        let _ = rt.hot.publish(&Notice::Inbox).await;
        wake_conversation(rt, &inbound.tenant, accepted.conversation).await;
    }
    Ok(Ingested {
        duplicate: accepted.duplicate,
        conversation: Some(accepted.conversation),
    })
}

/// Tells the sockets showing a conversation (in every replica) that it has new or changed
/// messages. Best effort: sockets also poll.
pub async fn wake_conversation(rt: &Runtime, tenant: &str, conversation: i64) {
    let _ = rt
        .hot
        .publish(&Notice::Messages {
            tenant: tenant.to_string(),
            conversation,
        })
        .await;
}

//! `kopru chat --tenant ID`: a customer's conversation in the terminal, through the
//! same inbox, engine, outbox and store as the server. Scriptable: when standard input
//! is not a terminal it reads one message a line and prints the bot's replies.

use crate::inbox::ingest;
use crate::runtime::Runtime;
use channels::{Channel, Contact, Content, Inbound, OutContent};
use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};
use store::{Direction, MessageStatus};
use tokio::io::AsyncBufReadExt;

/// How long to wait for the bot to finish answering one message.
const REPLY_TIMEOUT: Duration = Duration::from_secs(15);

pub async fn run(rt: Arc<Runtime>, tenant: &str, session: Option<String>) -> anyhow::Result<()> {
    let t = rt.tenant(tenant).cloned().ok_or_else(|| {
        let mut known: Vec<_> = rt.tenants.keys().cloned().collect();
        known.sort();
        anyhow::anyhow!("unknown tenant {tenant:?} (known: {})", known.join(", "))
    })?;
    let handle = session.unwrap_or_else(|| format!("terminal-{}", uuid::Uuid::new_v4().simple()));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let workers = crate::workers::spawn_all(&rt, &stop_rx);
    let interactive = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    if interactive {
        println!(
            "{} ile sohbet (oturum {handle}). Çıkmak için Ctrl-D.",
            t.config.name
        );
    }
    let mut cursor = match rt
        .store
        .find_conversation(tenant, Channel::Webchat, &handle)
        .await?
    {
        Some(c) => rt
            .store
            .messages(tenant, c.id, 0, 10_000)
            .await?
            .last()
            .map(|m| m.seq)
            .unwrap_or(0),
        None => 0,
    };
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    let mut n = 0u64;
    loop {
        if interactive {
            print!("siz> ");
            let _ = std::io::stdout().flush();
        }
        let Some(line) = lines.next_line().await? else {
            break;
        };
        let text = line.trim();
        if text.is_empty() {
            continue;
        }
        n += 1;
        let inbound = Inbound {
            tenant: tenant.to_string(),
            channel: Channel::Webchat,
            contact: Contact {
                handle: handle.clone(),
                name: Some("terminal".into()),
                phone: None,
            },
            content: Content::Text {
                body: text.to_string(),
            },
            referral: None,
            provider_id: format!("{handle}:{n}-{}", uuid::Uuid::new_v4().simple()),
            sent_at_ms: None,
            reply_to: None,
            details: Default::default(),
        };
        let done = ingest(&rt, &inbound).await?;
        let conversation = done
            .conversation
            .ok_or_else(|| anyhow::anyhow!("message was not stored"))?;
        for reply in wait_for_replies(&rt, tenant, conversation, &mut cursor).await? {
            print_reply(&reply, interactive);
        }
    }
    let _ = stop_tx.send(true);
    let _ = tokio::time::timeout(
        Duration::from_secs(5),
        futures_util::future::join_all(workers),
    )
    .await;
    Ok(())
}

/// Waits until the conversation has no pending events and no undelivered replies,
/// then returns the replies after `cursor` and moves it.
async fn wait_for_replies(
    rt: &Runtime,
    tenant: &str,
    conversation: i64,
    cursor: &mut i64,
) -> anyhow::Result<Vec<OutContent>> {
    let started = Instant::now();
    loop {
        let pending = rt.store.pending_inbox(conversation, 1).await?;
        let msgs = rt
            .store
            .messages(tenant, conversation, *cursor, 500)
            .await?;
        let queued = msgs
            .iter()
            .any(|m| m.direction == Direction::Out && m.status == MessageStatus::Queued);
        if (pending.is_empty() && !queued) || started.elapsed() > REPLY_TIMEOUT {
            if let Some(last) = msgs.last() {
                *cursor = last.seq;
            }
            return Ok(msgs
                .into_iter()
                .filter(|m| m.direction == Direction::Out && m.status != MessageStatus::Queued)
                .filter_map(|m| serde_json::from_value(m.content).ok())
                .collect());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn print_reply(reply: &OutContent, interactive: bool) {
    let prefix = if interactive { "bot> " } else { "" };
    println!("{prefix}{}", reply.body());
    if let OutContent::Buttons { buttons, .. } = reply {
        for b in buttons {
            println!("  [{}]", b.title);
        }
    }
}

//! Nothing lost, nothing twice: a crash mid-conversation, two replicas sharing one
//! conversation, and Redis going away for ten seconds in production mode.

use crate::harness::*;
use serde_json::Value;
use std::time::Duration;

const SHOP_KEY: &str = "test-key-shop";

/// The messages of the conversation of `session`, through the admin API.
async fn transcript(server: &Server, key: &str, session: &str) -> anyhow::Result<Vec<Value>> {
    let (_, list) = server
        .api("/api/v1/conversations?limit=500", Some(key))
        .await?;
    let id = list["conversations"]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["contact"]["handle"] == session))
        .and_then(|c| c["id"].as_i64())
        .ok_or_else(|| anyhow::anyhow!("conversation of {session} not listed: {list}"))?;
    let (_, d) = server
        .api(
            &format!("/api/v1/conversations/{id}/messages?limit=500"),
            Some(key),
        )
        .await?;
    Ok(d["messages"].as_array().cloned().unwrap_or_default())
}

/// Waits until the transcript has `bots` bot messages, all delivered.
async fn wait_for_bot_replies(
    server: &Server,
    key: &str,
    session: &str,
    bots: usize,
) -> anyhow::Result<Vec<Value>> {
    for _ in 0..150 {
        let t = transcript(server, key, session).await.unwrap_or_default();
        let delivered = t
            .iter()
            .filter(|m| m["sender"] == "bot" && m["status"] == "sent")
            .count();
        if delivered >= bots {
            return Ok(t);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let t = transcript(server, key, session).await?;
    anyhow::bail!("expected {bots} delivered bot replies, transcript: {t:#?}")
}

/// Each customer message is followed by exactly one bot reply: answered once, in order.
fn assert_one_reply_each(t: &[Value]) {
    let senders: Vec<&str> = t
        .iter()
        .map(|m| m["sender"].as_str().unwrap_or("?"))
        .collect();
    let customers = senders.iter().filter(|s| **s == "customer").count();
    let bots = senders.iter().filter(|s| **s == "bot").count();
    assert_eq!(customers, bots, "one reply per message: {senders:?}");
    // Replies may trail their questions when several arrive at once, but a reply never
    // comes before its question and none is repeated.
    let mut balance = 0i32;
    for s in &senders {
        balance += if *s == "customer" { 1 } else { -1 };
        assert!(balance >= 0, "a reply before its question: {senders:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_server_restarts_with_history_and_state_and_answers_each_message_once()
-> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let opts = ServerOptions::new(Stores::Embedded, dir.path());
    let mut server = Server::start(&opts)?;
    let mut chat = Chat::connect(&server.ws_url("demo-shop"), None, 0).await?;
    chat.ask("merhaba").await?;
    let session = chat.session.clone();

    // Five messages, then a crash right after their acknowledgements.
    let texts = [
        "kaça kadar açıksınız",
        "adresiniz neresi",
        "taksit var mı",
        "pazar açık mısınız",
        "tşk",
    ];
    for t in texts {
        chat.say(t).await?;
    }
    let mut acks = 0;
    while acks < texts.len() {
        let f = chat.frame(Duration::from_secs(10)).await?;
        if f["type"] == "ack" {
            acks += 1;
        }
    }
    server.kill();

    let server = Server::start(&opts)?;
    let t = wait_for_bot_replies(&server, SHOP_KEY, &session, 6).await?;
    assert_one_reply_each(&t);
    assert_eq!(t.len(), 12);

    // The widget reconnects with what it had seen: it gets the rest, and the state
    // (greeted already) survived.
    let mut again =
        Chat::connect(&server.ws_url("demo-shop"), Some(&session), chat.last_seen).await?;
    let rest = again.drain(Duration::from_millis(800)).await;
    let mut seqs: Vec<i64> = rest.iter().filter_map(|f| f["seq"].as_i64()).collect();
    let n = seqs.len();
    seqs.dedup();
    assert_eq!(n, seqs.len(), "no message shown twice");
    let conv_state = {
        let (_, list) = server.api("/api/v1/conversations", Some(SHOP_KEY)).await?;
        let id = list["conversations"][0]["id"].as_i64().unwrap();
        server
            .api(&format!("/api/v1/conversations/{id}"), Some(SHOP_KEY))
            .await?
            .1
    };
    assert_eq!(conv_state["conversation"]["state"]["greeted"], true);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_answer_one_conversation_in_order_once() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let prod = ProductionStores::start()?;
    let a = Server::start(&ServerOptions::new(prod.stores(), &dir.path().join("a")))?;
    let b = Server::start(&ServerOptions::new(prod.stores(), &dir.path().join("b")))?;
    let mut on_a = Chat::connect(&a.ws_url("demo-shop"), None, 0).await?;
    let session = on_a.session.clone();
    let mut on_b = Chat::connect(&b.ws_url("demo-shop"), Some(&session), 0).await?;

    let questions = [
        "merhaba",
        "kaça kadar açıksınız",
        "adresiniz neresi",
        "kapıda ödeme var mı",
        "teşekkürler",
        "pazar günü açık mısınız",
    ];
    for (i, q) in questions.iter().enumerate() {
        if i % 2 == 0 {
            on_a.say(q).await?;
        } else {
            on_b.say(q).await?;
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    let t = wait_for_bot_replies(&a, SHOP_KEY, &session, questions.len()).await?;
    assert_one_reply_each(&t);

    // Both sockets show the same messages, each once, in seq order.
    for chat in [&mut on_a, &mut on_b] {
        let frames = chat.drain(Duration::from_millis(1500)).await;
        let seqs: Vec<i64> = frames
            .iter()
            .filter(|f| f["type"] == "message")
            .filter_map(|f| f["seq"].as_i64())
            .collect();
        let mut sorted = seqs.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(seqs, sorted, "in order, once");
        assert_eq!(seqs.len(), questions.len() * 2);
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_for_ten_seconds_loses_nothing_and_sends_nothing_twice() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut prod = ProductionStores::start()?;
    let server = Server::start(&ServerOptions::new(prod.stores(), dir.path()))?;
    let mut chat = Chat::connect(&server.ws_url("demo-shop"), None, 0).await?;
    chat.ask("merhaba").await?;
    let session = chat.session.clone();

    prod.redis.stop();
    let (status, _) = server.api("/readyz", None).await?;
    assert_eq!(status, 503, "readiness reports Redis down");
    // Messages during the outage are stored and acknowledged.
    for q in ["kaça kadar açıksınız", "adresiniz neresi", "taksit var mı"] {
        chat.say(q).await?;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    tokio::time::sleep(Duration::from_secs(10)).await;
    prod.redis.restart()?;
    chat.say("teşekkürler").await?;

    let t = wait_for_bot_replies(&server, SHOP_KEY, &session, 5).await?;
    assert_one_reply_each(&t);
    assert_eq!(t.len(), 10, "{t:#?}");
    let frames = chat.drain(Duration::from_millis(1500)).await;
    let acks = frames.iter().filter(|f| f["type"] == "ack").count();
    assert!(acks <= 4);
    for _ in 0..50 {
        if server.api("/readyz", None).await?.0 == 200 {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!("readiness did not recover after Redis came back")
}

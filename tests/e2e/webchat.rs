//! A web chat conversation over a real WebSocket: greeting, business hours, handoff
//! (then silence), release by an agent — on SQLite and on PostgreSQL + Redis.

use crate::harness::*;
use serde_json::Value;
use std::time::Duration;

const DENTAL_KEY: &str = "test-key-dental";

async fn conversation_with_handoff(server: &Server) -> anyhow::Result<()> {
    let mut chat = Chat::connect(&server.ws_url("demo-dental"), None, 0).await?;

    let greeting = chat.ask("Merhaba").await?;
    assert!(
        greeting.contains("Demo Diş Kliniği"),
        "greeting names the clinic: {greeting}"
    );

    let hours = chat.ask("kaça kadar açıksınız").await?;
    assert!(
        hours.contains("09:00") && hours.contains("19:00"),
        "hours of the demo clinic: {hours}"
    );

    // Typed without Turkish letters, shouting: still understood.
    let hours2 = chat.ask("KACA KADAR ACIKSINIZ").await?;
    assert!(hours2.contains("09:00"), "{hours2}");

    let handoff = chat.ask("temsilciyle görüşmek istiyorum").await?;
    assert!(!handoff.is_empty());

    // The bot is silent now: the customer's message is stored (echoed) but unanswered.
    chat.say("hala orada mısınız?").await?;
    let after = chat.drain(Duration::from_millis(1500)).await;
    assert!(
        after
            .iter()
            .all(|f| f["type"] != "message" || f["from"] == "customer"),
        "bot stayed silent after handoff: {after:?}"
    );

    // The admin API shows the conversation in handoff, with every message.
    let (status, list) = server
        .api("/api/v1/conversations", Some(DENTAL_KEY))
        .await?;
    assert_eq!(status, 200);
    let conv = list["conversations"]
        .as_array()
        .and_then(|a| {
            a.iter()
                .find(|c| c["contact"]["handle"] == chat.session.as_str())
        })
        .cloned()
        .expect("conversation listed");
    assert_eq!(conv["handoff"], true);
    let id = conv["id"].as_i64().unwrap();
    let (status, detail) = server
        .api(&format!("/api/v1/conversations/{id}"), Some(DENTAL_KEY))
        .await?;
    assert_eq!(status, 200);
    let msgs = detail["messages"].as_array().unwrap();
    let customer = msgs.iter().filter(|m| m["sender"] == "customer").count();
    let bot = msgs.iter().filter(|m| m["sender"] == "bot").count();
    assert_eq!((customer, bot), (5, 4), "{msgs:#?}");
    let first: &Value = &msgs[0];
    assert_eq!(
        first["meta"]["intent"], "greeting",
        "the inbound message carries what the NLU understood"
    );

    // An agent releases it: the bot answers again.
    let (status, _) = server
        .post(
            &format!("/api/v1/conversations/{id}/release"),
            Some(DENTAL_KEY),
        )
        .await?;
    assert_eq!(status, 202);
    let mut back = String::new();
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let (_, d) = server
            .api(&format!("/api/v1/conversations/{id}"), Some(DENTAL_KEY))
            .await?;
        if d["conversation"]["handoff"] == false {
            back = chat.ask("adresiniz neresi").await?;
            break;
        }
    }
    assert!(back.contains("Valikonağı"), "address after release: {back}");
    chat.close().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webchat_conversation_on_sqlite() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let server = Server::start(&ServerOptions::new(Stores::Embedded, dir.path()))?;
    conversation_with_handoff(&server).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webchat_conversation_on_postgres_and_redis() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let prod = ProductionStores::start()?;
    let server = Server::start(&ServerOptions::new(prod.stores(), dir.path()))?;
    let (status, ready) = server.api("/readyz", None).await?;
    assert_eq!(status, 200, "{ready}");
    assert_eq!(ready["store"]["backend"], "postgres");
    assert_eq!(ready["hot"]["backend"], "redis");
    conversation_with_handoff(&server).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_is_replayed_to_a_reconnecting_widget_and_resends_are_idempotent()
-> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let server = Server::start(&ServerOptions::new(Stores::Embedded, dir.path()))?;
    let mut chat = Chat::connect(&server.ws_url("demo-shop"), None, 0).await?;
    chat.say_with_id("c-1", "slm").await?;
    let ack = chat.frame(Duration::from_secs(10)).await?;
    assert_eq!(
        (ack["type"].as_str(), ack["duplicate"].as_bool()),
        (Some("ack"), Some(false))
    );
    chat.reply(Duration::from_secs(10)).await?;
    let session = chat.session.clone();
    chat.close().await;

    // A page reload: the same session, nothing seen yet → the whole history, in order.
    let mut again = Chat::connect(&server.ws_url("demo-shop"), Some(&session), 0).await?;
    let replay = again.drain(Duration::from_millis(800)).await;
    let froms: Vec<_> = replay
        .iter()
        .map(|f| f["from"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(froms, ["customer", "bot"], "{replay:?}");
    assert_eq!(replay[0]["client_id"], "c-1");

    // The widget resends an unacknowledged message with the same id: stored once.
    again.say_with_id("c-1", "slm").await?;
    let ack = again.frame(Duration::from_secs(10)).await?;
    assert_eq!(ack["duplicate"], true, "{ack}");
    let more = again.drain(Duration::from_millis(800)).await;
    assert!(
        more.iter().all(|f| f["type"] != "message"),
        "no second answer: {more:?}"
    );
    Ok(())
}

//! The dental price pipeline against the real server: a price question over web chat
//! (on SQLite and on PostgreSQL + Redis) and over WhatsApp, answered from the demo
//! clinic's price list, an examination booked from the offered buttons, the lead and
//! the appointment visible through the admin API; held slots are not offered twice.

use crate::channels::{APP_SECRET, UPSTREAM_TOKEN, WA_NUMBER, channel_env, post_meta, wa_body};
use crate::fakes::{Fake, meta_signature};
use crate::harness::*;
use serde_json::{Value, json};
use std::time::Duration;

const DENTAL_KEY: &str = "test-key-dental";
const WAIT: Duration = Duration::from_secs(15);

/// Bot messages until one has buttons; returns (all texts joined, that message).
async fn until_buttons(chat: &mut Chat) -> anyhow::Result<(String, Value)> {
    let mut texts = Vec::new();
    loop {
        let m = chat.reply(WAIT).await?;
        texts.push(m["text"].as_str().unwrap_or_default().to_string());
        if m["buttons"].as_array().is_some_and(|b| !b.is_empty()) {
            return Ok((texts.join("\n"), m));
        }
    }
}

/// Taps a button of a bot message (a `postback` frame).
async fn tap(chat: &mut Chat, button: &Value) -> anyhow::Result<()> {
    let frame = json!({
        "type": "postback",
        "id": format!("p-{}", uuid::Uuid::new_v4().simple()),
        "button": button["id"],
        "title": button["title"],
    });
    chat.send_raw(frame.to_string()).await
}

/// The lead whose handles include `handle`, once it has reached `stage`.
async fn lead_of(server: &Server, handle: &str, stage: &str) -> anyhow::Result<Value> {
    let mut last = Value::Null;
    for _ in 0..100 {
        let (status, body) = server.api("/api/v1/leads", Some(DENTAL_KEY)).await?;
        anyhow::ensure!(status == 200, "leads: {status} {body}");
        if let Some(l) = body["leads"].as_array().and_then(|a| {
            a.iter().find(|l| {
                l["handles"]
                    .as_array()
                    .is_some_and(|h| h.iter().any(|x| x == handle))
            })
        }) {
            last = l.clone();
            if l["stage"] == stage {
                return Ok(last);
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!("no lead of {handle} in stage {stage}; last seen: {last}")
}

async fn price_to_booking(server: &Server) -> anyhow::Result<()> {
    let mut chat = Chat::connect(&server.ws_url("demo-dental"), None, 0).await?;
    chat.say("2 dişe implant ne kadar").await?;
    let (text, ask) = until_buttons(&mut chat).await?;
    assert!(
        text.contains("hangi seçeneği"),
        "asks only the material: {text}"
    );
    let kore = ask["buttons"][0].clone();
    assert!(kore["title"].as_str().unwrap().starts_with("Kore"), "{ask}");

    tap(&mut chat, &kore).await?;
    let (text, offer) = until_buttons(&mut chat).await?;
    assert!(
        text.contains("36.000 TL – 50.000 TL"),
        "two teeth priced: {text}"
    );
    assert!(
        text.contains("Kesin fiyat muayene sonrası belirlenir."),
        "{text}"
    );
    let slots = offer["buttons"].as_array().unwrap().clone();
    assert_eq!(slots.len(), 3, "three examination slots: {offer}");

    tap(&mut chat, &slots[1]).await?;
    let booked = chat.reply(WAIT).await?;
    let booked = booked["text"].as_str().unwrap_or_default();
    assert!(booked.contains("Randevunuz oluşturuldu"), "{booked}");

    // The admin API shows the lead in the right stage with its treatment and value,
    // given to a consultant with a first-response deadline, and the appointment.
    let handle = format!("webchat:{}", chat.session);
    let lead = lead_of(server, &handle, "appointment_booked").await?;
    assert_eq!(lead["treatment"], "implant", "{lead}");
    assert_eq!(lead["value_try"], 50_000, "{lead}");
    assert!(
        ["selin", "deniz"].contains(&lead["assignee"].as_str().unwrap_or("")),
        "{lead}"
    );
    assert!(lead["first_response_due"].is_string(), "{lead}");
    assert!(lead["score"].as_i64().unwrap() > 0, "{lead}");
    let id = lead["id"].as_i64().unwrap();
    let (status, one) = server
        .api(&format!("/api/v1/leads/{id}"), Some(DENTAL_KEY))
        .await?;
    assert_eq!(status, 200, "{one}");
    let kinds: Vec<&str> = one["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    for k in ["created", "assigned", "stage_changed", "appointment_booked"] {
        assert!(kinds.contains(&k), "{k} in the timeline: {kinds:?}");
    }
    let (status, list) = server
        .api("/api/v1/appointments?status=booked", Some(DENTAL_KEY))
        .await?;
    assert_eq!(status, 200, "{list}");
    let mine: Vec<&Value> = list["appointments"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["lead"] == id)
        .collect();
    assert_eq!(mine.len(), 1, "exactly one booking: {list}");
    assert_eq!(mine[0]["service"], "muayene");
    let tapped = slots[1]["id"].as_str().unwrap();
    let start = mine[0]["starts_at"].as_str().unwrap();
    let start: jiff::Timestamp = start.parse()?;
    assert!(
        tapped.ends_with(&format!(":{}", start.as_second())),
        "the tapped slot was booked: {tapped} vs {start}"
    );
    chat.close().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn price_question_to_booked_examination_over_web_chat_on_sqlite() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let server = Server::start(&ServerOptions::new(Stores::Embedded, dir.path()))?;
    price_to_booking(&server).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn price_question_to_booked_examination_on_postgres_and_redis() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let prod = ProductionStores::start()?;
    let server = Server::start(&ServerOptions::new(prod.stores(), dir.path()))?;
    price_to_booking(&server).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slots_held_for_one_patient_are_not_offered_to_another() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let server = Server::start(&ServerOptions::new(Stores::Embedded, dir.path()))?;
    let mut first = Chat::connect(&server.ws_url("demo-dental"), None, 0).await?;
    let mut second = Chat::connect(&server.ws_url("demo-dental"), None, 0).await?;
    first.say("muayene için randevu almak istiyorum").await?;
    let (_, a) = until_buttons(&mut first).await?;
    second.say("muayene için randevu almak istiyorum").await?;
    let (_, b) = until_buttons(&mut second).await?;
    let ids = |m: &Value| -> Vec<String> {
        m["buttons"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["id"].as_str().unwrap().to_string())
            .collect()
    };
    let (a, b) = (ids(&a), ids(&b));
    assert_eq!(a.len(), 3);
    assert_eq!(b.len(), 3);
    // The demo clinic has two dentists: the same time may come back with the other
    // one, but never the same dentist at the same time while it is held.
    for slot in &b {
        assert!(
            !a.contains(slot),
            "{slot} is held for the first patient: {a:?}"
        );
    }
    Ok(())
}

/// A WhatsApp button reply (`interactive.button_reply`), signed.
fn wa_button(from: &str, id: &str, button: &Value) -> Vec<u8> {
    let message = json!({
        "from": from, "id": id, "timestamp": jiff::Timestamp::now().as_second().to_string(),
        "type": "interactive",
        "interactive": {"type": "button_reply", "button_reply": {"id": button["reply"]["id"], "title": button["reply"]["title"]}}
    });
    wa_body(
        WA_NUMBER,
        json!([{"profile": {"name": "Zeynep"}, "wa_id": from}]),
        json!([message]),
        None,
    )
    .to_string()
    .into_bytes()
}

/// The interactive messages the fake Graph API received for `to`, once there are `n`.
async fn graph_messages(fake: &Fake, to: &str, n: usize) -> Vec<Value> {
    for _ in 0..150 {
        let got: Vec<Value> = fake
            .received()
            .into_iter()
            .map(|r| r.body)
            .filter(|b| b["to"] == to)
            .collect();
        if got.len() >= n {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    fake.received().into_iter().map(|r| r.body).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pipeline_runs_on_whatsapp_with_reply_buttons() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let fake = Fake::start(UPSTREAM_TOKEN).await;
    let mut opts = ServerOptions::new(Stores::Embedded, dir.path());
    opts.env = channel_env(&fake);
    let server = Server::start(&opts)?;
    let from = "905551230077";
    let body = crate::channels::wa_text(
        from,
        "wamid.clinic-1",
        "3 dişe zirkonyum kaplama fiyatı ne kadar",
        None,
    )
    .to_string()
    .into_bytes();
    let (status, _) = post_meta(&server, &body, Some(meta_signature(APP_SECRET, &body))).await;
    assert_eq!(status, 200);
    // The quote as text, then the examination offer as reply buttons (Meta allows 3).
    let sent = graph_messages(&fake, from, 2).await;
    assert!(sent.len() >= 2, "{sent:#?}");
    let quote = sent[0]["text"]["body"].as_str().unwrap_or_default();
    assert!(quote.contains("24.000 TL – 36.000 TL"), "{quote}");
    let offer = &sent[1];
    assert_eq!(offer["type"], "interactive", "{offer}");
    let buttons = offer["interactive"]["action"]["buttons"]
        .as_array()
        .unwrap();
    assert_eq!(buttons.len(), 3, "{offer}");
    for b in buttons {
        assert!(
            b["reply"]["title"].as_str().unwrap().chars().count() <= 20,
            "{b}"
        );
    }

    let body = wa_button(from, "wamid.clinic-2", &buttons[0]);
    let (status, _) = post_meta(&server, &body, Some(meta_signature(APP_SECRET, &body))).await;
    assert_eq!(status, 200);
    let sent = graph_messages(&fake, from, 3).await;
    let done = sent[2]["text"]["body"].as_str().unwrap_or_default();
    assert!(done.contains("Randevunuz oluşturuldu"), "{done}");
    let lead = lead_of(&server, &format!("whatsapp:{from}"), "appointment_booked").await?;
    assert_eq!(lead["phone"], format!("+{from}"), "{lead}");
    assert_eq!(lead["source"], "whatsapp");
    Ok(())
}

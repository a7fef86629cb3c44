//! WhatsApp, Instagram and Telegram end to end: signed webhooks into the real server,
//! replies out through local fakes of the Graph API and the Bot API (`fakes.rs`).

use crate::fakes::{Failure, Fake, meta_signature};
use crate::harness::*;
use serde_json::{Value, json};
use std::time::Duration;

pub(crate) const APP_SECRET: &str = "test-app-secret";
const VERIFY_TOKEN: &str = "test-verify-token";
const TG_SECRET: &str = "test-tg-secret";
pub(crate) const UPSTREAM_TOKEN: &str = "test-upstream-token";
const DENTAL_KEY: &str = "test-key-dental";
pub(crate) const WA_NUMBER: &str = "100000000000001";
const IG_ACCOUNT: &str = "17840000000000001";

pub(crate) fn channel_env(fake: &Fake) -> Vec<(String, String)> {
    [
        ("META_APP_SECRET", APP_SECRET.to_string()),
        ("META_VERIFY_TOKEN", VERIFY_TOKEN.to_string()),
        ("DEMO_DENTAL_WA_TOKEN", UPSTREAM_TOKEN.to_string()),
        ("DEMO_DENTAL_IG_TOKEN", UPSTREAM_TOKEN.to_string()),
        ("DEMO_DENTAL_TG_TOKEN", UPSTREAM_TOKEN.to_string()),
        ("DEMO_DENTAL_TG_SECRET", TG_SECRET.to_string()),
        ("KOPRU_UPSTREAMS__GRAPH_API", fake.graph_api()),
        ("KOPRU_UPSTREAMS__TELEGRAM_API", fake.base.clone()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

fn now_secs() -> i64 {
    jiff::Timestamp::now().as_second()
}

/// A WhatsApp Cloud API webhook body with one text message.
pub(crate) fn wa_text(from: &str, id: &str, text: &str, referral: Option<Value>) -> Value {
    let mut message = json!({
        "from": from, "id": id, "timestamp": now_secs().to_string(),
        "type": "text", "text": {"body": text}
    });
    if let Some(r) = referral {
        message["referral"] = r;
    }
    wa_body(
        WA_NUMBER,
        json!([{"profile": {"name": "Ayşe Yılmaz"}, "wa_id": from}]),
        json!([message]),
        None,
    )
}

pub(crate) fn wa_body(
    number: &str,
    contacts: Value,
    messages: Value,
    statuses: Option<Value>,
) -> Value {
    let mut value = json!({
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "905320000000", "phone_number_id": number},
    });
    if !messages.as_array().is_some_and(|a| a.is_empty()) {
        value["contacts"] = contacts;
        value["messages"] = messages;
    }
    if let Some(s) = statuses {
        value["statuses"] = s;
    }
    json!({"object": "whatsapp_business_account",
           "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": value}]}]})
}

pub(crate) async fn post_meta(
    server: &Server,
    body: &[u8],
    signature: Option<String>,
) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .post(format!("{}/webhooks/meta", server.base))
        .header("content-type", "application/json")
        .body(body.to_vec());
    if let Some(s) = signature {
        req = req.header("x-hub-signature-256", s);
    }
    let resp = match req.send().await {
        Ok(r) => r,
        // A server may answer 413 and close before reading a huge body; the client
        // then sees the reset, not the answer.
        Err(e) => return (0, Value::String(e.to_string())),
    };
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

pub(crate) async fn post_signed(server: &Server, body: &Value) -> u16 {
    let raw = serde_json::to_vec(body).unwrap();
    post_meta(server, &raw, Some(meta_signature(APP_SECRET, &raw)))
        .await
        .0
}

/// Waits until the fake has accepted `n` requests.
pub(crate) async fn wait_received(
    fake: &Fake,
    n: usize,
    within: Duration,
) -> Vec<crate::fakes::Received> {
    let deadline = std::time::Instant::now() + within;
    loop {
        let got = fake.received();
        if got.len() >= n || std::time::Instant::now() > deadline {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn conversation_of(server: &Server, handle: &str) -> Value {
    for _ in 0..100 {
        let (_, list) = server
            .api("/api/v1/conversations?limit=500", Some(DENTAL_KEY))
            .await
            .unwrap();
        if let Some(c) = list["conversations"]
            .as_array()
            .and_then(|a| a.iter().find(|c| c["contact"]["handle"] == handle))
        {
            let id = c["id"].as_i64().unwrap();
            return server
                .api(&format!("/api/v1/conversations/{id}"), Some(DENTAL_KEY))
                .await
                .unwrap()
                .1;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no conversation for {handle}")
}

/// The conversation's last message once its status is `status` (or as it is after ~5 s).
async fn last_message_when(server: &Server, handle: &str, status: &str) -> Value {
    let mut last = Value::Null;
    for _ in 0..100 {
        let conv = conversation_of(server, handle).await;
        last = conv["messages"]
            .as_array()
            .and_then(|m| m.last())
            .cloned()
            .unwrap_or_default();
        if last["status"] == status {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    last
}

async fn start(stores: Stores, dir: &std::path::Path, fake: &Fake) -> Server {
    let mut opts = ServerOptions::new(stores, dir);
    opts.env = channel_env(fake);
    Server::start(&opts).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whatsapp_signed_text_gets_a_reply_once_and_bad_signatures_get_401() {
    let fake = Fake::start(UPSTREAM_TOKEN).await;
    let dir = tempfile::tempdir().unwrap();
    let server = start(Stores::Embedded, dir.path(), &fake).await;

    // The subscription handshake.
    let url = format!(
        "{}/webhooks/meta?hub.mode=subscribe&hub.verify_token={VERIFY_TOKEN}&hub.challenge=1158201444",
        server.base
    );
    let resp = reqwest::get(&url).await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(resp.text().await.unwrap(), "1158201444");
    let bad = url.replace(VERIFY_TOKEN, "guess");
    assert_eq!(reqwest::get(&bad).await.unwrap().status().as_u16(), 403);

    // Wrong and missing signatures: 401, nothing stored, nothing sent.
    let body = wa_text("905551112233", "wamid.HBgM1", "Merhaba", None);
    let raw = serde_json::to_vec(&body).unwrap();
    let (status, err) =
        post_meta(&server, &raw, Some(meta_signature("not-the-secret", &raw))).await;
    assert_eq!(status, 401, "{err}");
    assert_eq!(post_meta(&server, &raw, None).await.0, 401);
    let mut tampered = raw.clone();
    tampered.extend_from_slice(b" ");
    assert_eq!(
        post_meta(&server, &tampered, Some(meta_signature(APP_SECRET, &raw)))
            .await
            .0,
        401
    );

    // Signed: stored, answered once through the Graph API, even when Meta retries.
    assert_eq!(post_signed(&server, &body).await, 200);
    assert_eq!(post_signed(&server, &body).await, 200);
    let sent = wait_received(&fake, 1, Duration::from_secs(15)).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].account, WA_NUMBER);
    assert_eq!(sent[0].body["to"], "905551112233");
    assert!(
        sent[0].body["text"]["body"]
            .as_str()
            .unwrap()
            .contains("Demo Diş Kliniği")
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        fake.received().len(),
        1,
        "the retried webhook was not answered again"
    );

    // The reply is stored with the provider's id; a status webhook moves it forward.
    let conv = conversation_of(&server, "905551112233").await;
    let reply = conv["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["sender"] == "bot")
        .cloned()
        .unwrap();
    assert_eq!(reply["status"], "sent");
    let wamid = reply["provider_id"].as_str().unwrap().to_string();
    let statuses = json!([{"id": wamid, "status": "delivered", "timestamp": now_secs().to_string(), "recipient_id": "905551112233"},
                          {"id": wamid, "status": "read", "timestamp": now_secs().to_string(), "recipient_id": "905551112233"}]);
    assert_eq!(
        post_signed(
            &server,
            &wa_body(WA_NUMBER, json!([]), json!([]), Some(statuses))
        )
        .await,
        200
    );
    let mut status = Value::Null;
    for _ in 0..50 {
        let conv = conversation_of(&server, "905551112233").await;
        status = conv["messages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["sender"] == "bot")
            .unwrap()["status"]
            .clone();
        if status == "read" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status, "read");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn click_to_whatsapp_referral_is_kept_on_the_contact() {
    let fake = Fake::start(UPSTREAM_TOKEN).await;
    let dir = tempfile::tempdir().unwrap();
    let server = start(Stores::Embedded, dir.path(), &fake).await;
    let referral = json!({
        "source_url": "https://fb.me/3cr4Wqqkv", "source_id": "120212345678900123",
        "source_type": "ad", "headline": "İmplantta bahar fırsatı", "body": "Ücretsiz muayene",
        "media_type": "image", "image_url": "https://scontent.example/ad.jpg",
        "ctwa_clid": "ARAkLkA8rmlFeiCktEJQ-QTwRiyYHAFDLMNDBH0CD3qpjd0HR4irJ6LEkR7JwFF4XvnO2E4Nx0-eM-GABDLOPaOdRMv-_zfUQ2a"
    });
    let body = wa_text(
        "905559998877",
        "wamid.AD1",
        "Merhaba, reklamınızı gördüm",
        Some(referral),
    );
    assert_eq!(post_signed(&server, &body).await, 200);
    let conv = conversation_of(&server, "905559998877").await;
    let r = &conv["conversation"]["referral"];
    assert_eq!(r["source_type"], "ad");
    assert_eq!(r["source_id"], "120212345678900123");
    assert!(r["ctwa_clid"].as_str().unwrap().starts_with("ARAkLkA8"));
    assert_eq!(conv["conversation"]["contact"]["name"], "Ayşe Yılmaz");
    wait_received(&fake, 1, Duration::from_secs(15)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_oversize_and_unroutable_bodies_are_handled_without_processing() {
    let fake = Fake::start(UPSTREAM_TOKEN).await;
    let dir = tempfile::tempdir().unwrap();
    let pg = PgDatabase::create().unwrap();
    let redis = RedisServer::start().unwrap();
    let stores = Stores::Production {
        postgres_url: pg.url.clone(),
        redis_url: redis.url(),
    };
    let server = start(stores, dir.path(), &fake).await;

    // Signed but not an envelope: 200 (Meta must not retry it for a week), kept whole.
    let raw = br#"{"hello": "not a webhook", "entry": 5}"#;
    assert_eq!(
        post_meta(&server, raw, Some(meta_signature(APP_SECRET, raw)))
            .await
            .0,
        200
    );
    let raw2 = b"\xff\xfe not json";
    assert_eq!(
        post_meta(&server, raw2, Some(meta_signature(APP_SECRET, raw2)))
            .await
            .0,
        200
    );
    let out = std::process::Command::new("psql")
        .args([
            "-h",
            "127.0.0.1",
            "-U",
            "root",
            "-d",
            &pg.name,
            "-tAc",
            "SELECT count(*), min(source) FROM dead_letters",
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "2|meta");

    // Over the body limit: 413 before anything else.
    let huge = vec![b' '; 5 * 1024 * 1024];
    let (status, err) = post_meta(&server, &huge, Some(meta_signature(APP_SECRET, &huge))).await;
    assert!(
        status == 413 || (status == 0 && err.to_string().contains("error")),
        "{status} {err}"
    );
    let resp = reqwest::Client::new()
        .post(format!("{}/webhooks/meta", server.base))
        .header("content-length", (5 * 1024 * 1024).to_string())
        .header("x-hub-signature-256", "sha256=00")
        .body(vec![b' '; 1024])
        .send()
        .await;
    if let Ok(r) = resp {
        assert_eq!(r.status().as_u16(), 413, "a declared length over the limit");
    }

    // A phone number no tenant owns: 200, nothing stored or sent.
    let mut body = wa_text("905550000000", "wamid.U1", "Merhaba", None);
    body["entry"][0]["changes"][0]["value"]["metadata"]["phone_number_id"] = json!("999999999");
    assert_eq!(post_signed(&server, &body).await, 200);
    // One good and one broken message in one batch: the good one still counts.
    let mut batch = wa_text("905551110000", "wamid.G1", "Merhaba", None);
    batch["entry"][0]["changes"][0]["value"]["messages"]
        .as_array_mut()
        .unwrap()
        .push(json!({"from": 5, "id": {"x": 1}, "type": ["?"]}));
    assert_eq!(post_signed(&server, &batch).await, 200);
    let sent = wait_received(&fake, 1, Duration::from_secs(15)).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(fake.received().len(), 1, "{sent:?}");
    assert_eq!(fake.received()[0].body["to"], "905551110000");
    assert!(!server.log().contains("panicked"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outside_the_24_hour_window_nothing_free_form_is_sent() {
    let fake = Fake::start(UPSTREAM_TOKEN).await;
    let dir = tempfile::tempdir().unwrap();
    let pg = PgDatabase::create().unwrap();
    let redis = RedisServer::start().unwrap();
    let stores = Stores::Production {
        postgres_url: pg.url.clone(),
        redis_url: redis.url(),
    };
    let server = start(stores, dir.path(), &fake).await;
    assert_eq!(
        post_signed(
            &server,
            &wa_text("905551234567", "wamid.W1", "Merhaba", None)
        )
        .await,
        200
    );
    wait_received(&fake, 1, Duration::from_secs(15)).await;
    let conv = conversation_of(&server, "905551234567").await;
    let id = conv["conversation"]["id"].as_i64().unwrap();

    // Inside the window an agent's message goes out.
    let agent = |text: &str| {
        let server_base = server.base.clone();
        let text = text.to_string();
        async move {
            reqwest::Client::new()
                .post(format!("{server_base}/api/v1/conversations/{id}/messages"))
                .bearer_auth(DENTAL_KEY)
                .json(&json!({"text": text}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(agent("Merhaba, ben Ayşe Hanım.").await, 202);
    wait_received(&fake, 2, Duration::from_secs(15)).await;

    // 25 hours later (the customer's last message moved back), nothing free-form goes.
    let out = std::process::Command::new("psql")
        .args([
            "-h",
            "127.0.0.1",
            "-U",
            "root",
            "-d",
            &pg.name,
            "-qc",
            &format!(
                "UPDATE conversations SET last_inbound_at = last_inbound_at - {} WHERE id = {id}",
                25 * 3600 * 1000
            ),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(agent("Randevunuzu hatırlatmak isteriz.").await, 202);
    let last = last_message_when(&server, "905551234567", "failed").await;
    assert_eq!(last["status"], "failed", "{last}");
    assert!(
        last["error"].as_str().unwrap().contains("24-hour"),
        "{last}"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(fake.received().len(), 2, "never sent");

    // Malformed agent requests are refused clearly.
    let resp = reqwest::Client::new()
        .post(format!(
            "{}/api/v1/conversations/{id}/messages",
            server.base
        ))
        .bearer_auth(DENTAL_KEY)
        .header("content-type", "application/json")
        .body("{\"text\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_errors_are_retried_with_backoff_and_delivered_once() {
    let fake = Fake::start(UPSTREAM_TOKEN).await;
    fake.fail_next([
        Failure::Meta {
            status: 429,
            code: 130429,
            retry_after: Some(1),
        },
        Failure::Meta {
            status: 500,
            code: 1,
            retry_after: None,
        },
        Failure::Down,
    ]);
    let dir = tempfile::tempdir().unwrap();
    let server = start(Stores::Embedded, dir.path(), &fake).await;
    assert_eq!(
        post_signed(
            &server,
            &wa_text("905551112299", "wamid.R1", "Merhaba", None)
        )
        .await,
        200
    );
    let sent = wait_received(&fake, 1, Duration::from_secs(30)).await;
    assert_eq!(sent.len(), 1);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(fake.received().len(), 1);

    // A permanent error (re-engagement required) is final and recorded.
    fake.fail_next([Failure::Meta {
        status: 400,
        code: 131047,
        retry_after: None,
    }]);
    assert_eq!(
        post_signed(
            &server,
            &wa_text("905551112288", "wamid.R2", "Merhaba", None)
        )
        .await,
        200
    );
    let last = last_message_when(&server, "905551112288", "failed").await;
    assert_eq!(last["status"], "failed", "{last}");
    assert!(last["error"].as_str().unwrap().contains("131047"), "{last}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instagram_and_telegram_messages_get_replies_through_their_apis() {
    let fake = Fake::start(UPSTREAM_TOKEN).await;
    let dir = tempfile::tempdir().unwrap();
    let server = start(Stores::Embedded, dir.path(), &fake).await;

    let ig = json!({"object": "instagram", "entry": [{"id": IG_ACCOUNT, "time": now_secs() * 1000, "messaging": [{
        "sender": {"id": "6543210987654321"}, "recipient": {"id": IG_ACCOUNT},
        "timestamp": now_secs() * 1000,
        "message": {"mid": "aWdfZAG1faWQ6MTpJR01lc3NhZA", "text": "adresiniz neresi"}}]}]});
    assert_eq!(post_signed(&server, &ig).await, 200);
    let sent = wait_received(&fake, 1, Duration::from_secs(15)).await;
    assert_eq!(sent[0].account, IG_ACCOUNT);
    assert_eq!(sent[0].body["recipient"]["id"], "6543210987654321");
    assert!(
        sent[0].body["message"]["text"]
            .as_str()
            .unwrap()
            .contains("Valikonağı")
    );

    let update = json!({"update_id": 918273645, "message": {"message_id": 77, "date": now_secs(),
        "from": {"id": 123456789, "is_bot": false, "first_name": "Mehmet", "language_code": "tr"},
        "chat": {"id": 123456789, "type": "private", "first_name": "Mehmet"},
        "text": "kaça kadar açıksınız"}});
    let post_tg = |secret: Option<&str>| {
        let mut req = reqwest::Client::new()
            .post(format!("{}/webhooks/telegram/demo-dental", server.base))
            .json(&update);
        if let Some(s) = secret {
            req = req.header("X-Telegram-Bot-Api-Secret-Token", s);
        }
        async move { req.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(post_tg(Some("wrong")).await, 401);
    assert_eq!(post_tg(None).await, 401);
    assert_eq!(post_tg(Some(TG_SECRET)).await, 200);
    assert_eq!(
        post_tg(Some(TG_SECRET)).await,
        200,
        "a retried update is accepted"
    );
    let sent = wait_received(&fake, 2, Duration::from_secs(15)).await;
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[1].account, UPSTREAM_TOKEN);
    assert_eq!(sent[1].body["chat_id"], 123456789);
    assert!(sent[1].body["text"].as_str().unwrap().contains("09:00"));
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        fake.received().len(),
        2,
        "the retried update was answered once"
    );

    // Unknown tenants get 200 (Telegram would retry forever) and nothing happens.
    let resp = reqwest::Client::new()
        .post(format!("{}/webhooks/telegram/no-such-tenant", server.base))
        .header("X-Telegram-Bot-Api-Secret-Token", TG_SECRET)
        .json(&update)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
}

/// One conversation's stalled upstream (a request that hangs) holds up that conversation
/// only: another customer's reply goes out while it hangs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_upstream_holds_up_only_its_own_conversation() {
    let fake = Fake::start(UPSTREAM_TOKEN).await;
    fake.hold(IG_ACCOUNT);
    let dir = tempfile::tempdir().unwrap();
    let server = start(Stores::Embedded, dir.path(), &fake).await;

    let ig = json!({"object": "instagram", "entry": [{"id": IG_ACCOUNT, "time": now_secs() * 1000, "messaging": [{
        "sender": {"id": "6543210987654321"}, "recipient": {"id": IG_ACCOUNT},
        "timestamp": now_secs() * 1000,
        "message": {"mid": "aWdfZAG1faWQ6MTpIYW5naW5n", "text": "adresiniz neresi"}}]}]});
    assert_eq!(post_signed(&server, &ig).await, 200);
    for _ in 0..300 {
        if fake.hanging() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        fake.hanging(),
        1,
        "the Instagram reply is on its way and hangs"
    );

    let wa = wa_text("905551112233", "wamid.STALL1", "adresiniz neresi", None);
    assert_eq!(post_signed(&server, &wa).await, 200);
    let sent = wait_received(&fake, 1, Duration::from_secs(10)).await;
    assert_eq!(
        sent.len(),
        1,
        "the WhatsApp reply went out while Instagram hung"
    );
    assert_eq!(sent[0].account, WA_NUMBER);
    assert_eq!(sent[0].body["to"], "905551112233");
    assert_eq!(fake.hanging(), 1, "and Instagram still hangs");

    fake.release();
    let sent = wait_received(&fake, 2, Duration::from_secs(15)).await;
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[1].account, IG_ACCOUNT);
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(fake.received().len(), 2, "each reply once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graph_api_down_for_30_seconds_then_every_reply_goes_once_in_order() {
    let fake = Fake::start(UPSTREAM_TOKEN).await;
    fake.outage(Some(Failure::Down));
    let dir = tempfile::tempdir().unwrap();
    let server = start(Stores::Embedded, dir.path(), &fake).await;
    let questions = ["kaça kadar açıksınız", "adresiniz neresi", "taksit var mı"];
    for (i, q) in questions.iter().enumerate() {
        assert_eq!(
            post_signed(
                &server,
                &wa_text("905550000001", &format!("wamid.O{i}"), q, None)
            )
            .await,
            200
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for who in ["905550000002", "905550000003"] {
        assert_eq!(
            post_signed(
                &server,
                &wa_text(who, &format!("wamid.{who}"), "Merhaba", None)
            )
            .await,
            200
        );
    }
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert!(fake.received().is_empty(), "nothing got through the outage");
    fake.outage(None);
    let sent = wait_received(&fake, 5, Duration::from_secs(120)).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let sent_after = fake.received();
    assert_eq!(sent_after.len(), 5, "each reply once: {sent:?}");
    let to_first: Vec<String> = sent_after
        .iter()
        .filter(|r| r.body["to"] == "905550000001")
        .map(|r| {
            r.body["text"]["body"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    assert_eq!(to_first.len(), 3);
    assert!(to_first[0].contains("09:00"), "{to_first:?}");
    assert!(to_first[1].contains("Valikonağı"), "{to_first:?}");
    assert!(to_first[2].contains("Ödeme"), "{to_first:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn telegram_retry_after_is_honoured() {
    let fake = Fake::start(UPSTREAM_TOKEN).await;
    fake.fail_next([Failure::Telegram {
        status: 429,
        retry_after: Some(2),
    }]);
    let dir = tempfile::tempdir().unwrap();
    let server = start(Stores::Embedded, dir.path(), &fake).await;
    let update = json!({"update_id": 5550001, "message": {"message_id": 1, "date": now_secs(),
        "from": {"id": 987654, "is_bot": false, "first_name": "Zeynep"},
        "chat": {"id": 987654, "type": "private"}, "text": "merhaba"}});
    let started = std::time::Instant::now();
    let status = reqwest::Client::new()
        .post(format!("{}/webhooks/telegram/demo-dental", server.base))
        .header("X-Telegram-Bot-Api-Secret-Token", TG_SECRET)
        .json(&update)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16();
    assert_eq!(status, 200);
    let sent = wait_received(&fake, 1, Duration::from_secs(20)).await;
    assert_eq!(sent.len(), 1);
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "not before retry_after"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(fake.received().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_with_1000_replies_queued_delivers_all_once_after_restart() {
    let fake = Fake::start(UPSTREAM_TOKEN).await;
    let dir = tempfile::tempdir().unwrap();
    let mut opts = ServerOptions::new(Stores::Embedded, dir.path());
    opts.env = channel_env(&fake);
    // Slow enough to be killed mid-way; a send cut by the crash waits 10 s for Meta's
    // status before it would be sent again.
    opts.env
        .push(("KOPRU_LIMITS__PER_NUMBER_PER_SECOND".into(), "150".into()));
    opts.env
        .push(("KOPRU_WORKERS__SEND_GRACE_MS".into(), "10000".into()));
    let mut server = Server::start(&opts).unwrap();
    fake.send_statuses_to(&format!("{}/webhooks/meta", server.base), APP_SECRET);

    // One webhook body with 1000 messages from 1000 customers, as Meta may batch them.
    let contacts: Vec<Value> = (0..1000)
        .map(|i| json!({"profile": {"name": format!("Müşteri {i}")}, "wa_id": format!("90555{i:07}")}))
        .collect();
    let messages: Vec<Value> = (0..1000)
        .map(|i| {
            json!({"from": format!("90555{i:07}"), "id": format!("wamid.BULK{i:04}"),
            "timestamp": now_secs().to_string(), "type": "text", "text": {"body": "Merhaba"}})
        })
        .collect();
    let body = wa_body(WA_NUMBER, json!(contacts), json!(messages), None);
    assert_eq!(
        post_signed(&server, &body).await,
        200,
        "all stored before the answer"
    );

    // Kill it while the replies are going out.
    let before = wait_received(&fake, 150, Duration::from_secs(60))
        .await
        .len();
    assert!(before < 1000, "killed mid-way ({before} sent)");
    server.kill();

    let server = Server::start(&opts).unwrap();
    fake.send_statuses_to(&format!("{}/webhooks/meta", server.base), APP_SECRET);
    let sent = wait_received(&fake, 1000, Duration::from_secs(120)).await;
    // Anything sent twice would show up during the grace period and after it.
    tokio::time::sleep(Duration::from_secs(12)).await;
    let sent_after = fake.received();
    let mut to: Vec<&str> = sent_after
        .iter()
        .filter_map(|r| r.body["to"].as_str())
        .collect();
    assert_eq!(sent.len(), 1000, "every reply delivered");
    to.sort_unstable();
    let total = to.len();
    to.dedup();
    assert_eq!(
        (total, to.len()),
        (1000, 1000),
        "each customer answered exactly once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsure_messages_go_to_the_llm_masked_and_health_tenants_stay_local() {
    let fake = Fake::start(UPSTREAM_TOKEN).await;
    fake.llm_answers("business_hours");
    let dir = tempfile::tempdir().unwrap();
    let mut opts = ServerOptions::new(Stores::Embedded, dir.path());
    opts.env = channel_env(&fake);
    opts.env.push((
        "KOPRU_UPSTREAMS__LLM".into(),
        format!(
            "{{ base_url = \"{}/v1\", model = \"fake-model\" }}",
            fake.base
        ),
    ));
    let server = Server::start(&opts).unwrap();

    // Nothing the local model knows, plus personal data that must not leave.
    let odd = "zqxv plorb 05551112233 ayse@example.com";
    let mut shop = Chat::connect(&server.ws_url("demo-shop"), None, 0)
        .await
        .unwrap();
    let reply = shop.ask(odd).await.unwrap();
    assert!(
        reply.contains("09:00"),
        "the LLM's intent was used: {reply}"
    );
    let requests = fake.llm_requests();
    assert_eq!(requests.len(), 1);
    let sent = requests[0].to_string();
    assert!(
        !sent.contains("5551112233") && !sent.contains("ayse@example.com"),
        "masked: {sent}"
    );
    assert!(
        sent.contains("json_schema"),
        "structured output asked: {sent}"
    );
    let (_, list) = server
        .api("/api/v1/conversations", Some("test-key-shop"))
        .await
        .unwrap();
    let id = list["conversations"][0]["id"].as_i64().unwrap();
    let (_, conv) = server
        .api(
            &format!("/api/v1/conversations/{id}"),
            Some("test-key-shop"),
        )
        .await
        .unwrap();
    let meta = &conv["messages"][0]["meta"];
    assert_eq!(meta["path"], "llm", "{meta}");
    assert_eq!(meta["intent"], "business_hours");
    assert_eq!(meta["prompt"]["name"], "intent_classifier");
    assert_eq!(meta["tokens"], 326);
    assert!(
        meta["prompt"]["hash"]
            .as_str()
            .is_some_and(|h| h.len() == 64),
        "{meta}"
    );

    // A health tenant keeps patients' words local (KVKK) unless configured otherwise.
    let mut clinic = Chat::connect(&server.ws_url("demo-saglik"), None, 0)
        .await
        .unwrap();
    clinic.ask(odd).await.unwrap();
    assert_eq!(
        fake.llm_requests().len(),
        1,
        "not sent for the health tenant"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eval_intents_reports_the_llm_path_and_its_token_cost() {
    let fake = Fake::start(UPSTREAM_TOKEN).await;
    fake.llm_answers("business_hours");
    let dir = tempfile::tempdir().unwrap();
    let dataset = dir.path().join("odd.jsonl");
    std::fs::write(
        &dataset,
        "{\"text\": \"zqxv plorb\", \"intent\": \"business_hours\"}\n\
         {\"text\": \"kaça kadar açıksınız\", \"intent\": \"business_hours\"}\n",
    )
    .unwrap();
    let out = tokio::process::Command::new(kopru_bin())
        .args([
            "eval",
            "intents",
            "--niche",
            "ecommerce",
            "--json",
            "--dataset",
        ])
        .arg(&dataset)
        .env("KOPRU_SERVER__DATA_DIR", dir.path())
        .env(
            "KOPRU_UPSTREAMS__LLM",
            format!(
                "{{ base_url = \"{}/v1\", model = \"fake-model\" }}",
                fake.base
            ),
        )
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["path"]["llm"], 1, "{report}");
    assert_eq!(report["path"]["local"], 1);
    assert_eq!(report["llm_tokens"], 326);
    assert_eq!(report["accuracy"], 1.0);
    assert_eq!(
        fake.llm_requests().len(),
        1,
        "the confident row stayed local"
    );
}

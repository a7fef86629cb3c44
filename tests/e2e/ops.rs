//! Operator commands end to end: `kopru classify`, `kopru deadletters list|redrive`
//! against a running server's store, and Telegram long polling (`telegram.mode =
//! "polling"`) against the fake Bot API's `getUpdates`.

use crate::channels::{wa_text, wait_received};
use crate::fakes::{Failure, Fake, meta_signature};
use crate::harness::*;
use serde_json::{Value, json};
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

const APP_SECRET: &str = "ops-app-secret";
const UPSTREAM_TOKEN: &str = "ops-upstream-token";
/// demo-dental's WhatsApp phone number id in the bundled demo.
const WA_NUMBER: &str = "100000000000001";

fn ops_env(fake: &Fake) -> Vec<(String, String)> {
    [
        ("META_APP_SECRET", APP_SECRET.to_string()),
        ("META_VERIFY_TOKEN", "ops-verify-token".to_string()),
        ("DEMO_DENTAL_WA_TOKEN", UPSTREAM_TOKEN.to_string()),
        ("DEMO_DENTAL_TG_TOKEN", UPSTREAM_TOKEN.to_string()),
        ("DEMO_DENTAL_TG_SECRET", "ops-tg-secret".to_string()),
        ("KOPRU_UPSTREAMS__GRAPH_API", fake.graph_api()),
        ("KOPRU_UPSTREAMS__TELEGRAM_API", fake.base.clone()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// Runs `kopru ARGS…` on the store in `data_dir`, as an operator beside the server.
fn kopru(data_dir: &Path, env: &[(String, String)], args: &[&str]) -> Output {
    let mut cmd = Command::new(kopru_bin());
    cmd.args(args).env("KOPRU_SERVER__DATA_DIR", data_dir);
    for (k, v) in KEYS {
        cmd.env(k, v);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("running kopru")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn classify_prints_the_contract_json_and_refuses_an_unknown_tenant() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = kopru(
        &data,
        &[],
        &[
            "classify",
            "--tenant",
            "demo-dental",
            "Yarın 14:30'a 2 diş için implant randevusu, tel 0555 111 22 33",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert_eq!(
        text.trim().lines().count(),
        1,
        "exactly one JSON object: {text}"
    );
    let v: Value = serde_json::from_str(text.trim()).unwrap();
    for key in ["intent", "confidence", "entities", "language", "sentiment"] {
        assert!(v.get(key).is_some(), "{key} missing: {v}");
    }
    assert_eq!(v["intent"], "appointment_book", "{v}");
    let confidence = v["confidence"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&confidence), "{v}");
    let e = &v["entities"];
    assert_eq!(e["treatment"][0]["value"], "implant", "{v}");
    assert_eq!(e["tooth_count"][0]["value"], 2, "{v}");
    assert_eq!(e["phone"][0]["value"], "+905551112233", "{v}");
    // "Yarın 14:30": tomorrow in Europe/Istanbul, at 14:30.
    let tomorrow = jiff::Timestamp::now()
        .in_tz("Europe/Istanbul")
        .unwrap()
        .date()
        .tomorrow()
        .unwrap()
        .to_string();
    assert_eq!(e["date"][0]["value"]["date"], tomorrow.as_str(), "{v}");
    assert_eq!(e["date"][0]["value"]["time"], "14:30:00", "{v}");
    assert_eq!(v["language"], "tr", "{v}");
    assert!(v["sentiment"]["label"].is_string(), "{v}");
    assert!(!data.exists(), "classify opened no store and wrote nothing");

    let out = kopru(
        &data,
        &[],
        &["classify", "--tenant", "demo-nobody", "merhaba"],
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("unknown tenant \"demo-nobody\""), "{err}");
    assert!(stdout(&out).is_empty());
}

fn listed(data: &Path, env: &[(String, String)], all: bool) -> Vec<Value> {
    let mut args = vec!["deadletters", "list", "--json"];
    if all {
        args.push("--all");
    }
    let out = kopru(data, env, &args);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    v["dead_letters"].as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_are_listed_and_redriven_into_the_running_server() {
    dead_letters_round_trip(Stores::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_are_redriven_on_postgres_and_redis() {
    let prod = ProductionStores::start().unwrap();
    dead_letters_round_trip(prod.stores()).await;
}

/// The store a server of `stores` uses, opened by the test beside it.
async fn open_store(stores: &Stores, data_dir: &Path) -> std::sync::Arc<dyn store::Store> {
    match stores {
        Stores::Embedded => std::sync::Arc::new(
            store::SqliteStore::open(&data_dir.join("kopru.db"))
                .await
                .unwrap(),
        ),
        Stores::Production { postgres_url, .. } => store::connect(postgres_url).await.unwrap(),
    }
}

async fn dead_letters_round_trip(stores: Stores) {
    let fake = Fake::start(UPSTREAM_TOKEN).await;
    let dir = tempfile::tempdir().unwrap();
    let mut env = ops_env(&fake);
    if let Stores::Production {
        postgres_url,
        redis_url,
    } = &stores
    {
        env.push(("KOPRU_STORE__POSTGRES_URL".into(), postgres_url.clone()));
        env.push(("KOPRU_STORE__REDIS_URL".into(), redis_url.clone()));
    }
    let mut opts = ServerOptions::new(stores.clone(), dir.path());
    opts.env = env.clone();
    let server = Server::start(&opts).unwrap();

    // A correctly signed body that is JSON but not a Meta webhook: a dead letter, 200.
    let bad = br#"{"object":"whatsapp_business_account","entry":"not a list"}"#;
    let status = reqwest::Client::new()
        .post(format!("{}/webhooks/meta", server.base))
        .header("content-type", "application/json")
        .header("x-hub-signature-256", meta_signature(APP_SECRET, bad))
        .body(bad.to_vec())
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status.as_u16(), 200);
    let open = listed(dir.path(), &env, false);
    assert_eq!(open.len(), 1, "{open:?}");
    let bad_id = open[0]["id"].as_i64().unwrap();
    assert_eq!(open[0]["source"], "meta");
    assert_eq!(open[0]["size"], bad.len());
    assert!(open[0]["reason"].as_str().unwrap().len() > 3, "{open:?}");
    assert!(open[0]["received_at"].is_string());
    let table = kopru(dir.path(), &env, &["deadletters", "list"]);
    assert!(stdout(&table).starts_with("id"), "{}", stdout(&table));

    // Re-driving it changes nothing: it still does not parse, stays, and is reported.
    let out = kopru(
        dir.path(),
        &env,
        &["deadletters", "redrive", &bad_id.to_string()],
    );
    assert!(!out.status.success());
    assert!(
        stdout(&out).contains("still not processed"),
        "{}",
        stdout(&out)
    );
    assert_eq!(stderr(&out).trim().lines().count(), 1, "{}", stderr(&out));
    assert_eq!(listed(dir.path(), &env, false).len(), 1);

    // A body that parses now (as after a fix), kept as a dead letter in the server's
    // store (SQLite file or PostgreSQL): re-driven, the message is ingested and the running server answers it.
    let body = wa_text("905557654321", "wamid.REDRIVE1", "adresiniz neresi", None);
    let raw = serde_json::to_vec(&body).unwrap();
    let good_id = open_store(&stores, dir.path())
        .await
        .add_dead_letter(&store::NewDeadLetter {
            source: "meta".into(),
            tenant: None,
            reason: "an older parser did not know this body".into(),
            body: raw.clone(),
            headers: json!({"content-type": "application/json",
                            "x-hub-signature-256": meta_signature(APP_SECRET, &raw)}),
            received_at: jiff::Timestamp::now(),
        })
        .await
        .unwrap();
    let out = kopru(dir.path(), &env, &["deadletters", "redrive", "--all"]);
    assert!(
        !out.status.success(),
        "the unparseable one is still reported"
    );
    let text = stdout(&out);
    assert!(
        text.contains(&format!(
            "dead letter {good_id} (meta): re-driven: 1 new message"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!("dead letter {bad_id} (meta): still not processed")),
        "{text}"
    );
    let sent = wait_received(&fake, 1, Duration::from_secs(15)).await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].account, WA_NUMBER);
    assert_eq!(sent[0].body["to"], "905557654321");
    assert!(
        sent[0].body["text"]["body"]
            .as_str()
            .unwrap()
            .contains("Valikonağı"),
        "{:?}",
        sent[0].body
    );

    // Marked re-driven: gone from the open list, shown with --all.
    let open = listed(dir.path(), &env, false);
    assert_eq!(open.len(), 1);
    assert_eq!(open[0]["id"], bad_id);
    let all = listed(dir.path(), &env, true);
    let good = all.iter().find(|d| d["id"] == good_id).unwrap();
    assert!(good["redriven_at"].is_string(), "{all:?}");

    // Re-driving it again is harmless: the message is a duplicate, not answered twice.
    let out = kopru(
        dir.path(),
        &env,
        &["deadletters", "redrive", &good_id.to_string()],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("0 new message(s), 1 duplicate(s)"),
        "{}",
        stdout(&out)
    );
    let out = kopru(dir.path(), &env, &["deadletters", "redrive", "999999"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("unknown: 999999"), "{}", stderr(&out));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(fake.received().len(), 1, "answered once");
    drop(server);
}

fn tg_update(update_id: i64, chat: i64, text: &str) -> Value {
    json!({"update_id": update_id, "message": {"message_id": update_id % 1000, "date": jiff::Timestamp::now().as_second(),
        "from": {"id": chat, "is_bot": false, "first_name": "Deniz", "language_code": "tr"},
        "chat": {"id": chat, "type": "private", "first_name": "Deniz"},
        "text": text}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn telegram_polling_answers_updates_from_get_updates_once() {
    let fake = Fake::start(UPSTREAM_TOKEN).await;
    // The first getUpdates is told to come back in 2 seconds.
    fake.fail_next([Failure::Telegram {
        status: 429,
        retry_after: Some(2),
    }]);
    // Queued before the server starts: the next getUpdates returns it at once.
    fake.queue_update(tg_update(700001, 424242, "kaça kadar açıksınız"));
    let dir = tempfile::tempdir().unwrap();
    let mut opts = ServerOptions::new(Stores::Embedded, dir.path());
    opts.env = ops_env(&fake);
    // demo-dental is the second tenant of the bundled demo.
    opts.env
        .push(("KOPRU_TENANTS__1__TELEGRAM__MODE".into(), "polling".into()));
    let server = Server::start(&opts).unwrap();

    let sent = wait_received(&fake, 1, Duration::from_secs(20)).await;
    assert_eq!(sent.len(), 1, "{}", server.log());
    assert_eq!(sent[0].account, UPSTREAM_TOKEN);
    assert_eq!(sent[0].body["chat_id"], 424242);
    assert!(
        sent[0].body["text"].as_str().unwrap().contains("09:00"),
        "{:?}",
        sent[0].body
    );

    // Queued while a getUpdates is held open: answered as soon as it arrives.
    tokio::time::sleep(Duration::from_millis(500)).await;
    fake.queue_update(tg_update(700002, 424242, "adresiniz neresi"));
    let sent = wait_received(&fake, 2, Duration::from_secs(20)).await;
    assert_eq!(sent.len(), 2, "{}", server.log());
    assert!(
        sent[1].body["text"]
            .as_str()
            .unwrap()
            .contains("Valikonağı"),
        "{:?}",
        sent[1].body
    );

    // The offset moved past each update once it was stored: none came back, and a
    // later getUpdates confirmed both.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(fake.received().len(), 2, "no update handled twice");
    let polls = fake.polls();
    let returned: Vec<i64> = polls.iter().flat_map(|p| p.returned.clone()).collect();
    assert_eq!(returned, [700001, 700002], "{polls:?}");
    assert!(polls[0].failed && !polls[1].failed, "{polls:?}");
    assert!(
        polls[1].at - polls[0].at >= Duration::from_secs(2),
        "retry_after honoured: {polls:?}"
    );
    assert_eq!(polls[1].offset, None, "{polls:?}");
    assert!(polls.iter().any(|p| p.offset == Some(700002)), "{polls:?}");
    assert!(polls.iter().any(|p| p.offset == Some(700003)), "{polls:?}");
    assert!(
        fake.webhook_deletions() >= 1,
        "the webhook is removed before polling"
    );
    drop(server);
}

//! Bad input gets a clear error, never a panic, and harms no other conversation:
//! malformed and oversize frames, odd Unicode, unknown tenants, wrong keys, origins.

use crate::harness::*;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_frames_get_error_frames_and_other_conversations_go_on() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let server = Server::start(&ServerOptions::new(Stores::Embedded, dir.path()))?;
    let mut good = Chat::connect(&server.ws_url("demo-dental"), None, 0).await?;
    let mut bad = Chat::connect(&server.ws_url("demo-dental"), None, 0).await?;

    let cases = [
        ("{not json", "malformed"),
        (r#"{"type":"teleport"}"#, "malformed"),
        (
            r#"{"type":"message","id":"x","text":"a","extra":1}"#,
            "malformed",
        ),
        (
            r#"{"type":"message","id":"bad id!","text":"merhaba"}"#,
            "invalid",
        ),
        (
            "{\"type\":\"message\",\"id\":\"z1\",\"text\":\"\u{200B}\u{200F} \"}",
            "invalid",
        ),
        (r#"{"type":"hello","v":1}"#, "out_of_order"),
    ];
    for (raw, code) in cases {
        bad.send_raw(raw).await?;
        let f = bad.frame(Duration::from_secs(5)).await?;
        assert_eq!(
            (f["type"].as_str(), f["code"].as_str()),
            (Some("error"), Some(code)),
            "{raw}"
        );
    }
    let long = "a".repeat(5_000);
    bad.say(&long).await?;
    let f = bad.frame(Duration::from_secs(5)).await?;
    assert_eq!(f["code"], "too_large");
    let huge = format!(
        r#"{{"type":"message","id":"h","text":"{}"}}"#,
        "ı".repeat(10_000)
    );
    bad.send_raw(huge).await?;
    let f = bad.frame(Duration::from_secs(5)).await?;
    assert_eq!(f["code"], "too_large");

    // The same socket still works, and odd Unicode is understood and kept whole.
    let odd = "M\u{200B}erhaba 👋 \u{202E}İyi akşamlar";
    bad.say(odd).await?;
    let mut echoed = None;
    for _ in 0..5 {
        let f = bad.frame(Duration::from_secs(10)).await?;
        if f["type"] == "message" && f["from"] == "customer" {
            echoed = Some(f["text"].as_str().unwrap_or_default().to_string());
            break;
        }
    }
    assert_eq!(echoed.as_deref(), Some(odd), "stored as sent");
    let r = bad.reply(Duration::from_secs(10)).await?;
    assert!(
        r["text"]
            .as_str()
            .unwrap_or_default()
            .contains("Demo Diş Kliniği"),
        "{r}"
    );

    // A frame over the transport limit closes that socket only.
    let monster = format!(
        r#"{{"type":"message","id":"m","text":"{}"}}"#,
        "x".repeat(200_000)
    );
    let _ = bad.send_raw(monster).await;
    let closed = bad.drain(Duration::from_secs(2)).await;
    assert!(closed.iter().all(|f| f["type"] != "message"));
    assert!(good.ask("merhaba").await?.contains("Demo Diş Kliniği"));

    let log = server.log();
    assert!(!log.contains("panicked"), "{log}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_tenants_origins_and_keys_are_refused_clearly() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let server = Server::start(&ServerOptions::new(Stores::Embedded, dir.path()))?;

    // Unknown tenant: a 404 with a JSON body, before any upgrade.
    let resp = reqwest::get(format!("{}/webchat/no-such-shop/ws", server.base)).await?;
    assert_eq!(resp.status().as_u16(), 404);
    let body: serde_json::Value = resp.json().await?;
    assert_eq!(body["error"]["code"], "not_found");
    assert!(
        Chat::connect(&server.ws_url("no-such-shop"), None, 0)
            .await
            .is_err()
    );

    // A page on a foreign origin may not open the socket.
    let mut req = tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(
        server.ws_url("demo-dental"),
    )?;
    req.headers_mut()
        .insert("Origin", "https://evil.example".parse()?);
    let err = tokio_tungstenite::connect_async(req)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("403"), "{err}");

    // Admin API: no key 401, wrong key 401, another tenant's conversation 404.
    let mut chat = Chat::connect(&server.ws_url("demo-dental"), None, 0).await?;
    chat.ask("merhaba").await?;
    let (status, body) = server.api("/api/v1/conversations", None).await?;
    assert_eq!(status, 401);
    assert_eq!(body["error"]["code"], "unauthorized");
    let (status, _) = server
        .api("/api/v1/conversations", Some("not-a-key"))
        .await?;
    assert_eq!(status, 401);
    let (_, mine) = server
        .api("/api/v1/conversations", Some("test-key-dental"))
        .await?;
    let id = mine["conversations"][0]["id"]
        .as_i64()
        .expect("one conversation");
    let (status, body) = server
        .api(
            &format!("/api/v1/conversations/{id}"),
            Some("test-key-shop"),
        )
        .await?;
    assert_eq!(status, 404, "{body}");
    let (_, theirs) = server
        .api("/api/v1/conversations", Some("test-key-shop"))
        .await?;
    assert_eq!(theirs["conversations"].as_array().map(Vec::len), Some(0));
    let (status, _) = server
        .api("/api/v1/conversations/abc", Some("test-key-dental"))
        .await?;
    assert_eq!(status, 404);
    let (status, body) = server
        .api("/api/v1/conversations?limit=9999", Some("test-key-dental"))
        .await?;
    assert_eq!(status, 400, "{body}");
    let (status, body) = server
        .api("/api/v1/nothing-here", Some("test-key-dental"))
        .await?;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("not_found"))
    );

    // Health and metrics.
    assert_eq!(server.api("/healthz", None).await?.0, 200);
    let metrics = reqwest::get(format!("{}/metrics", server.base))
        .await?
        .text()
        .await?;
    assert!(metrics.contains("kopru_messages_in_total"), "{metrics}");
    Ok(())
}

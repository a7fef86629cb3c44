//! Telegram Bot API: the secret header, updates normalised, rendering, answers and errors.

use crate::fixture;
use channels::ParseError;
use channels::event::Event;
use channels::model::{
    Button, Channel, Contact, Content, Details, Inbound, MediaKind, OutContent, SharedContact,
};
use channels::send::{RenderError, SendErrorKind};
use channels::telegram::{self, Request};
use serde_json::json;
use std::time::Duration;

fn events(name: &str) -> Vec<Event> {
    let update = telegram::parse_update(&fixture("telegram", name)).unwrap();
    telegram::normalize("pastane-lale", &update)
}

fn one(name: &str) -> Inbound {
    match events(name).as_slice() {
        [Event::Message(m)] => m.clone(),
        other => panic!("{name}: {other:?}"),
    }
}

fn ignored(name: &str) -> String {
    match events(name).as_slice() {
        [Event::Ignored { reason }] => reason.clone(),
        other => panic!("{name}: {other:?}"),
    }
}

fn zeynep() -> Contact {
    Contact {
        handle: "123456789".into(),
        name: Some("Zeynep Kaya".into()),
        phone: None,
    }
}

#[test]
fn the_secret_header_is_checked() {
    assert!(telegram::verify_secret(
        "k0pru_S3cret-token",
        Some("k0pru_S3cret-token")
    ));
    assert!(!telegram::verify_secret(
        "k0pru_S3cret-token",
        Some("k0pru_S3cret-tokem")
    ));
    assert!(!telegram::verify_secret(
        "k0pru_S3cret-token",
        Some("k0pru")
    ));
    assert!(!telegram::verify_secret("k0pru_S3cret-token", None));
    assert!(
        !telegram::verify_secret("", Some("")),
        "an unconfigured secret never matches"
    );
}

#[test]
fn text_with_update_id_as_provider_id() {
    assert_eq!(
        one("text"),
        Inbound {
            tenant: "pastane-lale".into(),
            channel: Channel::Telegram,
            contact: zeynep(),
            content: Content::Text {
                body: "Merhaba, bugün açık mısınız?".into()
            },
            referral: None,
            provider_id: "tg:872345001".into(),
            sent_at_ms: Some(1_749_416_383_000),
            reply_to: None,
            details: Details {
                message_id: Some("501".into()),
                ..Details::default()
            },
        }
    );
    assert_eq!(one("command_start").content.text(), Some("/start"));
}

#[test]
fn photo_takes_the_largest_size() {
    assert_eq!(
        one("photo").content,
        Content::Media {
            kind: MediaKind::Image,
            url: None,
            media_id: Some("AgACAgIAAxkBAAIBlarge".into()),
            mime: None,
            caption: Some("Bu modelin başka rengi var mı?".into()),
        }
    );
}

#[test]
fn document_and_voice() {
    let doc = one("document");
    assert_eq!(
        doc.content,
        Content::Media {
            kind: MediaKind::Document,
            url: None,
            media_id: Some("BQACAgIAAxkBAAIBdoc".into()),
            mime: Some("application/pdf".into()),
            caption: Some("Sipariş dekontu".into()),
        }
    );
    assert_eq!(doc.details.filename.as_deref(), Some("dekont.pdf"));
    assert!(matches!(
        one("voice").content,
        Content::Media {
            kind: MediaKind::Audio,
            ..
        }
    ));
}

#[test]
fn location_and_venue() {
    assert_eq!(
        one("location").content,
        Content::Location {
            latitude: 39.925533,
            longitude: 32.866287,
            name: None,
            address: None
        }
    );
    assert_eq!(
        one("venue").content,
        Content::Location {
            latitude: 38.4192,
            longitude: 27.1287,
            name: Some("Kordon Şube".into()),
            address: Some("Atatürk Cd. No:5, Konak, İzmir".into()),
        }
    );
}

#[test]
fn an_own_contact_gives_the_phone() {
    let m = one("contact_own");
    assert_eq!(m.contact.phone.as_deref(), Some("+905321112233"));
    assert_eq!(
        m.content,
        Content::Text {
            body: "+905321112233".into()
        }
    );
    assert_eq!(m.reply_to.as_deref(), Some("499"));
    let other = one("contact_other");
    assert_eq!(other.contact.phone, None);
    assert_eq!(
        other.content,
        Content::Unsupported {
            kind: "contact".into()
        }
    );
    assert_eq!(
        other.details.contacts,
        vec![SharedContact {
            name: Some("Mehmet Demir".into()),
            phones: vec!["+905337654321".into()]
        }]
    );
}

#[test]
fn a_callback_query_is_a_tap_titled_with_the_button_label() {
    assert_eq!(
        one("callback_query"),
        Inbound {
            tenant: "pastane-lale".into(),
            channel: Channel::Telegram,
            contact: zeynep(),
            content: Content::Interactive {
                id: "handoff_yes".into(),
                title: "Evet, bağlayın".into()
            },
            referral: None,
            provider_id: "tg:872345010".into(),
            sent_at_ms: None,
            reply_to: Some("500".into()),
            details: Details {
                message_id: Some("500".into()),
                callback_id: Some("4382bfdwdsb323b2d9".into()),
                ..Details::default()
            },
        }
    );
}

#[test]
fn edits_groups_and_other_updates_are_ignored_polls_unsupported() {
    assert!(ignored("edited_message").contains("edits"));
    assert!(ignored("group_message").contains("supergroup"));
    assert!(ignored("my_chat_member").contains("my_chat_member"));
    assert_eq!(
        one("poll").content,
        Content::Unsupported {
            kind: "poll".into()
        }
    );
}

#[test]
fn json_that_is_not_an_update_is_an_error() {
    assert!(matches!(
        telegram::parse_update(b"nope"),
        Err(ParseError::NotJson(_))
    ));
    assert!(matches!(
        telegram::parse_update(b"{}"),
        Err(ParseError::Shape { .. })
    ));
    assert!(matches!(
        telegram::parse_update(br#"{"update_id":"1"}"#),
        Err(ParseError::Shape { .. })
    ));
    let odd = telegram::parse_update(br#"{"update_id":5,"message":{"chat":"x"}}"#).unwrap();
    assert!(matches!(
        &telegram::normalize("t", &odd)[..],
        [Event::Ignored { .. }]
    ));
}

// ---------------------------------------------------------------- rendering

#[test]
fn renders_text_and_an_inline_keyboard() {
    assert_eq!(
        telegram::render(
            "123456789",
            &OutContent::text("Bugün 09:00-20:00 arası açığız.")
        )
        .unwrap(),
        Request {
            method: "sendMessage",
            body: json!({ "chat_id": 123456789, "text": "Bugün 09:00-20:00 arası açığız." }),
        }
    );
    assert_eq!(
        telegram::render(
            "123456789",
            &OutContent::Buttons {
                body: "Bir temsilciye bağlanmak ister misiniz?".into(),
                buttons: vec![
                    Button {
                        id: "handoff_yes".into(),
                        title: "Evet, bağlayın".into()
                    },
                    Button {
                        id: "handoff_no".into(),
                        title: "Hayır, teşekkürler".into()
                    },
                ],
            }
        )
        .unwrap()
        .body,
        json!({
            "chat_id": 123456789,
            "text": "Bir temsilciye bağlanmak ister misiniz?",
            "reply_markup": { "inline_keyboard": [
                [{ "text": "Evet, bağlayın", "callback_data": "handoff_yes" }],
                [{ "text": "Hayır, teşekkürler", "callback_data": "handoff_no" }]
            ]}
        })
    );
}

#[test]
fn refuses_long_callback_data_and_templates() {
    let long = "ç".repeat(33); // 66 bytes
    assert!(matches!(
        telegram::render(
            "1",
            &OutContent::Buttons {
                body: "x".into(),
                buttons: vec![Button {
                    id: long,
                    title: "x".into()
                }]
            }
        ),
        Err(RenderError::InvalidButtonId { .. })
    ));
    assert!(matches!(
        telegram::render(
            "1",
            &OutContent::Template {
                name: "x".into(),
                language: "tr".into(),
                params: vec![]
            }
        ),
        Err(RenderError::Unsupported { .. })
    ));
}

#[test]
fn renders_media_by_url() {
    assert_eq!(
        telegram::render(
            "123456789",
            &OutContent::Media {
                kind: MediaKind::Document,
                url: "https://cdn.example.com/menu.pdf".into(),
                caption: Some("Menümüz".into()),
                filename: Some("menu.pdf".into()),
            }
        )
        .unwrap(),
        Request {
            method: "sendDocument",
            body: json!({ "chat_id": 123456789, "document": "https://cdn.example.com/menu.pdf", "caption": "Menümüz" }),
        }
    );
}

#[test]
fn helper_calls() {
    assert_eq!(
        telegram::answer_callback("4382bfdwdsb323b2d9"),
        Request {
            method: "answerCallbackQuery",
            body: json!({ "callback_query_id": "4382bfdwdsb323b2d9" })
        }
    );
    assert_eq!(
        telegram::set_webhook(
            "https://kopru.example/webhooks/telegram/pastane-lale",
            "s3cret"
        )
        .body,
        json!({
            "url": "https://kopru.example/webhooks/telegram/pastane-lale",
            "secret_token": "s3cret",
            "allowed_updates": ["message", "edited_message", "callback_query"]
        })
    );
    assert_eq!(
        telegram::get_updates(Some(872345011), 30).body["offset"],
        872345011
    );
    let polled = telegram::parse_updates(
        200,
        &serde_json::to_vec(&json!({ "ok": true, "result": [
            serde_json::from_slice::<serde_json::Value>(&fixture("telegram", "text")).unwrap(),
            { "no_update_id": true }
        ]}))
        .unwrap(),
    )
    .unwrap();
    assert_eq!(polled.len(), 1);
    assert_eq!(polled[0].update_id, 872345001);
}

#[test]
fn send_responses_and_errors() {
    let ok = br#"{"ok":true,"result":{"message_id":502,"from":{"id":7000000001,"is_bot":true,"first_name":"Lale"},"chat":{"id":123456789,"type":"private"},"date":1749416390,"text":"Merhaba"}}"#;
    assert_eq!(telegram::parse_send_response(200, ok).unwrap(), "502");
    assert_eq!(
        telegram::parse_send_response(200, br#"{"ok":true,"result":true}"#).unwrap(),
        ""
    );

    let flood = br#"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 35","parameters":{"retry_after":35}}"#;
    let e = telegram::parse_send_response(429, flood).unwrap_err();
    assert_eq!(
        e.kind,
        SendErrorKind::SlowDown {
            after: Some(Duration::from_secs(35))
        }
    );
    assert_eq!(e.code, Some(429));
    let header_only = telegram::classify_error(
        429,
        br#"{"ok":false,"error_code":429,"description":"Too Many Requests"}"#,
        Some("7"),
    );
    assert_eq!(
        header_only.kind,
        SendErrorKind::SlowDown {
            after: Some(Duration::from_secs(7))
        }
    );

    let blocked =
        br#"{"ok":false,"error_code":403,"description":"Forbidden: bot was blocked by the user"}"#;
    let e = telegram::parse_send_response(403, blocked).unwrap_err();
    assert_eq!(e.kind, SendErrorKind::Permanent);
    assert!(e.message.contains("blocked"));
    let not_found = br#"{"ok":false,"error_code":400,"description":"Bad Request: chat not found"}"#;
    assert_eq!(
        telegram::classify_error(400, not_found, None).kind,
        SendErrorKind::Permanent
    );
    let token = br#"{"ok":false,"error_code":401,"description":"Unauthorized"}"#;
    assert_eq!(
        telegram::classify_error(401, token, None).kind,
        SendErrorKind::Auth
    );
    assert_eq!(
        telegram::classify_error(
            404,
            br#"{"ok":false,"error_code":404,"description":"Not Found"}"#,
            None
        )
        .kind,
        SendErrorKind::Auth
    );
    assert_eq!(
        telegram::classify_error(502, b"<html>", None).kind,
        SendErrorKind::Retry { after: None }
    );
}

//! WhatsApp Cloud API: every documented message type normalised, statuses, batches,
//! rendering of every outbound kind (exact JSON), send responses and error classification.

use crate::fixture;
use channels::event::{DeliveryState, DeliveryStatus, Event, ProviderError, Reaction};
use channels::model::{
    Button, Channel, Contact, Content, Details, Inbound, MediaKind, OutContent, Outbound, Referral,
    SharedContact,
};
use channels::send::{RenderError, SendErrorKind};
use channels::{meta, whatsapp};
use serde_json::json;
use std::time::Duration;

const NUMBER: &str = "106540352242922";

fn resolve(id: &str) -> Option<String> {
    (id == NUMBER).then(|| "kuafor-ayse".to_string())
}

fn events(name: &str) -> Vec<Event> {
    let env = meta::parse(&fixture("whatsapp", name)).unwrap();
    whatsapp::normalize(&env, resolve)
}

fn one_message(name: &str) -> Inbound {
    match events(name).as_slice() {
        [Event::Message(m)] => m.clone(),
        other => panic!("{name}: expected one message, got {other:?}"),
    }
}

fn ayse() -> Contact {
    Contact {
        handle: "905321234567".into(),
        name: Some("Ayşe Yılmaz".into()),
        phone: Some("+905321234567".into()),
    }
}

#[test]
fn text_with_contact_name_phone_and_time() {
    assert_eq!(
        one_message("text"),
        Inbound {
            tenant: "kuafor-ayse".into(),
            channel: Channel::Whatsapp,
            contact: ayse(),
            content: Content::Text {
                body: "Merhaba, yarın saat 14:00 için randevu alabilir miyim?".into()
            },
            referral: None,
            provider_id: "wamid.HBgLTEXT01".into(),
            sent_at_ms: Some(1_749_416_383_000),
            reply_to: None,
            details: Details::default(),
        }
    );
}

#[test]
fn context_becomes_reply_to() {
    let m = one_message("text_reply");
    assert_eq!(m.reply_to.as_deref(), Some("wamid.HBgLOURMSG01"));
    assert_eq!(m.content.text(), Some("Evet, bu saat uygun 👍"));
}

#[test]
fn media_of_every_kind() {
    let cases = [
        (
            "image",
            MediaKind::Image,
            "1479537139650973",
            "image/jpeg",
            Some("Saçımın şu anki hali"),
        ),
        (
            "audio",
            MediaKind::Audio,
            "1003383421387256",
            "audio/ogg; codecs=opus",
            None,
        ),
        (
            "video",
            MediaKind::Video,
            "1166846181421424",
            "video/mp4",
            Some("Kargo paketi hasarlı geldi"),
        ),
        (
            "document",
            MediaKind::Document,
            "1283737449651426",
            "application/pdf",
            Some("Faturam ekte"),
        ),
        (
            "sticker",
            MediaKind::Sticker,
            "1120373489638456",
            "image/webp",
            None,
        ),
    ];
    for (name, kind, id, mime, caption) in cases {
        let m = one_message(name);
        let Content::Media {
            kind: k,
            media_id,
            mime: mt,
            caption: c,
            url,
        } = &m.content
        else {
            panic!("{name}: {:?}", m.content)
        };
        assert_eq!(*k, kind, "{name}");
        assert_eq!(media_id.as_deref(), Some(id), "{name}");
        assert_eq!(mt.as_deref(), Some(mime), "{name}");
        assert_eq!(c.as_deref(), caption, "{name}");
        if name == "document" {
            assert!(
                url.as_deref()
                    .unwrap()
                    .starts_with("https://lookaside.fbsbx.com/")
            );
            assert_eq!(m.details.filename.as_deref(), Some("fatura-2025-06.pdf"));
        } else {
            assert_eq!(*url, None, "{name}");
            assert_eq!(m.details.filename, None, "{name}");
        }
    }
}

#[test]
fn location() {
    assert_eq!(
        one_message("location").content,
        Content::Location {
            latitude: 41.0369,
            longitude: 28.9850,
            name: Some("Kuaför Ayşe".into()),
            address: Some("İstiklal Cd. No:12, Beyoğlu, İstanbul".into()),
        }
    );
}

#[test]
fn shared_contacts_are_unsupported_content_with_the_cards_in_details() {
    let m = one_message("contacts");
    assert_eq!(
        m.content,
        Content::Unsupported {
            kind: "contacts".into()
        }
    );
    assert_eq!(
        m.details.contacts,
        vec![SharedContact {
            name: Some("Mehmet Demir".into()),
            phones: vec!["+905337654321".into()],
        }]
    );
    // The sender is still the customer, not the shared card.
    assert_eq!(m.contact, ayse());
}

#[test]
fn button_and_list_replies_are_interactive() {
    let b = one_message("interactive_button_reply");
    assert_eq!(
        b.content,
        Content::Interactive {
            id: "handoff_yes".into(),
            title: "Evet, bağlayın".into()
        }
    );
    assert_eq!(b.reply_to.as_deref(), Some("wamid.HBgLOURBTN01"));
    assert_eq!(
        one_message("interactive_list_reply").content,
        Content::Interactive {
            id: "slot_2025-06-12T14:00".into(),
            title: "Perşembe 14:00".into()
        }
    );
    assert_eq!(
        one_message("button").content,
        Content::Interactive {
            id: "confirm_appointment_8812".into(),
            title: "Randevumu onayla".into()
        }
    );
}

#[test]
fn reactions_are_their_own_event() {
    assert_eq!(
        events("reaction"),
        vec![Event::Reaction(Reaction {
            tenant: "kuafor-ayse".into(),
            channel: Channel::Whatsapp,
            contact: ayse(),
            message_id: "wamid.HBgLOURMSG01".into(),
            emoji: Some("❤️".into()),
            provider_id: Some("wamid.HBgLREACT01".into()),
            sent_at_ms: Some(1_749_416_383_000),
        })]
    );
    let [Event::Reaction(removed)] = <[Event; 1]>::try_from(events("reaction_removed")).unwrap()
    else {
        panic!()
    };
    assert_eq!(removed.emoji, None);
}

#[test]
fn unsupported_and_unknown_types_are_kept_as_unsupported() {
    assert_eq!(
        one_message("unsupported").content,
        Content::Unsupported {
            kind: "unsupported".into()
        }
    );
    assert_eq!(
        one_message("unknown").content,
        Content::Unsupported {
            kind: "unknown".into()
        }
    );
}

#[test]
fn click_to_whatsapp_referral() {
    let m = one_message("referral_ctwa");
    assert_eq!(
        m.referral,
        Some(Referral {
            source_type: Some("ad".into()),
            source_id: Some("120226305854810726".into()),
            source_url: Some("https://fb.me/3cr4Wqqkv".into()),
            headline: Some("Yaz indirimi: saç bakımında %30".into()),
            body: Some("Randevunu WhatsApp'tan hemen al!".into()),
            ctwa_clid: Some("ARAkLkA8rmlFeiCktEJQ-QTwRiyYHAFDLMNDBH0CD3qpjd0HR4irJ6LEkR7JwFF4XvnO2E4Nx0-eM-GABDLOPaOdRMv-_zfUQ2a".into()),
            media_type: Some("image".into()),
            image_url: Some("https://scontent.xx.fbcdn.net/v/t45.1600-4/ad.jpg".into()),
            thumbnail_url: Some("https://scontent.xx.fbcdn.net/v/t45.1600-4/thumb.jpg".into()),
            ..Referral::default()
        })
    );
}

#[test]
fn statuses_sent_delivered_read_failed() {
    let got = events("statuses");
    assert_eq!(got.len(), 6);
    let status = |i: usize| match &got[i] {
        Event::Status(s) => s.clone(),
        other => panic!("{i}: {other:?}"),
    };
    assert_eq!(
        status(0),
        DeliveryStatus {
            tenant: "kuafor-ayse".into(),
            channel: Channel::Whatsapp,
            provider_message_id: "wamid.HBgLOURMSG01".into(),
            status: DeliveryState::Sent,
            errors: vec![],
            timestamp_ms: Some(1_749_416_400_000),
            recipient: Some("905321234567".into()),
            callback_data: Some("out-7f3a".into()),
        }
    );
    assert_eq!(status(1).status, DeliveryState::Delivered);
    assert_eq!(status(2).status, DeliveryState::Read);
    let failed = status(3);
    assert_eq!(failed.status, DeliveryState::Failed);
    assert_eq!(
        failed.errors,
        vec![ProviderError {
            code: 131047,
            title: "Re-engagement message".into(),
            details: Some("Message failed to send because more than 24 hours have passed since the customer last replied to this number.".into()),
        }]
    );
    assert_eq!(status(4).errors[0].code, 131026);
    assert!(matches!(&got[5], Event::Ignored { reason } if reason.contains("played")));
}

#[test]
fn webhook_level_errors_are_logged_not_fatal() {
    let got = events("errors_webhook");
    assert!(matches!(&got[..], [Event::Ignored { reason }] if reason.contains("130429")));
}

#[test]
fn a_batch_counts_every_item_and_one_bad_item_stops_nothing() {
    let got = events("batch");
    let messages: Vec<&Inbound> = got
        .iter()
        .filter_map(|e| match e {
            Event::Message(m) => Some(m),
            _ => None,
        })
        .collect();
    // Good text, a text without a body (kept as Unsupported), an image.
    assert_eq!(
        messages
            .iter()
            .map(|m| m.provider_id.as_str())
            .collect::<Vec<_>>(),
        [
            "wamid.HBgLBATCH01",
            "wamid.HBgLBATCH02",
            "wamid.HBgLBATCH03"
        ]
    );
    assert_eq!(
        messages[1].content,
        Content::Unsupported {
            kind: "text".into()
        }
    );
    assert!(
        got.iter().any(
            |e| matches!(e, Event::Status(s) if s.provider_message_id == "wamid.HBgLOURMSG09")
        )
    );
    assert!(got.contains(&Event::Unroutable {
        channel: Channel::Whatsapp,
        id: "555000111222333".into()
    }));
    let ignored = got
        .iter()
        .filter(|e| matches!(e, Event::Ignored { .. }))
        .count();
    assert_eq!(
        ignored, 2,
        "the message without id and the entry that is a string: {got:#?}"
    );
    assert_eq!(got.len(), 3 + 1 + 1 + 2);
}

#[test]
fn instagram_bodies_are_not_whatsapp() {
    let env = meta::parse(&fixture("instagram", "text")).unwrap();
    assert!(whatsapp::normalize(&env, resolve).is_empty());
}

// ---------------------------------------------------------------- rendering

fn out(content: OutContent) -> Outbound {
    Outbound {
        tenant: "kuafor-ayse".into(),
        channel: Channel::Whatsapp,
        to: "905321234567".into(),
        content,
        idempotency_key: "out-7f3a".into(),
    }
}

fn buttons(n: usize) -> Vec<Button> {
    (1..=n)
        .map(|i| Button {
            id: format!("b{i}"),
            title: format!("Seçenek {i} — uzun bir başlık"),
        })
        .collect()
}

#[test]
fn renders_text() {
    assert_eq!(
        whatsapp::render(&out(OutContent::text("Randevunuz onaylandı ✅"))).unwrap(),
        json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": "905321234567",
            "type": "text",
            "text": { "body": "Randevunuz onaylandı ✅" },
            "biz_opaque_callback_data": "out-7f3a"
        })
    );
}

#[test]
fn renders_up_to_three_buttons_as_reply_buttons_with_cut_titles() {
    let body = whatsapp::render(&out(OutContent::Buttons {
        body: "Bir temsilciye bağlanmak ister misiniz?".into(),
        buttons: vec![
            Button {
                id: "handoff_yes".into(),
                title: "Evet, bağlayın".into(),
            },
            Button {
                id: "handoff_no".into(),
                title: "Hayır, teşekkür ederim".into(),
            },
        ],
    }))
    .unwrap();
    assert_eq!(
        body,
        json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": "905321234567",
            "type": "interactive",
            "interactive": {
                "type": "button",
                "body": { "text": "Bir temsilciye bağlanmak ister misiniz?" },
                "action": { "buttons": [
                    { "type": "reply", "reply": { "id": "handoff_yes", "title": "Evet, bağlayın" } },
                    { "type": "reply", "reply": { "id": "handoff_no", "title": "Hayır, teşekkür ede…" } }
                ]}
            },
            "biz_opaque_callback_data": "out-7f3a"
        })
    );
}

#[test]
fn renders_more_than_three_buttons_as_a_list() {
    let body = whatsapp::render(&out(OutContent::Buttons {
        body: "Hangi saat size uygun?".into(),
        buttons: buttons(4),
    }))
    .unwrap();
    assert_eq!(
        body["interactive"],
        json!({
            "type": "list",
            "body": { "text": "Hangi saat size uygun?" },
            "action": {
                "button": "Seçenekler",
                "sections": [{ "rows": [
                    { "id": "b1", "title": "Seçenek 1 — uzun bir ba…" },
                    { "id": "b2", "title": "Seçenek 2 — uzun bir ba…" },
                    { "id": "b3", "title": "Seçenek 3 — uzun bir ba…" },
                    { "id": "b4", "title": "Seçenek 4 — uzun bir ba…" }
                ]}]
            }
        })
    );
    assert_eq!(
        whatsapp::render(&out(OutContent::Buttons {
            body: "x".into(),
            buttons: buttons(11)
        })),
        Err(RenderError::TooManyButtons {
            channel: "WhatsApp",
            got: 11,
            max: 10
        })
    );
}

#[test]
fn renders_templates_with_language_and_body_parameters() {
    let body = whatsapp::render(&out(OutContent::Template {
        name: "randevu_hatirlatma".into(),
        language: "tr".into(),
        params: vec!["Ayşe".into(), "12 Haziran 14:00".into()],
    }))
    .unwrap();
    assert_eq!(
        body,
        json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": "905321234567",
            "type": "template",
            "template": {
                "name": "randevu_hatirlatma",
                "language": { "code": "tr" },
                "components": [{ "type": "body", "parameters": [
                    { "type": "text", "text": "Ayşe" },
                    { "type": "text", "text": "12 Haziran 14:00" }
                ]}]
            },
            "biz_opaque_callback_data": "out-7f3a"
        })
    );
    let bare = whatsapp::render(&out(OutContent::Template {
        name: "hello_world".into(),
        language: "en_US".into(),
        params: vec![],
    }))
    .unwrap();
    assert_eq!(
        bare["template"],
        json!({ "name": "hello_world", "language": { "code": "en_US" } })
    );
}

#[test]
fn renders_media_by_link() {
    let image = whatsapp::render(&out(OutContent::Media {
        kind: MediaKind::Image,
        url: "https://cdn.example.com/kampanya.jpg".into(),
        caption: Some("Yaz kampanyası".into()),
        filename: None,
    }))
    .unwrap();
    assert_eq!(image["type"], "image");
    assert_eq!(
        image["image"],
        json!({ "link": "https://cdn.example.com/kampanya.jpg", "caption": "Yaz kampanyası" })
    );
    let doc = whatsapp::render(&out(OutContent::Media {
        kind: MediaKind::Document,
        url: "https://cdn.example.com/fiyat-listesi.pdf".into(),
        caption: None,
        filename: Some("fiyat-listesi.pdf".into()),
    }))
    .unwrap();
    assert_eq!(
        doc["document"],
        json!({ "link": "https://cdn.example.com/fiyat-listesi.pdf", "filename": "fiyat-listesi.pdf" })
    );
}

#[test]
fn refuses_what_whatsapp_would_refuse() {
    assert!(matches!(
        whatsapp::render(&out(OutContent::text("x".repeat(4097)))),
        Err(RenderError::TooLong { max: 4096, .. })
    ));
    assert!(matches!(
        whatsapp::render(&out(OutContent::text("  "))),
        Err(RenderError::Empty { .. })
    ));
    assert!(matches!(
        whatsapp::render(&out(OutContent::Buttons {
            body: "x".into(),
            buttons: vec![Button {
                id: " b".into(),
                title: "B".into()
            }]
        })),
        Err(RenderError::InvalidButtonId { .. })
    ));
}

#[test]
fn mark_read_body() {
    assert_eq!(
        whatsapp::mark_read("wamid.HBgLTEXT01"),
        json!({ "messaging_product": "whatsapp", "status": "read", "message_id": "wamid.HBgLTEXT01" })
    );
}

// ---------------------------------------------------------------- responses

#[test]
fn a_successful_send_gives_the_wamid() {
    let body = br#"{"messaging_product":"whatsapp","contacts":[{"input":"+905321234567","wa_id":"905321234567"}],"messages":[{"id":"wamid.HBgLOUTGOING01","message_status":"accepted"}]}"#;
    assert_eq!(
        whatsapp::parse_send_response(200, body).unwrap(),
        "wamid.HBgLOUTGOING01"
    );
    let odd = whatsapp::parse_send_response(200, br#"{"messages":[]}"#).unwrap_err();
    assert_eq!(
        odd.kind,
        SendErrorKind::Permanent,
        "possibly sent: never retried blindly"
    );
}

fn graph_error(code: i64, subcode: Option<i64>, message: &str) -> Vec<u8> {
    let mut e = json!({
        "error": {
            "message": message,
            "type": "OAuthException",
            "code": code,
            "error_data": { "messaging_product": "whatsapp", "details": message },
            "fbtrace_id": "Az8or2yhqkZfEZ-_4Qn_Bam"
        }
    });
    if let Some(s) = subcode {
        e["error"]["error_subcode"] = json!(s);
    }
    serde_json::to_vec(&e).unwrap()
}

#[test]
fn classifies_the_documented_errors() {
    let cases: &[(u16, i64, SendErrorKind)] = &[
        (400, 131047, SendErrorKind::WindowClosed),
        (400, 470, SendErrorKind::WindowClosed),
        (400, 131026, SendErrorKind::Permanent),
        (400, 131051, SendErrorKind::Permanent),
        (400, 100, SendErrorKind::Permanent),
        (400, 132001, SendErrorKind::Permanent),
        (400, 131056, SendErrorKind::PairLimit),
        (400, 130429, SendErrorKind::SlowDown { after: None }),
        (400, 131048, SendErrorKind::SlowDown { after: None }),
        (400, 80007, SendErrorKind::SlowDown { after: None }),
        (400, 4, SendErrorKind::SlowDown { after: None }),
        (500, 131000, SendErrorKind::Retry { after: None }),
        (503, 131016, SendErrorKind::Retry { after: None }),
        (400, 1, SendErrorKind::Retry { after: None }),
        (401, 190, SendErrorKind::Auth),
        (403, 10, SendErrorKind::Auth),
        (403, 200, SendErrorKind::Auth),
    ];
    for (status, code, kind) in cases {
        let e = whatsapp::classify_error(*status, &graph_error(*code, None, "(#x) hata"), None);
        assert_eq!(e.kind, *kind, "code {code}");
        assert_eq!(e.code, Some(*code));
    }
}

#[test]
fn keeps_the_message_details_and_trace() {
    let body = graph_error(131047, Some(2494010), "Re-engagement message");
    let e = whatsapp::parse_send_response(400, &body).unwrap_err();
    assert_eq!(e.kind, SendErrorKind::WindowClosed);
    assert!(e.is_final());
    assert_eq!(e.subcode, Some(2494010));
    assert!(e.message.contains("Re-engagement message"));
    assert!(e.message.contains("Az8or2yhqkZfEZ-_4Qn_Bam"));
}

#[test]
fn honours_retry_after_and_falls_back_to_the_status() {
    let e = whatsapp::classify_error(
        429,
        &graph_error(130429, None, "Rate limit hit"),
        Some("12"),
    );
    assert_eq!(
        e.kind,
        SendErrorKind::SlowDown {
            after: Some(Duration::from_secs(12))
        }
    );
    assert_eq!(e.retry_after(), Some(Duration::from_secs(12)));
    assert!(!e.is_final());
    assert_eq!(
        whatsapp::classify_error(429, b"", None).kind,
        SendErrorKind::SlowDown { after: None }
    );
    assert_eq!(
        whatsapp::classify_error(502, b"<html>Bad Gateway</html>", Some("3")).kind,
        SendErrorKind::Retry {
            after: Some(Duration::from_secs(3))
        }
    );
    assert_eq!(
        whatsapp::classify_error(400, b"{}", None).kind,
        SendErrorKind::Permanent
    );
    let transient = br#"{"error":{"message":"An unexpected error has occurred.","code":987654,"is_transient":true}}"#;
    assert_eq!(
        whatsapp::classify_error(400, transient, None).kind,
        SendErrorKind::Retry { after: None }
    );
}

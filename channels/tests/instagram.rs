//! Instagram Messaging: messages, attachments, stories, quick replies, postbacks,
//! referrals, echoes, reads and reactions; rendering; errors.

use crate::fixture;
use channels::event::{DeliveryState, Event, ReferralEvent};
use channels::model::{
    Button, Channel, Contact, Content, Details, Inbound, MediaKind, OutContent, Outbound, Referral,
    Story,
};
use channels::send::{RenderError, SendErrorKind};
use channels::{instagram, meta};
use serde_json::json;

const ACCOUNT: &str = "17841400008460056";
const CUSTOMER: &str = "1914560112233445";

fn resolve(id: &str) -> Option<String> {
    match id {
        ACCOUNT => Some("butik-deniz".into()),
        "0" => Some("test-tenant".into()),
        _ => None,
    }
}

fn events(name: &str) -> Vec<Event> {
    let env = meta::parse(&fixture("instagram", name)).unwrap();
    instagram::normalize(&env, resolve)
}

fn messages(name: &str) -> Vec<Inbound> {
    events(name)
        .into_iter()
        .map(|e| match e {
            Event::Message(m) => m,
            other => panic!("{name}: {other:?}"),
        })
        .collect()
}

fn one(name: &str) -> Inbound {
    let mut all = messages(name);
    assert_eq!(all.len(), 1, "{name}");
    all.remove(0)
}

fn customer() -> Contact {
    Contact {
        handle: CUSTOMER.into(),
        name: None,
        phone: None,
    }
}

#[test]
fn text() {
    assert_eq!(
        one("text"),
        Inbound {
            tenant: "butik-deniz".into(),
            channel: Channel::Instagram,
            contact: customer(),
            content: Content::Text {
                body: "Merhaba, bu elbisenin M bedeni var mı?".into()
            },
            referral: None,
            provider_id: "aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQxNDAwMDA4NDYwMDU2".into(),
            sent_at_ms: Some(1_749_416_383_000),
            reply_to: None,
            details: Details::default(),
        }
    );
}

#[test]
fn an_image_attachment() {
    assert_eq!(
        one("image").content,
        Content::Media {
            kind: MediaKind::Image,
            url: Some(
                "https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=1791&signature=abc".into()
            ),
            media_id: None,
            mime: None,
            caption: None,
        }
    );
}

#[test]
fn several_attachments_become_several_messages() {
    let all = messages("attachments_many");
    let kinds: Vec<MediaKind> = all
        .iter()
        .map(|m| match &m.content {
            Content::Media { kind, .. } => *kind,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        kinds,
        [
            MediaKind::Image,
            MediaKind::Video,
            MediaKind::Audio,
            MediaKind::Document
        ]
    );
    let ids: Vec<&str> = all.iter().map(|m| m.provider_id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "aWdfZAG1MULTI01",
            "aWdfZAG1MULTI01:1",
            "aWdfZAG1MULTI01:2",
            "aWdfZAG1MULTI01:3"
        ]
    );
    assert_eq!(
        all[0].content.text(),
        Some("Bu ikisinden hangisi?"),
        "the text is the first caption"
    );
    assert_eq!(all[1].content.text(), None);
}

#[test]
fn shares_and_story_mentions_are_unsupported_with_the_story_kept() {
    assert_eq!(
        one("share").content,
        Content::Unsupported {
            kind: "share".into()
        }
    );
    let mention = one("story_mention");
    assert_eq!(
        mention.content,
        Content::Unsupported {
            kind: "story_mention".into()
        }
    );
    assert_eq!(
        mention.details.story,
        Some(Story {
            id: None,
            url: Some(
                "https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=17900&signature=xyz".into()
            )
        })
    );
}

#[test]
fn story_replies_and_message_replies() {
    let story = one("story_reply");
    assert_eq!(
        story.content.text(),
        Some("Bu kampanya hafta sonu da geçerli mi?")
    );
    assert_eq!(
        story.details.story,
        Some(Story {
            id: Some("3378812345678901234".into()),
            url: Some(
                "https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=17901&signature=st".into()
            ),
        })
    );
    assert_eq!(story.reply_to, None);
    assert_eq!(
        one("reply_to_message").reply_to.as_deref(),
        Some("aWdfZAG1OURMSG01")
    );
}

#[test]
fn quick_replies_and_postbacks_are_interactive() {
    assert_eq!(
        one("quick_reply").content,
        Content::Interactive {
            id: "handoff_yes".into(),
            title: "Evet, bağlayın".into()
        }
    );
    let pb = one("postback");
    assert_eq!(
        pb.content,
        Content::Interactive {
            id: "book_appointment".into(),
            title: "Randevu al".into()
        }
    );
    assert_eq!(pb.provider_id, "aWdfZAG1POSTBACK01");
}

#[test]
fn ad_referrals_ride_on_the_message() {
    assert_eq!(
        one("referral_ad").referral,
        Some(Referral {
            source_type: Some("ad".into()),
            source_id: Some("120210000000000001".into()),
            headline: Some("Yaz koleksiyonu %40 indirim".into()),
            media_type: Some("image".into()),
            image_url: Some("https://scontent.xx.fbcdn.net/v/ad-photo.jpg".into()),
            link_ref: Some("yaz_kampanyasi".into()),
            ..Referral::default()
        })
    );
}

#[test]
fn a_referral_without_a_message_is_a_referral_event() {
    assert_eq!(
        events("referral_standalone"),
        vec![Event::Referral(ReferralEvent {
            tenant: "butik-deniz".into(),
            channel: Channel::Instagram,
            contact: customer(),
            referral: Referral {
                source_type: Some("shortlink".into()),
                link_ref: Some("bio_link".into()),
                ..Referral::default()
            },
            sent_at_ms: Some(1_749_416_383_000),
        })]
    );
}

#[test]
fn echoes_deletions_are_ignored_unsupported_is_kept() {
    assert!(matches!(&events("echo")[..], [Event::Ignored { reason }] if reason.contains("echo")));
    assert!(
        matches!(&events("deleted")[..], [Event::Ignored { reason }] if reason.contains("deleted"))
    );
    assert_eq!(
        one("unsupported").content,
        Content::Unsupported {
            kind: "unsupported".into()
        }
    );
}

#[test]
fn reads_are_statuses_and_reactions_are_reactions() {
    let [Event::Status(read)] = <[Event; 1]>::try_from(events("read")).unwrap() else {
        panic!()
    };
    assert_eq!(read.status, DeliveryState::Read);
    assert_eq!(read.provider_message_id, "aWdfZAG1OURMSG01");
    assert_eq!(read.recipient.as_deref(), Some(CUSTOMER));

    let [Event::Reaction(r)] = <[Event; 1]>::try_from(events("reaction")).unwrap() else {
        panic!()
    };
    assert_eq!(r.message_id, "aWdfZAG1OURMSG01");
    assert_eq!(r.emoji.as_deref(), Some("❤️"));
    let [Event::Reaction(u)] = <[Event; 1]>::try_from(events("unreact")).unwrap() else {
        panic!()
    };
    assert_eq!(u.emoji, None);
}

#[test]
fn messaging_in_changes_is_read_too_and_comments_are_ignored() {
    let got = events("changes_test");
    assert!(
        matches!(&got[0], Event::Message(m) if m.tenant == "test-tenant" && m.content.text() == Some("random_text"))
    );
    assert!(matches!(&got[1], Event::Ignored { reason } if reason.contains("comments")));
}

#[test]
fn a_batch_counts_every_item() {
    let got = events("batch");
    assert!(matches!(&got[0], Event::Message(m) if m.provider_id == "aWdfZAG1BATCH01"));
    assert!(matches!(&got[1], Event::Status(s) if s.provider_message_id == "aWdfZAG1OURMSG05"));
    assert!(
        matches!(&got[2], Event::Ignored { .. }),
        "a malformed item: {:?}",
        got[2]
    );
    assert!(
        matches!(&got[3], Event::Message(m) if m.provider_id == "aWdfZAG1BATCH02" && m.content == Content::Unsupported { kind: "message".into() }),
        "a message with a broken body is kept: {:?}",
        got[3]
    );
    assert_eq!(
        got[4],
        Event::Unroutable {
            channel: Channel::Instagram,
            id: "17841499999999999".into()
        }
    );
    assert_eq!(got.len(), 5);
}

// ---------------------------------------------------------------- rendering

fn out(content: OutContent) -> Outbound {
    Outbound {
        tenant: "butik-deniz".into(),
        channel: Channel::Instagram,
        to: CUSTOMER.into(),
        content,
        idempotency_key: "out-1".into(),
    }
}

#[test]
fn renders_text_and_quick_replies() {
    assert_eq!(
        instagram::render(&out(OutContent::text("Evet, M bedeni stokta 🌸"))).unwrap(),
        vec![
            json!({ "recipient": { "id": CUSTOMER }, "message": { "text": "Evet, M bedeni stokta 🌸" } })
        ]
    );
    assert_eq!(
        instagram::render(&out(OutContent::Buttons {
            body: "Bir temsilciye bağlanmak ister misiniz?".into(),
            buttons: vec![
                Button {
                    id: "handoff_yes".into(),
                    title: "Evet".into()
                },
                Button {
                    id: "handoff_no".into(),
                    title: "Hayır, teşekkür ederim".into()
                },
            ],
        }))
        .unwrap(),
        vec![json!({
            "recipient": { "id": CUSTOMER },
            "message": {
                "text": "Bir temsilciye bağlanmak ister misiniz?",
                "quick_replies": [
                    { "content_type": "text", "title": "Evet", "payload": "handoff_yes" },
                    { "content_type": "text", "title": "Hayır, teşekkür ede…", "payload": "handoff_no" }
                ]
            }
        })]
    );
    let many: Vec<Button> = (0..14)
        .map(|i| Button {
            id: format!("b{i}"),
            title: "x".into(),
        })
        .collect();
    assert_eq!(
        instagram::render(&out(OutContent::Buttons {
            body: "x".into(),
            buttons: many
        })),
        Err(RenderError::TooManyButtons {
            channel: "Instagram",
            got: 14,
            max: 13
        })
    );
}

#[test]
fn renders_media_with_the_caption_as_a_second_message() {
    assert_eq!(
        instagram::render(&out(OutContent::Media {
            kind: MediaKind::Image,
            url: "https://cdn.example.com/elbise.jpg".into(),
            caption: Some("Yeni sezon".into()),
            filename: None,
        }))
        .unwrap(),
        vec![
            json!({ "recipient": { "id": CUSTOMER }, "message": { "attachment": { "type": "image", "payload": { "url": "https://cdn.example.com/elbise.jpg" } } } }),
            json!({ "recipient": { "id": CUSTOMER }, "message": { "text": "Yeni sezon" } }),
        ]
    );
}

#[test]
fn templates_do_not_exist_on_instagram() {
    assert!(matches!(
        instagram::render(&out(OutContent::Template {
            name: "x".into(),
            language: "tr".into(),
            params: vec![]
        })),
        Err(RenderError::Unsupported { .. })
    ));
    assert!(matches!(
        instagram::render(&out(OutContent::text("a".repeat(1001)))),
        Err(RenderError::TooLong { max: 1000, .. })
    ));
}

#[test]
fn send_responses_and_errors() {
    assert_eq!(
        instagram::parse_send_response(
            200,
            br#"{"recipient_id":"1914560112233445","message_id":"aWdfZAG1OUT01"}"#
        )
        .unwrap(),
        "aWdfZAG1OUT01"
    );
    let window = br#"{"error":{"message":"This message is sent outside of allowed window.","type":"IGApiException","code":10,"error_subcode":2534022,"fbtrace_id":"A9C5BFZGYCvRghcFEHTjgpC"}}"#;
    let e = instagram::parse_send_response(403, window).unwrap_err();
    assert_eq!(e.kind, SendErrorKind::WindowClosed);
    assert_eq!(e.subcode, Some(2534022));
    let messenger_window = br#"{"error":{"message":"(#10) This message is sent outside of allowed window.","type":"OAuthException","code":10,"error_subcode":2018278}}"#;
    assert_eq!(
        instagram::classify_error(400, messenger_window, None).kind,
        SendErrorKind::WindowClosed
    );
    let unavailable = br#"{"error":{"message":"This person isn't available right now.","type":"OAuthException","code":551,"error_subcode":1545041}}"#;
    assert_eq!(
        instagram::classify_error(400, unavailable, None).kind,
        SendErrorKind::Permanent
    );
    let rate = br#"{"error":{"message":"Calls to this api have exceeded the rate limit.","type":"OAuthException","code":613}}"#;
    assert_eq!(
        instagram::classify_error(400, rate, None).kind,
        SendErrorKind::SlowDown { after: None }
    );
    let ig_rate = br#"{"error":{"message":"There have been too many calls to this Instagram account.","type":"OAuthException","code":80002}}"#;
    assert_eq!(
        instagram::classify_error(400, ig_rate, None).kind,
        SendErrorKind::SlowDown { after: None }
    );
    let token = br#"{"error":{"message":"Error validating access token: Session has expired.","type":"OAuthException","code":190,"error_subcode":463}}"#;
    assert_eq!(
        instagram::classify_error(400, token, None).kind,
        SendErrorKind::Auth
    );
    let no_user = br#"{"error":{"message":"No matching user found","type":"OAuthException","code":100,"error_subcode":2018001}}"#;
    assert_eq!(
        instagram::classify_error(400, no_user, None).kind,
        SendErrorKind::Permanent
    );
    assert_eq!(
        instagram::classify_error(500, b"", None).kind,
        SendErrorKind::Retry { after: None }
    );
}

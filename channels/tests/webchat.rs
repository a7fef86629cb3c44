//! The web chat protocol: parsing and limits of client frames, the shape of server frames,
//! normalisation into `Inbound`, rendering, and the examples in `docs/webchat-protocol.md`.

use channels::model::{Button, Channel, Content, OutContent, Referral};
use channels::webchat::{
    ClientFrame, ErrorCode, FrameError, MAX_FRAME_BYTES, MAX_ID_CHARS, MAX_TEXT_CHARS,
    PROTOCOL_VERSION, PageReferral, Sender, ServerFrame, WIDGET_JS, normalize, parse_client_frame,
    render,
};
use serde_json::{Value, json};
use std::path::PathBuf;

fn parse(v: Value) -> Result<ClientFrame, FrameError> {
    parse_client_frame(&v.to_string())
}

fn code(raw: &str) -> ErrorCode {
    match parse_client_frame(raw) {
        Ok(frame) => panic!("{raw:?} was accepted as {frame:?}"),
        Err(e) => {
            assert!(!e.message.is_empty());
            e.code
        }
    }
}

fn message(text: &str) -> String {
    json!({"type": "message", "id": "m1", "text": text}).to_string()
}

// ---------------------------------------------------------------- every frame kind

#[test]
fn parses_hello_minimal_and_full() {
    assert_eq!(
        parse(json!({"type": "hello", "v": 1})).unwrap(),
        ClientFrame::Hello {
            v: 1,
            session: None,
            last_seen: None,
            name: None,
            referral: None
        }
    );
    let full = parse(json!({
        "type": "hello", "v": 1, "session": "S-1_a.b:c", "last_seen": 41, "name": "Ayşe Yılmaz",
        "referral": {"url": "https://x.example/?utm_source=ig", "utm_source": "ig",
                     "utm_medium": "social", "utm_campaign": "bahar", "gclid": "Cj0K"}
    }))
    .unwrap();
    assert_eq!(
        full,
        ClientFrame::Hello {
            v: 1,
            session: Some("S-1_a.b:c".into()),
            last_seen: Some(41),
            name: Some("Ayşe Yılmaz".into()),
            referral: Some(PageReferral {
                url: Some("https://x.example/?utm_source=ig".into()),
                utm_source: Some("ig".into()),
                utm_medium: Some("social".into()),
                utm_campaign: Some("bahar".into()),
                gclid: Some("Cj0K".into()),
            }),
        }
    );
    // null is the same as absent; another version still parses (the server refuses it).
    assert!(matches!(
        parse(json!({"type": "hello", "v": 2, "session": null, "last_seen": null})).unwrap(),
        ClientFrame::Hello {
            v: 2,
            session: None,
            last_seen: None,
            ..
        }
    ));
    assert_eq!(PROTOCOL_VERSION, 1);
}

#[test]
fn parses_message_postback_and_ping() {
    assert_eq!(
        parse(json!({"type": "message", "id": "m1", "text": "Merhaba"})).unwrap(),
        ClientFrame::Message {
            id: "m1".into(),
            text: "Merhaba".into()
        }
    );
    assert_eq!(
        parse(
            json!({"type": "postback", "id": "p1", "button": "slot:10:30", "title": "Cuma 10:30"})
        )
        .unwrap(),
        ClientFrame::Postback {
            id: "p1".into(),
            button: "slot:10:30".into(),
            title: "Cuma 10:30".into()
        }
    );
    assert_eq!(
        parse_client_frame(r#"{"type":"ping"}"#).unwrap(),
        ClientFrame::Ping
    );
    // Whitespace and key order do not matter.
    assert_eq!(
        parse_client_frame(" {\n \"text\": \"a\",\t\"id\": \"x\", \"type\": \"message\" } ")
            .unwrap(),
        ClientFrame::Message {
            id: "x".into(),
            text: "a".into()
        }
    );
}

#[test]
fn client_frames_round_trip_through_serde() {
    for frame in [
        ClientFrame::Hello {
            v: 1,
            session: Some("s".into()),
            last_seen: Some(3),
            name: None,
            referral: None,
        },
        ClientFrame::Message {
            id: "m".into(),
            text: "İyi günler".into(),
        },
        ClientFrame::Postback {
            id: "p".into(),
            button: "b".into(),
            title: "Evet".into(),
        },
        ClientFrame::Ping,
    ] {
        let raw = serde_json::to_string(&frame).unwrap();
        assert_eq!(parse_client_frame(&raw).unwrap(), frame, "{raw}");
    }
}

// ---------------------------------------------------------------- refusals

#[test]
fn malformed_frames() {
    for raw in [
        "",
        "{",
        "not json",
        "null",
        "42",
        "\"hello\"",
        "[]",
        "{}",
        r#"{"v": 1}"#,
        r#"{"type": "hi"}"#,
        r#"{"type": "Hello", "v": 1}"#,
        r#"{"type": "welcome", "v": 1, "session": "s", "tenant_name": "t"}"#,
        r#"{"type": "hello"}"#,
        r#"{"type": "hello", "v": "1"}"#,
        r#"{"type": "hello", "v": -1}"#,
        r#"{"type": "hello", "v": 1, "lang": "tr"}"#,
        r#"{"type": "message", "id": "m1"}"#,
        r#"{"type": "message", "id": "m1", "text": 5}"#,
        r#"{"type": "message", "id": "m1", "text": "a", "extra": true}"#,
        r#"{"type": "message", "id": "m1", "text": "a", "type": "ping"}"#,
        r#"{"type": "postback", "id": "p1", "button": "b"}"#,
        r#"{"type": "ping", "extra": 1}"#,
        r#"{"type": "message", "id": "m1", "text": "a"} trailing"#,
    ] {
        assert_eq!(code(raw), ErrorCode::Malformed, "{raw:?}");
    }
}

#[test]
fn oversize_frame_and_over_long_text_are_too_large() {
    let huge = format!(
        r#"{{"type":"ping","pad":"{}"}}"#,
        "x".repeat(MAX_FRAME_BYTES)
    );
    assert_eq!(code(&huge), ErrorCode::TooLarge);
    // The byte limit is checked before JSON, so garbage that large is too_large too.
    assert_eq!(code(&"{".repeat(MAX_FRAME_BYTES + 1)), ErrorCode::TooLarge);

    assert_eq!(
        code(&message(&"a".repeat(MAX_TEXT_CHARS + 1))),
        ErrorCode::TooLarge
    );
    assert!(parse_client_frame(&message(&"a".repeat(MAX_TEXT_CHARS))).is_ok());
    // Characters, not bytes: 4000 four-byte emoji are accepted (and still fit the frame).
    let teeth = "🦷".repeat(MAX_TEXT_CHARS);
    assert!(message(&teeth).len() < MAX_FRAME_BYTES);
    assert!(parse_client_frame(&message(&teeth)).is_ok());
    assert_eq!(code(&message(&format!("{teeth}ı"))), ErrorCode::TooLarge);

    let long_title = json!({"type": "postback", "id": "p", "button": "b",
                            "title": "ş".repeat(MAX_TEXT_CHARS + 1)});
    assert_eq!(code(&long_title.to_string()), ErrorCode::TooLarge);
}

#[test]
fn text_without_visible_characters_is_invalid() {
    for text in [
        "",
        " ",
        "  \n\t\r ",
        "\u{00A0}\u{3000}",         // no-break and ideographic spaces
        "\u{200B}",                 // zero-width space
        "\u{200C}\u{200D}\u{FEFF}", // ZWNJ, ZWJ, BOM
        "\u{200E}\u{200F}\u{202E}", // bidi marks and override
        "\u{2060}\u{2066}\u{2069}", // word joiner, bidi isolates
        " \u{00AD} \u{200B} ",      // soft hyphen among spaces
    ] {
        assert_eq!(code(&message(text)), ErrorCode::Invalid, "{text:?}");
    }
    let title = json!({"type": "postback", "id": "p", "button": "b", "title": "\u{200B} "});
    assert_eq!(code(&title.to_string()), ErrorCode::Invalid);
}

#[test]
fn control_characters_are_invalid_but_line_breaks_and_tabs_are_text() {
    for text in [
        "a\u{0}b",
        "a\u{7}",
        "\u{1B}[31mkırmızı",
        "a\u{7F}",
        "a\u{85}b",
    ] {
        assert_eq!(code(&message(text)), ErrorCode::Invalid, "{text:?}");
    }
    assert!(parse_client_frame(&message("satır 1\r\nsatır 2\tsekme")).is_ok());
    let name = json!({"type": "hello", "v": 1, "name": "Ali\u{0}"});
    assert_eq!(code(&name.to_string()), ErrorCode::Invalid);
    let long_name = json!({"type": "hello", "v": 1, "name": "a".repeat(MAX_ID_CHARS + 1)});
    assert_eq!(code(&long_name.to_string()), ErrorCode::Invalid);
    let referral = json!({"type": "hello", "v": 1, "referral": {"utm_source": "a\nb"}});
    assert_eq!(code(&referral.to_string()), ErrorCode::Invalid);
    let long_url = json!({"type": "hello", "v": 1, "referral": {"url": "u".repeat(2001)}});
    assert_eq!(code(&long_url.to_string()), ErrorCode::Invalid);
    // Unknown keys inside the referral are ignored (it is page data, not protocol).
    assert!(parse(json!({"type": "hello", "v": 1, "referral": {"fbclid": "x"}})).is_ok());
}

#[test]
fn ids_are_checked_everywhere() {
    let bad = [
        String::new(),
        "a b".into(),
        "ş".into(),
        "İ".into(),
        "a/b".into(),
        "<script>".into(),
        "a\u{200B}".into(),
        "x".repeat(MAX_ID_CHARS + 1),
    ];
    for id in &bad {
        let frames = [
            json!({"type": "message", "id": id, "text": "a"}),
            json!({"type": "postback", "id": id, "button": "b", "title": "t"}),
            json!({"type": "postback", "id": "p", "button": id, "title": "t"}),
            json!({"type": "hello", "v": 1, "session": id}),
        ];
        for frame in frames {
            assert_eq!(code(&frame.to_string()), ErrorCode::Invalid, "{frame}");
        }
    }
    let longest = "x".repeat(MAX_ID_CHARS);
    for id in [
        "a",
        "A-Z_a.z:09",
        "3f1c2a9e-8d4b-4c55-9a0e-0b7f6c1d2e3a",
        longest.as_str(),
    ] {
        assert!(
            parse(json!({"type": "message", "id": id, "text": "a"})).is_ok(),
            "{id}"
        );
    }
}

#[test]
fn frame_error_becomes_an_error_frame() {
    let err = parse_client_frame("{").unwrap_err();
    let frame = err.to_frame();
    assert_eq!(
        frame,
        ServerFrame::Error {
            code: ErrorCode::Malformed,
            message: err.message.clone()
        }
    );
    let v = serde_json::to_value(&frame).unwrap();
    assert_eq!(v["type"], "error");
    assert_eq!(v["code"], "malformed");
    assert_eq!(err.to_string(), err.message);
}

// ---------------------------------------------------------------- Unicode is kept

#[test]
fn unicode_text_is_accepted_and_preserved() {
    for text in [
        "İstanbul'da ılık bir gün; IŞIK ışık, İĞNE iğne",
        "Randevu 🦷😊 👨‍👩‍👧‍👦 🇹🇷 👍🏽",
        "مرحبا، أريد حجز موعد غدًا",
        "שלום, אני רוצה תור",
        "Merhaba مرحبا hello",
        "diş\u{200B}çi ve\u{200D}ya ka\u{00AD}fe\u{200C}ler",
        "  baştaki ve sondaki boşluklar  ",
        "satır 1\nsatır 2",
        "e\u{0301} vs é",
    ] {
        let frame = parse_client_frame(&message(text)).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        assert_eq!(
            frame,
            ClientFrame::Message {
                id: "m1".into(),
                text: text.into()
            }
        );
        let inbound = normalize("t", "S", None, None, &frame).unwrap();
        assert_eq!(
            inbound.content,
            Content::Text { body: text.into() },
            "stored as sent"
        );
    }
}

// ---------------------------------------------------------------- normalize

fn referral(v: Value) -> PageReferral {
    serde_json::from_value(v).unwrap()
}

#[test]
fn normalize_builds_a_text_inbound() {
    let frame = ClientFrame::Message {
        id: "m1".into(),
        text: "Merhaba".into(),
    };
    let inbound = normalize("demo-dental", "S1", Some("Ayşe"), None, &frame).unwrap();
    assert_eq!(inbound.tenant, "demo-dental");
    assert_eq!(inbound.channel, Channel::Webchat);
    assert_eq!(inbound.contact.handle, "S1");
    assert_eq!(inbound.contact.name.as_deref(), Some("Ayşe"));
    assert_eq!(inbound.contact.phone, None);
    assert_eq!(
        inbound.content,
        Content::Text {
            body: "Merhaba".into()
        }
    );
    assert_eq!(inbound.provider_id, "S1:m1");
    assert_eq!(inbound.referral, None);
    assert_eq!(inbound.sent_at_ms, None);
}

#[test]
fn normalize_turns_a_postback_into_interactive() {
    let frame = ClientFrame::Postback {
        id: "p7".into(),
        button: "randevu:evet".into(),
        title: "Evet".into(),
    };
    let inbound = normalize("t", "S1", None, None, &frame).unwrap();
    assert_eq!(
        inbound.content,
        Content::Interactive {
            id: "randevu:evet".into(),
            title: "Evet".into()
        }
    );
    assert_eq!(inbound.provider_id, "S1:p7");
    assert_eq!(inbound.content.text(), Some("Evet"));
}

#[test]
fn normalize_ignores_hello_and_ping() {
    let hello = ClientFrame::Hello {
        v: 1,
        session: None,
        last_seen: None,
        name: None,
        referral: None,
    };
    assert_eq!(normalize("t", "S", None, None, &hello), None);
    assert_eq!(normalize("t", "S", None, None, &ClientFrame::Ping), None);
}

#[test]
fn normalize_keeps_a_referral_only_with_utm_or_gclid() {
    let frame = ClientFrame::Message {
        id: "m".into(),
        text: "a".into(),
    };
    let with = |r: Value| {
        normalize("t", "S", None, Some(&referral(r)), &frame)
            .unwrap()
            .referral
    };

    assert_eq!(
        with(
            json!({"url": "https://x.example/?utm_source=google&utm_campaign=implant",
                    "utm_source": "google", "utm_campaign": "implant"})
        ),
        Some(Referral {
            source_type: Some("web".into()),
            source_url: Some("https://x.example/?utm_source=google&utm_campaign=implant".into()),
            utm_source: Some("google".into()),
            utm_campaign: Some("implant".into()),
            ..Referral::default()
        })
    );
    let gclid = with(json!({"gclid": "Cj0K"})).unwrap();
    assert_eq!(gclid.gclid.as_deref(), Some("Cj0K"));
    assert_eq!(gclid.source_type.as_deref(), Some("web"));
    assert_eq!(
        with(json!({"utm_medium": "cpc"}))
            .unwrap()
            .utm_medium
            .as_deref(),
        Some("cpc")
    );

    assert_eq!(with(json!({})), None);
    assert_eq!(
        with(json!({"url": "https://x.example/fiyatlar"})),
        None,
        "a bare URL is no campaign"
    );
    assert_eq!(
        with(json!({"utm_source": "", "gclid": "  "})),
        None,
        "blank values are absent"
    );
    let blank_url = with(json!({"url": "", "utm_source": "ig"})).unwrap();
    assert_eq!(blank_url.source_url, None);
}

// ---------------------------------------------------------------- render and server frames

#[test]
fn render_text_and_buttons() {
    let at = "2025-03-14T09:26:54Z".to_string();
    let text = render(
        2,
        Sender::Bot,
        &OutContent::text("Hoş geldiniz 👋"),
        at.clone(),
    );
    assert_eq!(
        serde_json::to_value(&text).unwrap(),
        json!({"type": "message", "seq": 2, "from": "bot", "text": "Hoş geldiniz 👋", "at": at}),
        "no buttons or client_id keys when there are none"
    );

    let buttons = vec![
        Button {
            id: "evet".into(),
            title: "Evet".into(),
        },
        Button {
            id: "hayir".into(),
            title: "Hayır".into(),
        },
    ];
    let content = OutContent::Buttons {
        body: "Randevu ister misiniz?".into(),
        buttons: buttons.clone(),
    };
    let frame = render(3, Sender::Agent, &content, at.clone());
    assert_eq!(
        frame,
        ServerFrame::Message {
            seq: 3,
            from: Sender::Agent,
            text: "Randevu ister misiniz?".into(),
            buttons,
            at: at.clone(),
            client_id: None,
        }
    );
    assert_eq!(
        serde_json::to_value(&frame).unwrap()["buttons"],
        json!([{"id": "evet", "title": "Evet"}, {"id": "hayir", "title": "Hayır"}])
    );

    let template = OutContent::Template {
        name: "randevu_hatirlatma".into(),
        language: "tr".into(),
        params: vec!["Ayşe".into(), "10:30".into()],
    };
    let ServerFrame::Message { text, buttons, .. } = render(4, Sender::Bot, &template, at) else {
        panic!("render makes a message frame");
    };
    assert_eq!(text, "randevu_hatirlatma Ayşe 10:30");
    assert!(buttons.is_empty());
}

#[test]
fn server_frames_serialise_as_documented() {
    let cases = [
        (
            ServerFrame::Welcome {
                v: 1,
                session: "S1".into(),
                tenant_name: "Gülüş".into(),
            },
            json!({"type": "welcome", "v": 1, "session": "S1", "tenant_name": "Gülüş"}),
        ),
        (
            ServerFrame::Ack {
                id: "m1".into(),
                duplicate: true,
            },
            json!({"type": "ack", "id": "m1", "duplicate": true}),
        ),
        (
            ServerFrame::Message {
                seq: 1,
                from: Sender::Customer,
                text: "a".into(),
                buttons: vec![],
                at: "2025-01-01T00:00:00Z".into(),
                client_id: Some("m1".into()),
            },
            json!({"type": "message", "seq": 1, "from": "customer", "text": "a",
                   "at": "2025-01-01T00:00:00Z", "client_id": "m1"}),
        ),
        (
            ServerFrame::Error {
                code: ErrorCode::RateLimited,
                message: "slow down".into(),
            },
            json!({"type": "error", "code": "rate_limited", "message": "slow down"}),
        ),
        (ServerFrame::Pong, json!({"type": "pong"})),
    ];
    for (frame, expected) in cases {
        assert_eq!(serde_json::to_value(&frame).unwrap(), expected);
        assert_eq!(
            serde_json::from_value::<ServerFrame>(expected).unwrap(),
            frame
        );
    }
}

#[test]
fn sender_names() {
    assert_eq!(Sender::for_sender("customer"), Sender::Customer);
    assert_eq!(Sender::for_sender("agent"), Sender::Agent);
    assert_eq!(Sender::for_sender("bot"), Sender::Bot);
    assert_eq!(Sender::for_sender("flow"), Sender::Bot);
    for (s, name) in [
        (Sender::Customer, "customer"),
        (Sender::Bot, "bot"),
        (Sender::Agent, "agent"),
    ] {
        assert_eq!(serde_json::to_value(s).unwrap(), json!(name));
    }
}

// ---------------------------------------------------------------- the document

const ERROR_CODES: [ErrorCode; 8] = [
    ErrorCode::Malformed,
    ErrorCode::TooLarge,
    ErrorCode::UnsupportedVersion,
    ErrorCode::OutOfOrder,
    ErrorCode::Invalid,
    ErrorCode::RateLimited,
    ErrorCode::UnknownTenant,
    ErrorCode::Unavailable,
];

fn protocol_doc() -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/webchat-protocol.md");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The ```json blocks of the document.
fn json_examples(doc: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut block: Option<String> = None;
    for line in doc.lines() {
        match (&mut block, line.trim_end()) {
            (None, "```json") => block = Some(String::new()),
            (Some(b), "```") => {
                out.push(
                    serde_json::from_str(b).unwrap_or_else(|e| panic!("doc example {b}: {e}")),
                );
                block = None;
            }
            (Some(b), _) => {
                b.push_str(line);
                b.push('\n');
            }
            (None, _) => {}
        }
    }
    out
}

#[test]
fn every_documented_example_is_a_valid_frame() {
    let doc = protocol_doc();
    let mut client_types = Vec::new();
    let mut server_types = Vec::new();
    for example in json_examples(&doc) {
        let kind = example["type"]
            .as_str()
            .expect("examples have a type")
            .to_string();
        let from_server = matches!(kind.as_str(), "welcome" | "ack" | "error" | "pong")
            || example.get("seq").is_some();
        if from_server {
            serde_json::from_value::<ServerFrame>(example.clone())
                .unwrap_or_else(|e| panic!("server example {example}: {e}"));
            server_types.push(kind);
        } else {
            parse_client_frame(&example.to_string())
                .unwrap_or_else(|e| panic!("client example {example}: {e}"));
            client_types.push(kind);
        }
    }
    for kind in ["hello", "message", "postback", "ping"] {
        assert!(
            client_types.iter().any(|k| k == kind),
            "no client {kind} example"
        );
    }
    for kind in ["welcome", "ack", "message", "error", "pong"] {
        assert!(
            server_types.iter().any(|k| k == kind),
            "no server {kind} example"
        );
    }
}

#[test]
fn the_document_states_every_limit_and_error_code() {
    let doc = protocol_doc();
    for code in ERROR_CODES {
        let name = serde_json::to_value(code).unwrap();
        let row = format!("| `{}` |", name.as_str().unwrap());
        assert!(
            doc.contains(&row),
            "docs/webchat-protocol.md has no error row {row}"
        );
    }
    for limit in ["16 384 bytes", "4 000 characters", "1–100 characters"] {
        assert!(doc.contains(limit), "the document should state {limit}");
    }
    assert_eq!(
        (MAX_FRAME_BYTES, MAX_TEXT_CHARS, MAX_ID_CHARS),
        (16_384, 4_000, 100)
    );
    assert!(doc.contains("GET /webchat/{tenant}/ws"));
}

// ---------------------------------------------------------------- the widget

#[test]
fn widget_script_is_shipped() {
    assert!(
        WIDGET_JS.len() > 5_000,
        "webchat.js looks like a placeholder"
    );
    for needle in [
        "/webchat/",
        "\"hello\"",
        "\"postback\"",
        "\"ping\"",
        "Mesajınızı yazın…",
        "attachShadow",
    ] {
        assert!(
            WIDGET_JS.contains(needle),
            "webchat.js should contain {needle}"
        );
    }
    assert!(
        WIDGET_JS.contains(&format!("VERSION = {PROTOCOL_VERSION}")),
        "the widget speaks our version"
    );
}

/// `node --check` when Node is installed (skipped otherwise).
#[test]
fn widget_script_is_valid_javascript() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src/webchat/webchat.js");
    match std::process::Command::new("node")
        .arg("--check")
        .arg(&path)
        .output()
    {
        Ok(out) => assert!(
            out.status.success(),
            "node --check webchat.js:\n{}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => eprintln!("node not available ({e}); skipping the syntax check"),
    }
}

//! The Meta webhook edge: `X-Hub-Signature-256`, the `hub.challenge` handshake, the envelope.

use crate::fixture;
use channels::ParseError;
use channels::meta::{
    self, ChallengeError, Object, SignatureError, parse, sign, verify_challenge, verify_signature,
};

const SECRET: &[u8] = b"6f1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e";

#[test]
fn a_correct_signature_passes() {
    let body = fixture("whatsapp", "text");
    let header = sign(SECRET, &body);
    assert!(header.starts_with("sha256="));
    assert_eq!(header.len(), "sha256=".len() + 64);
    assert_eq!(verify_signature(SECRET, &body, Some(&header)), Ok(()));
    // Meta sends lowercase hex; uppercase is the same digest.
    let upper = format!("sha256={}", header["sha256=".len()..].to_uppercase());
    assert_eq!(verify_signature(SECRET, &body, Some(&upper)), Ok(()));
}

#[test]
fn a_known_vector_matches() {
    // HMAC-SHA256("It's a Secret to Everybody", "Hello, World!") from GitHub's webhook docs,
    // the same scheme Meta uses.
    let header = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
    assert_eq!(
        verify_signature(
            b"It's a Secret to Everybody",
            b"Hello, World!",
            Some(header)
        ),
        Ok(())
    );
}

#[test]
fn a_wrong_secret_fails() {
    let body = fixture("whatsapp", "text");
    let header = sign(b"another-app-secret", &body);
    assert_eq!(
        verify_signature(SECRET, &body, Some(&header)),
        Err(SignatureError::Mismatch)
    );
}

#[test]
fn a_missing_header_fails() {
    let body = fixture("whatsapp", "text");
    assert_eq!(
        verify_signature(SECRET, &body, None),
        Err(SignatureError::Missing)
    );
}

#[test]
fn a_wrong_prefix_or_bad_hex_fails() {
    let body = fixture("whatsapp", "text");
    let good = sign(SECRET, &body);
    let hex = &good["sha256=".len()..];
    for bad in [
        format!("sha1={hex}"),
        hex.to_string(),
        format!("SHA256={hex}"),
        format!("sha256={}", &hex[..62]),
        format!("sha256={}zz", &hex[..62]),
        "sha256=".to_string(),
        String::new(),
    ] {
        assert_eq!(
            verify_signature(SECRET, &body, Some(&bad)),
            Err(SignatureError::Malformed),
            "{bad:?}"
        );
    }
}

#[test]
fn a_tampered_body_fails() {
    let body = fixture("whatsapp", "text");
    let header = sign(SECRET, &body);
    let mut tampered = body.clone();
    let at = tampered.len() / 2;
    tampered[at] ^= 1;
    assert_eq!(
        verify_signature(SECRET, &tampered, Some(&header)),
        Err(SignatureError::Mismatch)
    );
    // Re-serialising the JSON (whitespace) changes the bytes: only the raw body verifies.
    let reformatted =
        serde_json::to_vec(&serde_json::from_slice::<serde_json::Value>(&body).unwrap()).unwrap();
    assert_eq!(
        verify_signature(SECRET, &reformatted, Some(&header)),
        Err(SignatureError::Mismatch)
    );
}

#[test]
fn no_secret_never_verifies() {
    assert_eq!(
        verify_signature(b"", b"{}", Some(&sign(b"x", b"{}"))),
        Err(SignatureError::NoSecret)
    );
}

#[test]
fn the_challenge_handshake() {
    let ok = verify_challenge(
        Some("subscribe"),
        Some("kopru-verify"),
        Some("1158201444"),
        "kopru-verify",
    );
    assert_eq!(ok, Ok("1158201444".to_string()));
    assert_eq!(
        verify_challenge(
            Some("unsubscribe"),
            Some("kopru-verify"),
            Some("1"),
            "kopru-verify"
        ),
        Err(ChallengeError::WrongMode)
    );
    assert_eq!(
        verify_challenge(None, Some("kopru-verify"), Some("1"), "kopru-verify"),
        Err(ChallengeError::WrongMode)
    );
    assert_eq!(
        verify_challenge(Some("subscribe"), Some("wrong"), Some("1"), "kopru-verify"),
        Err(ChallengeError::WrongToken)
    );
    assert_eq!(
        verify_challenge(Some("subscribe"), None, Some("1"), "kopru-verify"),
        Err(ChallengeError::WrongToken)
    );
    assert_eq!(
        verify_challenge(Some("subscribe"), Some(""), Some("1"), ""),
        Err(ChallengeError::WrongToken),
        "an unconfigured token never matches"
    );
    for bad in [None, Some(""), Some("<script>alert(1)</script>")] {
        assert_eq!(
            verify_challenge(Some("subscribe"), Some("kopru-verify"), bad, "kopru-verify"),
            Err(ChallengeError::BadChallenge)
        );
    }
}

#[test]
fn parses_envelopes_of_both_products() {
    let wa = parse(&fixture("whatsapp", "text")).unwrap();
    assert_eq!(wa.object, Object::WhatsappBusinessAccount);
    assert_eq!(wa.entries.len(), 1);
    assert_eq!(wa.entries[0].id, "102290129340398");
    assert_eq!(wa.entries[0].changes[0].field, "messages");

    let ig = parse(&fixture("instagram", "text")).unwrap();
    assert_eq!(ig.object, Object::Instagram);
    assert_eq!(ig.entries[0].messaging.len(), 1);

    let page = parse(br#"{"object":"page","entry":[],"extra":1}"#).unwrap();
    assert_eq!(page.object, Object::Other("page".into()));
}

#[test]
fn a_bad_entry_is_kept_aside_not_fatal() {
    let env = parse(&fixture("whatsapp", "batch")).unwrap();
    assert_eq!(env.entries.len(), 2);
    assert_eq!(env.bad_entries.len(), 1);
}

#[test]
fn json_that_is_not_an_envelope_is_an_error() {
    assert!(matches!(parse(b"not json"), Err(ParseError::NotJson(_))));
    assert!(matches!(parse(b""), Err(ParseError::NotJson(_))));
    assert!(matches!(
        parse(b"{\"object\":\"instagram\""),
        Err(ParseError::NotJson(_))
    ));
    for shape in [
        &b"{}"[..],
        b"[]",
        b"42",
        b"{\"object\":\"instagram\"}",
        b"{\"entry\":[]}",
        b"{\"object\":1,\"entry\":[]}",
        b"{\"object\":\"instagram\",\"entry\":{}}",
    ] {
        assert!(
            matches!(parse(shape), Err(ParseError::Shape { .. })),
            "{}",
            String::from_utf8_lossy(shape)
        );
    }
}

#[test]
fn graph_error_type_is_public_for_fakes() {
    let e: meta::GraphError = serde_json::from_str(
        r#"{"message":"(#131047) Re-engagement message","type":"OAuthException","code":131047,"fbtrace_id":"Az8or2yhqkZfEZ-_4Qn_Bam"}"#,
    )
    .unwrap();
    assert_eq!(e.code, Some(131047));
    assert_eq!(e.kind.as_deref(), Some("OAuthException"));
}

//! No input makes a parser or a normaliser panic: arbitrary bytes, arbitrary JSON, and
//! documented payloads with parts replaced by arbitrary JSON.

use crate::fixture;
use channels::{instagram, meta, telegram, whatsapp};
use proptest::prelude::*;
use serde_json::Value;

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f)
            .map(Value::Number)
            .unwrap_or(Value::Null)),
        "[a-z_]{0,8}".prop_map(Value::String),
        prop_oneof![
            Just("whatsapp_business_account"),
            Just("instagram"),
            Just("messages"),
            Just("text"),
            Just("image"),
            Just("private"),
            Just("106540352242922")
        ]
        .prop_map(|s| Value::String(s.into())),
    ];
    leaf.prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("object".to_string()),
                    Just("entry".to_string()),
                    Just("changes".to_string()),
                    Just("value".to_string()),
                    Just("messages".to_string()),
                    Just("statuses".to_string()),
                    Just("messaging".to_string()),
                    Just("message".to_string()),
                    Just("type".to_string()),
                    Just("id".to_string()),
                    Just("from".to_string()),
                    Just("text".to_string()),
                    Just("metadata".to_string()),
                    Just("phone_number_id".to_string()),
                    Just("sender".to_string()),
                    Just("update_id".to_string()),
                    Just("chat".to_string()),
                    Just("callback_query".to_string()),
                    "[a-z_]{1,6}",
                ],
                inner,
                0..6,
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn any_tenant(_: &str) -> Option<String> {
    Some("t".into())
}

fn meta_all(raw: &[u8]) {
    if let Ok(env) = meta::parse(raw) {
        let _ = whatsapp::normalize(&env, any_tenant);
        let _ = instagram::normalize(&env, any_tenant);
    }
}

fn telegram_all(raw: &[u8]) {
    if let Ok(update) = telegram::parse_update(raw) {
        let _ = telegram::normalize("t", &update);
    }
    let _ = telegram::parse_updates(200, raw);
    let _ = telegram::parse_send_response(200, raw);
    let _ = telegram::classify_error(429, raw, Some("x"));
}

fn responses_all(raw: &[u8]) {
    let _ = whatsapp::parse_send_response(200, raw);
    let _ = whatsapp::classify_error(400, raw, Some("5"));
    let _ = instagram::parse_send_response(200, raw);
    let _ = instagram::classify_error(403, raw, None);
}

/// Replaces the value at a random depth-first position of `doc` with `v`.
fn splice(doc: &mut Value, mut at: usize, v: Value) {
    fn walk(node: &mut Value, at: &mut usize, v: &mut Option<Value>) {
        if v.is_none() {
            return;
        }
        if *at == 0 {
            *node = v.take().unwrap();
            return;
        }
        *at -= 1;
        match node {
            Value::Array(items) => items.iter_mut().for_each(|i| walk(i, at, v)),
            Value::Object(map) => map.values_mut().for_each(|i| walk(i, at, v)),
            _ => {}
        }
    }
    walk(doc, &mut at, &mut Some(v));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes(raw in prop::collection::vec(any::<u8>(), 0..512)) {
        meta_all(&raw);
        telegram_all(&raw);
        responses_all(&raw);
        let _ = meta::verify_signature(b"k", &raw, std::str::from_utf8(&raw).ok());
    }

    #[test]
    fn arbitrary_json(v in json_value()) {
        let raw = serde_json::to_vec(&v).unwrap();
        meta_all(&raw);
        telegram_all(&raw);
        responses_all(&raw);
    }

    #[test]
    fn documented_payloads_with_a_part_replaced(
        which in 0usize..6,
        at in 0usize..200,
        v in json_value(),
    ) {
        let (channel, name) = [
            ("whatsapp", "batch"), ("whatsapp", "statuses"), ("whatsapp", "referral_ctwa"),
            ("instagram", "batch"), ("instagram", "attachments_many"), ("telegram", "callback_query"),
        ][which];
        let mut doc: Value = serde_json::from_slice(&fixture(channel, name)).unwrap();
        splice(&mut doc, at, v);
        let raw = serde_json::to_vec(&doc).unwrap();
        meta_all(&raw);
        telegram_all(&raw);
    }
}

//! The LLM classifier and the cascade against a local fake OpenAI-compatible
//! server (axum, on an ephemeral port): what is sent, what is accepted, and
//! every failure falling back to the local answer.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use intents::cascade::{Cascade, CascadeInput, Path};
use intents::llm::{LlmClassifier, LlmConfig, LlmError, LlmRequest, TokenBudget};
use serde_json::{Value, json};

use super::nlu;

/// What the fake answers, per call (the last one repeats).
#[derive(Clone)]
enum Reply {
    /// 200 with this `message.content` and usage 100 + 10.
    Content(String),
    /// 200 with a refusal and no content.
    Refusal,
    /// 200 with this content and no `usage` (some compatible servers).
    NoUsage(String),
    /// This status, with an optional `Retry-After` value.
    Status(u16, Option<&'static str>),
    /// Sleep, then answer like `Content`.
    Slow(Duration, String),
}

#[derive(Default)]
struct Fake {
    replies: Mutex<Vec<Reply>>,
    calls: AtomicUsize,
    bodies: Mutex<Vec<Value>>,
    auth: Mutex<Vec<Option<String>>>,
}

impl Fake {
    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
    fn last_body(&self) -> Value {
        self.bodies
            .lock()
            .unwrap()
            .last()
            .cloned()
            .expect("a request")
    }
}

async fn completions(
    State(fake): State<Arc<Fake>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let n = fake.calls.fetch_add(1, Ordering::SeqCst);
    fake.bodies.lock().unwrap().push(body);
    fake.auth.lock().unwrap().push(
        headers
            .get("authorization")
            .map(|v| v.to_str().unwrap().to_owned()),
    );
    let reply = {
        let replies = fake.replies.lock().unwrap();
        replies[n.min(replies.len() - 1)].clone()
    };
    let ok = |content: Value, refusal: Value| {
        Json(json!({
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": 1_700_000_000,
            "model": "fake-model",
            "choices": [{
                "index": 0,
                "message": { "role": "assistant", "content": content, "refusal": refusal },
                "finish_reason": "stop"
            }],
            "usage": { "prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 110 }
        }))
        .into_response()
    };
    match reply {
        Reply::Content(c) => ok(json!(c), Value::Null),
        Reply::Refusal => ok(Value::Null, json!("I can't help with that.")),
        Reply::NoUsage(c) => Json(json!({
            "choices": [{ "index": 0, "message": { "role": "assistant", "content": c } }]
        }))
        .into_response(),
        Reply::Slow(d, c) => {
            tokio::time::sleep(d).await;
            ok(json!(c), Value::Null)
        }
        Reply::Status(status, retry_after) => {
            let mut response = (
                StatusCode::from_u16(status).unwrap(),
                Json(json!({ "error": { "message": "fake error", "type": "fake" } })),
            )
                .into_response();
            if let Some(r) = retry_after {
                response
                    .headers_mut()
                    .insert("retry-after", r.parse().unwrap());
            }
            response
        }
    }
}

/// Starts a fake answering `replies` in order; its base URL (`…/v1`).
async fn start_fake(replies: Vec<Reply>) -> (Arc<Fake>, String) {
    let fake = Arc::new(Fake {
        replies: Mutex::new(replies),
        ..Default::default()
    });
    let app = axum::Router::new()
        .route("/v1/chat/completions", post(completions))
        .with_state(Arc::clone(&fake));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (fake, format!("http://{addr}/v1"))
}

fn config(base_url: &str) -> LlmConfig {
    LlmConfig::new(base_url, "fake-model").with_api_key("sk-test")
}

fn answer(intent: &str, confidence: f64) -> Reply {
    Reply::Content(json!({ "intent": intent, "confidence": confidence }).to_string())
}

/// An ecommerce message the local model is unsure about (checked below).
const UNSURE: &str = "Bu ürünü iade etmeyip farklı renk almak istiyorum";

/// The same with personal data of every kind the masker knows.
const UNSURE_WITH_PII: &str = "Bu ürünü iade etmeyip farklı renk almak istiyorum, TC 10000000146, \
     tel 0555 111 22 33, mail ali.veli@ornek.com, IBAN TR33 0006 1005 1978 6457 8413 26";

const PII: [&str; 8] = [
    "10000000146",
    "0555 111 22 33",
    "5551112233",
    "ali.veli@ornek.com",
    "ornek.com",
    "TR33 0006 1005 1978 6457 8413 26",
    "TR330006100519786457841326",
    "1978 6457",
];

/// A threshold above the local confidence of [`UNSURE`], so the LLM is asked.
const HIGH: f32 = 0.95;

fn cascade(llm: LlmClassifier) -> Cascade {
    Cascade::new(Arc::new(nlu().clone()), Some(llm))
}

fn input(text: &str) -> CascadeInput<'_> {
    CascadeInput::new("t1", "ecommerce", text).threshold(HIGH)
}

#[tokio::test]
async fn the_local_model_is_unsure_about_the_probe() {
    let p = nlu().classify("ecommerce", UNSURE_WITH_PII);
    assert!(p.confidence < HIGH, "{p:?}");
    let p = nlu().classify("ecommerce", UNSURE);
    assert!(p.confidence < HIGH, "{p:?}");
}

#[tokio::test]
async fn a_valid_answer_is_used_and_its_prompt_hash_recorded() {
    let (fake, url) = start_fake(vec![answer("exchange_request", 0.88)]).await;
    let c = cascade(LlmClassifier::new(config(&url)).unwrap());
    let local = nlu().classify("ecommerce", UNSURE_WITH_PII);
    let out = c
        .understand(&input(UNSURE_WITH_PII).business("Moda Butik, an online clothes shop"))
        .await;
    assert_eq!(out.path, Path::Llm);
    assert_eq!(out.prediction.intent, "exchange_request");
    assert!((out.prediction.confidence - 0.88).abs() < 1e-6);
    assert_eq!(out.tokens, 110);
    let registry = prompts::Registry::builtin();
    let latest = registry.latest("intent_classifier").unwrap().id();
    assert_eq!(out.prompt.as_ref(), Some(latest));
    assert_eq!(out.prompt.as_ref().unwrap().hash.len(), 64);
    // The local guess leads the alternatives (unless it is the LLM's answer).
    if local.intent != "exchange_request" {
        assert_eq!(out.prediction.alternatives[0].0, local.intent);
    }
    assert!(
        out.prediction
            .alternatives
            .iter()
            .all(|(i, _)| i != "exchange_request")
    );
    assert_eq!(fake.calls(), 1);
    assert_eq!(
        fake.auth.lock().unwrap()[0].as_deref(),
        Some("Bearer sk-test")
    );
    let serialized = serde_json::to_value(&out).unwrap();
    assert_eq!(serialized["path"], "llm");
    assert!(serialized.get("reason").is_none());
    assert_eq!(serialized["prompt"]["hash"], json!(latest.hash));
}

#[tokio::test]
async fn the_request_is_masked_and_carries_a_closed_schema() {
    let (fake, url) = start_fake(vec![answer("exchange_request", 0.9)]).await;
    let c = cascade(LlmClassifier::new(config(&url)).unwrap());
    let out = c
        .understand(&input(UNSURE_WITH_PII).business("Moda Butik"))
        .await;
    assert_eq!(out.path, Path::Llm);
    let body = fake.last_body();
    let sent = body.to_string();
    for pii in PII {
        assert!(!sent.contains(pii), "{pii:?} left the process: {sent}");
    }
    let prompt = body["messages"][0]["content"].as_str().unwrap();
    for placeholder in ["[TCKN_1]", "[PHONE_1]", "[EMAIL_1]", "[IBAN_1]"] {
        assert!(prompt.contains(placeholder), "{placeholder} in {prompt}");
    }
    assert!(prompt.contains("Bu ürünü iade etmeyip farklı renk almak istiyorum"));
    assert!(prompt.contains("Moda Butik"));
    assert_eq!(body["model"], "fake-model");
    assert_eq!(body["messages"].as_array().unwrap().len(), 1);
    // The closed list: exactly the ecommerce model's intents, each described.
    let format = &body["response_format"];
    assert_eq!(format["type"], "json_schema");
    assert_eq!(format["json_schema"]["strict"], true);
    assert_eq!(format["json_schema"]["name"], "intent_classification");
    let schema = &format["json_schema"]["schema"];
    assert_eq!(schema["additionalProperties"], false);
    assert_eq!(schema["required"], json!(["intent", "confidence"]));
    assert_eq!(schema["properties"]["confidence"]["type"], "number");
    assert_eq!(schema["properties"]["confidence"]["minimum"], 0);
    assert_eq!(schema["properties"]["confidence"]["maximum"], 1);
    let mut listed: Vec<&str> = schema["properties"]["intent"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let mut model: Vec<&str> = nlu()
        .model("ecommerce")
        .intents()
        .iter()
        .map(String::as_str)
        .collect();
    listed.sort_unstable();
    model.sort_unstable();
    assert_eq!(listed, model);
    assert!(listed.contains(&"out_of_scope"));
    for intent in &listed {
        let description = intents::catalog::describe(intent).unwrap();
        assert!(
            prompt.contains(&format!("- `{intent}`: {description}")),
            "{intent} not described in the prompt"
        );
    }
}

#[tokio::test]
async fn invalid_answers_fall_back_to_the_local_answer() {
    let cases = [
        (
            Reply::Content("{\"intent\": \"exchange_request\",".into()),
            "malformed JSON",
        ),
        (Reply::Content("exchange_request".into()), "malformed JSON"),
        (answer("transfer_money", 0.9), "not allowed"),
        (answer("appointment_book", 0.9), "not allowed"), // a clinic intent, not ecommerce
        (answer("Exchange_Request", 0.9), "not allowed"),
        (answer("exchange_request", 1.5), "out of 0..1"),
        (answer("exchange_request", -0.1), "out of 0..1"),
        (
            Reply::Content(r#"{"intent":"exchange_request","confidence":"high"}"#.into()),
            "malformed JSON",
        ),
        (
            Reply::Content(
                r#"{"intent":"exchange_request","confidence":0.9,"action":"refund"}"#.into(),
            ),
            "malformed JSON",
        ),
        (Reply::Refusal, "refusal"),
    ];
    for (reply, why) in cases {
        let (fake, url) = start_fake(vec![reply]).await;
        let c = cascade(LlmClassifier::new(config(&url)).unwrap());
        let local = nlu().classify("ecommerce", UNSURE);
        let out = c.understand(&input(UNSURE)).await;
        assert_eq!(out.prediction, local, "{why}");
        match &out.path {
            Path::LocalAfterLlmFailure {
                reason: LlmError::Invalid { reason, tokens },
            } => {
                assert!(reason.contains(why), "{reason:?} should say {why:?}");
                assert_eq!(*tokens, 110);
            }
            other => panic!("{why}: {other:?}"),
        }
        assert_eq!(out.path.reason().as_deref(), Some("invalid"));
        assert_eq!(out.tokens, 110, "spent tokens are counted");
        assert!(out.prompt.is_some());
        assert_eq!(fake.calls(), 1, "an invalid answer is not retried");
    }
}

#[tokio::test]
async fn a_slow_llm_times_out_to_the_local_answer() {
    let (fake, url) = start_fake(vec![Reply::Slow(
        Duration::from_secs(5),
        json!({"intent": "exchange_request", "confidence": 0.9}).to_string(),
    )])
    .await;
    let llm = LlmClassifier::new(config(&url).with_timeout(Duration::from_millis(300))).unwrap();
    let c = cascade(llm);
    let started = Instant::now();
    let out = c.understand(&input(UNSURE)).await;
    let took = started.elapsed();
    assert_eq!(
        out.path,
        Path::LocalAfterLlmFailure {
            reason: LlmError::Timeout
        }
    );
    assert_eq!(out.prediction, nlu().classify("ecommerce", UNSURE));
    assert!(took < Duration::from_millis(1500), "took {took:?}");
    let serialized = serde_json::to_value(&out).unwrap();
    assert_eq!(serialized["path"], "local_after_llm_failure");
    assert_eq!(serialized["reason"], "timeout");
    assert_eq!(fake.calls(), 1, "a timeout is not retried");
}

#[tokio::test]
async fn the_default_timeout_is_three_seconds_with_two_retries() {
    let c = LlmConfig::new("http://127.0.0.1:9/v1", "m");
    assert_eq!(c.timeout, Duration::from_secs(3));
    assert_eq!(c.max_retries, 2);
    assert_eq!(c.daily_tokens, 200_000);
}

#[tokio::test]
async fn rate_limits_without_retry_after_are_retried_then_fall_back() {
    let (fake, url) = start_fake(vec![Reply::Status(429, None)]).await;
    let c = cascade(LlmClassifier::new(config(&url)).unwrap());
    let started = Instant::now();
    let out = c.understand(&input(UNSURE)).await;
    assert_eq!(
        out.path,
        Path::LocalAfterLlmFailure {
            reason: LlmError::RateLimited
        }
    );
    assert_eq!(out.path.reason().as_deref(), Some("rate_limited"));
    assert_eq!(out.prediction, nlu().classify("ecommerce", UNSURE));
    assert_eq!(fake.calls(), 3, "1 attempt + 2 retries");
    // Backoff 100 ms then 200 ms.
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(out.tokens, 0);
}

#[tokio::test]
async fn a_retry_after_beyond_the_deadline_is_not_waited_for() {
    let (fake, url) = start_fake(vec![Reply::Status(429, Some("30"))]).await;
    let c = cascade(LlmClassifier::new(config(&url)).unwrap());
    let started = Instant::now();
    let out = c.understand(&input(UNSURE)).await;
    assert_eq!(
        out.path,
        Path::LocalAfterLlmFailure {
            reason: LlmError::RateLimited
        }
    );
    assert_eq!(fake.calls(), 1);
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[tokio::test]
async fn retry_after_is_honoured_and_a_later_answer_used() {
    let (fake, url) = start_fake(vec![
        Reply::Status(429, Some("1")),
        answer("exchange_request", 0.8),
    ])
    .await;
    let c = cascade(LlmClassifier::new(config(&url)).unwrap());
    let started = Instant::now();
    let out = c.understand(&input(UNSURE)).await;
    assert_eq!(out.path, Path::Llm);
    assert_eq!(out.prediction.intent, "exchange_request");
    assert_eq!(fake.calls(), 2);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited Retry-After"
    );
}

#[tokio::test]
async fn server_errors_are_retried_then_fall_back() {
    let (fake, url) = start_fake(vec![Reply::Status(500, None)]).await;
    let c = cascade(LlmClassifier::new(config(&url)).unwrap());
    let out = c.understand(&input(UNSURE)).await;
    assert_eq!(
        out.path,
        Path::LocalAfterLlmFailure {
            reason: LlmError::Upstream(500)
        }
    );
    assert_eq!(out.path.reason().as_deref(), Some("upstream_500"));
    assert_eq!(out.prediction, nlu().classify("ecommerce", UNSURE));
    assert_eq!(fake.calls(), 3);

    // One 503 then an answer: the retry's answer is used.
    let (fake, url) = start_fake(vec![
        Reply::Status(503, None),
        answer("return_request", 0.7),
    ])
    .await;
    let c = cascade(LlmClassifier::new(config(&url)).unwrap());
    let out = c.understand(&input(UNSURE)).await;
    assert_eq!(out.path, Path::Llm);
    assert_eq!(out.prediction.intent, "return_request");
    assert_eq!(fake.calls(), 2);
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    let (fake, url) = start_fake(vec![Reply::Status(401, None)]).await;
    let c = cascade(LlmClassifier::new(config(&url)).unwrap());
    let out = c.understand(&input(UNSURE)).await;
    assert_eq!(
        out.path,
        Path::LocalAfterLlmFailure {
            reason: LlmError::Upstream(401)
        }
    );
    assert_eq!(fake.calls(), 1);
}

#[tokio::test]
async fn an_unreachable_endpoint_falls_back() {
    // Bind then drop a listener: nothing listens on that port now.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let llm = LlmClassifier::new(config(&format!("http://127.0.0.1:{port}/v1"))).unwrap();
    let out = cascade(llm).understand(&input(UNSURE)).await;
    assert!(
        matches!(
            out.path,
            Path::LocalAfterLlmFailure {
                reason: LlmError::Network(_)
            }
        ),
        "{:?}",
        out.path
    );
    assert_eq!(out.prediction, nlu().classify("ecommerce", UNSURE));
}

#[tokio::test]
async fn over_budget_tenants_do_not_call_the_llm() {
    let (fake, url) = start_fake(vec![answer("exchange_request", 0.9)]).await;
    let llm = LlmClassifier::new(config(&url)).unwrap();
    llm.budget().set_limit("t1", 150);
    let c = cascade(llm.clone());
    // First call: 110 tokens charged (< 150, so the second is allowed too).
    assert_eq!(c.understand(&input(UNSURE)).await.path, Path::Llm);
    assert_eq!(llm.budget().spent_today("t1"), 110);
    assert_eq!(c.understand(&input(UNSURE)).await.path, Path::Llm);
    assert_eq!(llm.budget().spent_today("t1"), 220);
    assert_eq!(fake.calls(), 2);
    // Now over: refused without a call; the local answer stands.
    let out = c.understand(&input(UNSURE)).await;
    assert_eq!(
        out.path,
        Path::LocalAfterLlmFailure {
            reason: LlmError::OverBudget
        }
    );
    assert_eq!(out.prediction, nlu().classify("ecommerce", UNSURE));
    assert_eq!(out.prompt, None);
    assert_eq!(fake.calls(), 2, "not called over budget");
    // Another tenant has its own budget.
    let other = CascadeInput::new("t2", "ecommerce", UNSURE).threshold(HIGH);
    assert_eq!(c.understand(&other).await.path, Path::Llm);
    assert_eq!(fake.calls(), 3);

    // A zero budget never calls.
    let budget = Arc::new(TokenBudget::new(0));
    let llm = LlmClassifier::with_budget(config(&url), budget).unwrap();
    let out = cascade(llm).understand(&input(UNSURE)).await;
    assert_eq!(out.path.reason().as_deref(), Some("over_budget"));
    assert_eq!(fake.calls(), 3);
}

#[tokio::test]
async fn a_confident_local_answer_does_not_call_the_llm() {
    let (fake, url) = start_fake(vec![answer("exchange_request", 0.9)]).await;
    let c = cascade(LlmClassifier::new(config(&url)).unwrap());
    let text = "kargom nerede";
    let local = nlu().classify("ecommerce", text);
    assert!(local.confidence >= 0.5, "{local:?}");
    let out = c
        .understand(&CascadeInput::new("t1", "ecommerce", text).threshold(0.5))
        .await;
    assert_eq!(out.path, Path::Local);
    assert_eq!(out.prediction, local);
    assert_eq!(out.prompt, None);
    assert_eq!(out.tokens, 0);
    assert_eq!(fake.calls(), 0);
}

#[tokio::test]
async fn nothing_to_understand_never_reaches_the_llm() {
    let (fake, url) = start_fake(vec![answer("greeting", 0.9)]).await;
    let llm = LlmClassifier::new(config(&url)).unwrap();
    let c = cascade(llm.clone());
    for text in ["", "   ", "🙏🙏", "👍", "?!", "\u{200B}"] {
        let out = c.understand(&input(text)).await;
        assert_eq!(out.path, Path::Local, "{text:?}");
        assert_eq!(out.prediction.intent, "out_of_scope");
        let allowed = [("greeting", "says hello")];
        let request = LlmRequest {
            tenant: "t1",
            niche: "ecommerce",
            text,
            allowed: &allowed,
            business: None,
        };
        assert_eq!(llm.classify(&request).await, Err(LlmError::NoContent));
    }
    assert_eq!(fake.calls(), 0);
}

#[tokio::test]
async fn health_tenants_are_local_only_unless_allowed() {
    let (fake, url) = start_fake(vec![answer("travel_logistics", 0.9)]).await;
    let c = cascade(LlmClassifier::new(config(&url)).unwrap());
    let text = "Sabiha Gökçen'e iniyorum beni alır mısınız";
    let input = CascadeInput::new("clinic", "health", text).threshold(HIGH);
    assert!(!input.llm_allowed);
    let out = c.understand(&input).await;
    assert_eq!(out.path, Path::Local);
    assert_eq!(fake.calls(), 0);
    // With a recorded vendor contract the gateway allows it.
    let out = c.understand(&input.llm_allowed(true)).await;
    assert_eq!(out.path, Path::Llm);
    assert_eq!(out.prediction.intent, "travel_logistics");
    assert_eq!(fake.calls(), 1);
    // A dental tenant may use it by default; any tenant may be forbidden.
    assert!(CascadeInput::new("d", "dental", text).llm_allowed);
    let out = c
        .understand(
            &CascadeInput::new("d", "dental", text)
                .threshold(HIGH)
                .llm_allowed(false),
        )
        .await;
    assert_eq!(out.path, Path::Local);
    assert_eq!(fake.calls(), 1);
}

#[tokio::test]
async fn without_an_llm_the_cascade_is_the_local_model() {
    let c = Cascade::new(Arc::new(nlu().clone()), None);
    let out = c.understand(&input(UNSURE)).await;
    assert_eq!(out.path, Path::Local);
    assert_eq!(out.prediction, nlu().classify("ecommerce", UNSURE));
}

#[tokio::test]
async fn the_answer_must_be_in_the_callers_list() {
    // Direct use of the classifier with a flow's own short list.
    let (_fake, url) = start_fake(vec![answer("cancel_order", 0.9), answer("affirm", 0.7)]).await;
    let llm = LlmClassifier::new(config(&url)).unwrap();
    let allowed = [("affirm", "says yes"), ("deny", "says no")];
    let request = LlmRequest {
        tenant: "t1",
        niche: "ecommerce",
        text: "iptal",
        allowed: &allowed,
        business: None,
    };
    let err = llm.classify(&request).await.unwrap_err();
    assert!(matches!(err, LlmError::Invalid { .. }), "{err:?}");
    let ok = llm.classify(&request).await.unwrap();
    assert_eq!(ok.intent, "affirm");
    assert_eq!(ok.usage.prompt_tokens, 100);
    assert_eq!(ok.usage.completion_tokens, 10);
    assert_eq!(ok.attempts, 1);
    assert_eq!(&ok.prompt, llm.prompt_id());
    // No allowed intents is a caller mistake, never sent.
    let request = LlmRequest {
        allowed: &[],
        ..request
    };
    assert!(matches!(
        llm.classify(&request).await,
        Err(LlmError::Config(_))
    ));
}

#[test]
fn every_intent_of_every_model_is_described() {
    let nlu = nlu();
    let mut missing = Vec::new();
    for niche in intents::data::NICHES.iter().copied().chain(["general"]) {
        for intent in nlu.model(niche).intents() {
            if intents::catalog::describe(intent).is_none() {
                missing.push(format!("{niche}: {intent}"));
            }
        }
    }
    assert!(missing.is_empty(), "{missing:?}");
    // The general model knows the general intents of the contract, no more.
    let general: std::collections::BTreeSet<&str> = nlu
        .model("general")
        .intents()
        .iter()
        .map(|i| &**i)
        .collect();
    let listed: std::collections::BTreeSet<&str> =
        intents::catalog::GENERAL_INTENTS.iter().copied().collect();
    assert_eq!(general, listed);
    // Every catalogue entry is unique and one line.
    let names: std::collections::BTreeSet<_> =
        intents::catalog::INTENTS.iter().map(|(n, _)| n).collect();
    assert_eq!(names.len(), intents::catalog::INTENTS.len());
    assert!(
        intents::catalog::INTENTS
            .iter()
            .all(|(_, d)| !d.contains('\n') && d.len() < 100)
    );
}

#[tokio::test]
async fn a_tenants_own_intents_are_offered_to_the_llm() {
    let mut nlu = nlu().clone();
    let extra: Vec<intents::Example> = [
        "kargo ücreti ne kadar",
        "kargo ucreti ne kadar",
        "kargo bedava mı",
        "kargo parası ne kadar tutuyor",
        "gönderim ücreti ne kadar",
        "kargo ücretini kim ödüyor",
        "kaç liradan sonra kargo bedava",
        "ücretsiz kargo var mı",
        "kargo fiyatı ne",
        "kargo için ne kadar ödeyeceğim",
        "kargoyu ben mi ödüyorum",
        "kargo masrafı var mı",
    ]
    .into_iter()
    .map(|t| intents::Example::new(t, "kargo_ucreti"))
    .collect();
    nlu.add_tenant("shop-1", "ecommerce", extra).unwrap();
    let (fake, url) = start_fake(vec![answer("kargo_ucreti", 0.8)]).await;
    let c = Cascade::new(
        Arc::new(nlu),
        Some(LlmClassifier::new(config(&url)).unwrap()),
    );
    let out = c
        .understand(&CascadeInput::new("shop-1", "ecommerce", UNSURE).threshold(HIGH))
        .await;
    assert_eq!(out.path, Path::Llm);
    assert_eq!(out.prediction.intent, "kargo_ucreti");
    let body = fake.last_body();
    let list = &body["response_format"]["json_schema"]["schema"]["properties"]["intent"]["enum"];
    assert!(list.as_array().unwrap().contains(&json!("kargo_ucreti")));
    let prompt = body["messages"][0]["content"].as_str().unwrap();
    assert!(
        prompt.contains("- `kargo_ucreti`: kargo ucreti"),
        "{prompt}"
    );
    // Another tenant of the niche has no such intent: the same answer is rejected.
    let out = c.understand(&input(UNSURE)).await;
    assert_eq!(out.path.reason().as_deref(), Some("invalid"));
}

#[tokio::test]
async fn an_endpoint_without_usage_is_charged_an_estimate() {
    let content = json!({ "intent": "exchange_request", "confidence": 0.7 }).to_string();
    let (fake, url) = start_fake(vec![Reply::NoUsage(content.clone())]).await;
    let llm = LlmClassifier::new(config(&url)).unwrap();
    let out = cascade(llm.clone()).understand(&input(UNSURE)).await;
    assert_eq!(out.path, Path::Llm);
    let prompt = fake.last_body()["messages"][0]["content"]
        .as_str()
        .unwrap()
        .chars()
        .count();
    let expected = prompt.div_ceil(4) + content.chars().count().div_ceil(4);
    assert_eq!(out.tokens as usize, expected);
    assert_eq!(llm.budget().spent_today("t1") as usize, expected);
}

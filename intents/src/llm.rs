//! The LLM intent classifier: asks any OpenAI-compatible chat-completions
//! endpoint which ONE intent of a closed list a message has.
//!
//! What leaves the process is the rendered `intent_classifier` prompt
//! (latest released version of the [`prompts`] crate) with the allowed
//! intents and their one-line descriptions, the business line given by the
//! caller, and the customer's text after [`crate::normalize::clean`] and
//! [`crate::mask::mask`] (TCKN, VKN, IBAN, card, phone and e-mail become
//! `[TCKN_1]`-style placeholders). Nothing else from the customer.
//!
//! The answer is constrained by a strict JSON schema (`intent` is an enum of
//! exactly the allowed intents, `confidence` a number in 0..1) and validated
//! again here: malformed JSON, an intent outside the list or a confidence out
//! of range is [`LlmError::Invalid`], never trusted. The LLM chooses; it never
//! acts, so a prompt injection in the customer's text can at worst pick a
//! wrong intent from the list.
//!
//! Calls are bounded: one deadline for the whole call (`timeout`, default
//! 3 s) including at most `max_retries` retries (default 2) on 429, 5xx and
//! network errors, with a short doubling backoff or the server's
//! `Retry-After`; a retry that cannot finish before the deadline is not
//! made. A per-tenant daily [`TokenBudget`] refuses calls of a tenant that
//! has spent its tokens.
//!
//! The client is a small reqwest one rather than `async-openai`: see
//! "LLM cascade" in `docs/nlu.md` for the measurement behind that.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use prompts::{Prompt, PromptId, Registry};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::{mask, normalize};

/// The prompt template the classifier renders.
pub const PROMPT_NAME: &str = "intent_classifier";

/// The `json_schema.name` sent with every request.
pub const SCHEMA_NAME: &str = "intent_classification";

/// Default tokens a tenant may spend per day (Europe/Istanbul calendar day).
pub const DEFAULT_DAILY_TOKENS: u64 = 200_000;

/// Where and how to reach the LLM. The gateway maps
/// `[upstreams] llm = { base_url, model, api_key_env }` into it.
#[derive(Clone)]
pub struct LlmConfig {
    /// The API root, e.g. `https://api.openai.com/v1`; requests go to
    /// `{base_url}/chat/completions`.
    pub base_url: String,
    /// The model name sent in each request.
    pub model: String,
    /// Sent as `Authorization: Bearer …` when present (never printed by `Debug`).
    pub api_key: Option<String>,
    /// The whole call's deadline, retries and backoff included. Default 3 s.
    pub timeout: Duration,
    /// Retries after the first attempt on 429, 5xx and network errors. Default 2.
    pub max_retries: u32,
    /// Wait before the first retry when the server sends no `Retry-After`;
    /// doubled for each further retry. Default 100 ms.
    pub backoff: Duration,
    /// `temperature` sent with each request; `None` leaves it out (some
    /// reasoning models accept only their default). Default `Some(0.0)`.
    pub temperature: Option<f32>,
    /// `max_completion_tokens` sent with each request; `None` (default) leaves
    /// it out. The answer is ~20 tokens; reasoning models need more.
    pub max_completion_tokens: Option<u32>,
    /// Tokens per tenant per day unless [`TokenBudget::set_limit`] says
    /// otherwise. Default [`DEFAULT_DAILY_TOKENS`].
    pub daily_tokens: u64,
    /// The `intent_classifier` version to render (`"v1"`); `None` (default)
    /// means the latest shipped version.
    pub prompt_version: Option<String>,
}

impl LlmConfig {
    /// A configuration with the defaults above.
    pub fn new(base_url: impl Into<String>, model: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            model: model.into(),
            api_key: None,
            timeout: Duration::from_secs(3),
            max_retries: 2,
            backoff: Duration::from_millis(100),
            temperature: Some(0.0),
            max_completion_tokens: None,
            daily_tokens: DEFAULT_DAILY_TOKENS,
            prompt_version: None,
        }
    }

    /// Sets the API key.
    pub fn with_api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    /// Sets the whole call's deadline.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

impl fmt::Debug for LlmConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LlmConfig")
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("timeout", &self.timeout)
            .field("max_retries", &self.max_retries)
            .field("backoff", &self.backoff)
            .field("temperature", &self.temperature)
            .field("max_completion_tokens", &self.max_completion_tokens)
            .field("daily_tokens", &self.daily_tokens)
            .field("prompt_version", &self.prompt_version)
            .finish()
    }
}

/// One question to the LLM classifier.
#[derive(Clone, Copy, Debug)]
pub struct LlmRequest<'a> {
    /// The tenant (for the token budget).
    pub tenant: &'a str,
    /// The tenant's niche (not sent; for the caller's records).
    pub niche: &'a str,
    /// The customer's original text; cleaned and masked before it leaves.
    pub text: &'a str,
    /// The closed list: `(intent, one-line description)`, e.g. from
    /// [`crate::catalog::describe`]. The answer must be one of these names.
    pub allowed: &'a [(&'a str, &'a str)],
    /// One line about the business ("Gülüş Diş Kliniği, a dental clinic in
    /// Istanbul"), or `None`. Sent as is: never customer data.
    pub business: Option<&'a str>,
}

/// Tokens reported by the endpoint for one call.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Usage {
    /// Input tokens.
    pub prompt_tokens: u32,
    /// Output tokens.
    pub completion_tokens: u32,
}

impl Usage {
    /// Input plus output tokens (what the budget is charged).
    pub fn total(&self) -> u32 {
        self.prompt_tokens.saturating_add(self.completion_tokens)
    }
}

/// A validated answer of the LLM.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LlmAnswer {
    /// One of the allowed intents.
    pub intent: String,
    /// The model's own confidence, in [0, 1] (not calibrated like the local
    /// model's).
    pub confidence: f32,
    /// The prompt version that produced it (record the hash with the message).
    pub prompt: PromptId,
    /// Tokens of the successful attempt as the endpoint reported them
    /// (estimated at ~4 characters a token when it reports none), charged to
    /// the tenant's budget.
    pub usage: Usage,
    /// HTTP attempts made (1 + retries).
    pub attempts: u32,
}

/// Why the LLM gave no usable answer. In the cascade, every one of these
/// means "the local answer stands".
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum LlmError {
    /// Empty, whitespace-only, emoji-only or punctuation-only text: never sent.
    #[error("nothing to classify")]
    NoContent,
    /// The tenant has spent its daily tokens: not sent.
    #[error("tenant over its daily token budget")]
    OverBudget,
    /// The deadline passed (slow endpoint, or retries used it up).
    #[error("timed out")]
    Timeout,
    /// 429 on the last attempt.
    #[error("rate limited (429)")]
    RateLimited,
    /// A non-success HTTP status other than 429 (5xx after retries, or 4xx).
    #[error("upstream status {0}")]
    Upstream(u16),
    /// Connection refused, reset, DNS, TLS… on the last attempt.
    #[error("network: {0}")]
    Network(String),
    /// The endpoint answered but the answer is not a valid classification:
    /// malformed JSON, an intent outside the list, a confidence out of range,
    /// a refusal, no choices. Rejected, never trusted. `tokens` were still
    /// spent (and charged).
    #[error("invalid answer: {reason}")]
    Invalid {
        /// What was wrong.
        reason: String,
        /// Tokens the endpoint reported for it.
        tokens: u32,
    },
    /// A caller or setup mistake: no allowed intents, a prompt that does not
    /// render, an HTTP client that cannot be built.
    #[error("configuration: {0}")]
    Config(String),
}

impl LlmError {
    /// A short stable code for records and metrics: `no_content`,
    /// `over_budget`, `timeout`, `rate_limited`, `upstream_<status>`,
    /// `network`, `invalid`, `config`.
    pub fn code(&self) -> String {
        match self {
            LlmError::NoContent => "no_content".into(),
            LlmError::OverBudget => "over_budget".into(),
            LlmError::Timeout => "timeout".into(),
            LlmError::RateLimited => "rate_limited".into(),
            LlmError::Upstream(status) => format!("upstream_{status}"),
            LlmError::Network(_) => "network".into(),
            LlmError::Invalid { .. } => "invalid".into(),
            LlmError::Config(_) => "config".into(),
        }
    }

    /// Whether a request was sent (so a prompt version was used).
    pub fn was_sent(&self) -> bool {
        !matches!(
            self,
            LlmError::NoContent | LlmError::OverBudget | LlmError::Config(_)
        )
    }

    /// Tokens spent on this failed call (only [`LlmError::Invalid`] knows).
    pub fn tokens(&self) -> u32 {
        match self {
            LlmError::Invalid { tokens, .. } => *tokens,
            _ => 0,
        }
    }
}

impl Serialize for LlmError {
    /// As its [`LlmError::code`].
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.code())
    }
}

/// Per-tenant daily token budgets, in memory (per process), thread-safe.
///
/// A call is refused when the tenant's tokens spent today (Europe/Istanbul
/// calendar day) have reached its limit; the usage of each answer is charged
/// after it. Concurrent calls may overshoot the limit by what they spend;
/// several replicas each keep their own count.
pub struct TokenBudget {
    default_daily: u64,
    clock: Box<dyn Fn() -> jiff::Timestamp + Send + Sync>,
    tz: jiff::tz::TimeZone,
    state: Mutex<BudgetState>,
}

#[derive(Default)]
struct BudgetState {
    limits: HashMap<String, u64>,
    /// tenant → (day, tokens spent that day)
    spent: HashMap<String, (jiff::civil::Date, u64)>,
}

impl TokenBudget {
    /// Budgets of `default_daily` tokens per tenant per day.
    pub fn new(default_daily: u64) -> Self {
        let tz = jiff::tz::TimeZone::get("Europe/Istanbul")
            .unwrap_or_else(|_| jiff::tz::TimeZone::fixed(jiff::tz::offset(3)));
        Self {
            default_daily,
            clock: Box::new(jiff::Timestamp::now),
            tz,
            state: Mutex::new(BudgetState::default()),
        }
    }

    /// The same with another clock (tests).
    pub fn with_clock(
        mut self,
        clock: impl Fn() -> jiff::Timestamp + Send + Sync + 'static,
    ) -> Self {
        self.clock = Box::new(clock);
        self
    }

    /// Sets one tenant's tokens per day (0 refuses every call).
    pub fn set_limit(&self, tenant: &str, daily: u64) {
        self.lock().limits.insert(tenant.to_owned(), daily);
    }

    /// A tenant's tokens per day.
    pub fn limit(&self, tenant: &str) -> u64 {
        self.lock()
            .limits
            .get(tenant)
            .copied()
            .unwrap_or(self.default_daily)
    }

    /// Tokens a tenant has spent today.
    pub fn spent_today(&self, tenant: &str) -> u64 {
        let today = self.today();
        match self.lock().spent.get(tenant) {
            Some((day, spent)) if *day == today => *spent,
            _ => 0,
        }
    }

    /// Tokens a tenant may still spend today.
    pub fn remaining(&self, tenant: &str) -> u64 {
        self.limit(tenant).saturating_sub(self.spent_today(tenant))
    }

    /// `Err(OverBudget)` when the tenant has nothing left today.
    pub fn check(&self, tenant: &str) -> Result<(), LlmError> {
        if self.remaining(tenant) == 0 {
            Err(LlmError::OverBudget)
        } else {
            Ok(())
        }
    }

    /// Adds spent tokens to a tenant's day.
    pub fn charge(&self, tenant: &str, tokens: u64) {
        let today = self.today();
        let mut state = self.lock();
        let entry = state.spent.entry(tenant.to_owned()).or_insert((today, 0));
        if entry.0 != today {
            *entry = (today, 0);
        }
        entry.1 = entry.1.saturating_add(tokens);
    }

    fn today(&self) -> jiff::civil::Date {
        (self.clock)().to_zoned(self.tz.clone()).date()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BudgetState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl fmt::Debug for TokenBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenBudget")
            .field("default_daily", &self.default_daily)
            .finish_non_exhaustive()
    }
}

/// The LLM classifier. Cheap to clone (shared inside); `Send + Sync`.
#[derive(Clone, Debug)]
pub struct LlmClassifier {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: LlmConfig,
    url: String,
    http: reqwest::Client,
    prompt: Prompt,
    budget: Arc<TokenBudget>,
}

impl LlmClassifier {
    /// A classifier with its own [`TokenBudget`] of `config.daily_tokens`.
    pub fn new(config: LlmConfig) -> Result<Self, LlmError> {
        let budget = Arc::new(TokenBudget::new(config.daily_tokens));
        Self::with_budget(config, budget)
    }

    /// A classifier charging a given budget (shared, or with a test clock).
    pub fn with_budget(config: LlmConfig, budget: Arc<TokenBudget>) -> Result<Self, LlmError> {
        let registry = Registry::builtin();
        let prompt = match &config.prompt_version {
            Some(v) => registry.get(PROMPT_NAME, v),
            None => registry.latest(PROMPT_NAME),
        }
        .ok_or_else(|| {
            LlmError::Config(format!(
                "no prompt {PROMPT_NAME} {}",
                config.prompt_version.as_deref().unwrap_or("(latest)")
            ))
        })?
        .clone();
        let http = reqwest::Client::builder()
            .connect_timeout(config.timeout.min(Duration::from_secs(2)))
            .build()
            .map_err(|e| LlmError::Config(format!("HTTP client: {e}")))?;
        let url = format!("{}/chat/completions", config.base_url.trim_end_matches('/'));
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                url,
                http,
                prompt,
                budget,
            }),
        })
    }

    /// The per-tenant budget (set limits with [`TokenBudget::set_limit`]).
    pub fn budget(&self) -> &TokenBudget {
        &self.inner.budget
    }

    /// The prompt version every request uses.
    pub fn prompt_id(&self) -> &PromptId {
        self.inner.prompt.id()
    }

    /// The configuration.
    pub fn config(&self) -> &LlmConfig {
        &self.inner.config
    }

    /// The JSON schema of the answer for a closed list of intents.
    pub fn answer_schema(allowed: &[&str]) -> Value {
        json!({
            "type": "object",
            "properties": {
                "intent": { "type": "string", "enum": allowed },
                "confidence": { "type": "number", "minimum": 0, "maximum": 1 },
            },
            "required": ["intent", "confidence"],
            "additionalProperties": false,
        })
    }

    /// The chat-completions request body for `request` (masked text inside),
    /// exactly as [`LlmClassifier::classify`] sends it.
    pub fn request_body(&self, request: &LlmRequest<'_>) -> Result<Value, LlmError> {
        if !normalize::has_content(request.text) {
            return Err(LlmError::NoContent);
        }
        let mut names: Vec<&str> = Vec::with_capacity(request.allowed.len());
        let mut intents = Vec::with_capacity(request.allowed.len());
        for (name, description) in request.allowed {
            if name.is_empty() || names.contains(name) {
                continue;
            }
            names.push(name);
            intents.push(json!({ "name": name, "description": description }));
        }
        if names.is_empty() {
            return Err(LlmError::Config("no allowed intents".into()));
        }
        let masked = mask::mask(&normalize::clean(request.text));
        let mut ctx = json!({ "intents": intents, "message": masked.text });
        if let Some(business) = request.business.filter(|b| !b.trim().is_empty()) {
            ctx["business"] = json!(business);
        }
        let prompt = self
            .inner
            .prompt
            .render(ctx)
            .map_err(|e| LlmError::Config(e.to_string()))?;
        let config = &self.inner.config;
        let mut body = json!({
            "model": config.model,
            "messages": [{ "role": "system", "content": prompt }],
            "response_format": {
                "type": "json_schema",
                "json_schema": {
                    "name": SCHEMA_NAME,
                    "strict": true,
                    "schema": Self::answer_schema(&names),
                },
            },
        });
        if let Some(t) = config.temperature {
            body["temperature"] = json!(t);
        }
        if let Some(m) = config.max_completion_tokens {
            body["max_completion_tokens"] = json!(m);
        }
        Ok(body)
    }

    /// Asks the LLM which allowed intent `request.text` has. See the module
    /// docs for what is sent, the validation, the deadline, the retries and
    /// the budget.
    pub async fn classify(&self, request: &LlmRequest<'_>) -> Result<LlmAnswer, LlmError> {
        let body = self.request_body(request)?;
        self.inner.budget.check(request.tenant)?;
        let (raw, attempts) = self.send(&body).await?;
        let usage = match raw.usage {
            Some(u) => Usage::from(u),
            // An endpoint that reports no usage is charged an estimate
            // (~4 characters a token), so the budget still holds.
            None => Usage {
                prompt_tokens: estimate_tokens(body["messages"][0]["content"].as_str()),
                completion_tokens: estimate_tokens(
                    raw.choices
                        .first()
                        .and_then(|c| c.message.content.as_deref()),
                ),
            },
        };
        self.inner
            .budget
            .charge(request.tenant, u64::from(usage.total()));
        let invalid = |reason: String| LlmError::Invalid {
            reason,
            tokens: usage.total(),
        };
        let choice = raw
            .choices
            .into_iter()
            .next()
            .ok_or_else(|| invalid("no choices".into()))?;
        if let Some(refusal) = choice.message.refusal.filter(|r| !r.is_empty()) {
            return Err(invalid(format!("refusal: {}", truncate(&refusal, 120))));
        }
        let content = choice
            .message
            .content
            .ok_or_else(|| invalid("no content".into()))?;
        let answer: AnswerWire = serde_json::from_str(content.trim())
            .map_err(|e| invalid(format!("malformed JSON: {e}")))?;
        if !request
            .allowed
            .iter()
            .any(|(name, _)| *name == answer.intent)
        {
            return Err(invalid(format!(
                "intent {:?} is not allowed",
                truncate(&answer.intent, 60)
            )));
        }
        if !(0.0..=1.0).contains(&answer.confidence) {
            return Err(invalid(format!(
                "confidence {} is out of 0..1",
                answer.confidence
            )));
        }
        Ok(LlmAnswer {
            intent: answer.intent,
            confidence: answer.confidence as f32,
            prompt: self.inner.prompt.id().clone(),
            usage,
            attempts,
        })
    }

    /// POSTs `body` with retries inside the deadline; the parsed 200 body
    /// and the number of attempts.
    async fn send(&self, body: &Value) -> Result<(ChatResponse, u32), LlmError> {
        let config = &self.inner.config;
        let deadline = Instant::now() + config.timeout;
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(LlmError::Timeout);
            }
            let outcome = match tokio::time::timeout(remaining, self.attempt(body)).await {
                Err(_) => return Err(LlmError::Timeout),
                Ok(outcome) => outcome,
            };
            let (error, retry_after) = match outcome {
                Attempt::Done(response) => return Ok((response, attempt)),
                Attempt::Fatal(error) => return Err(error),
                Attempt::Retryable(error, retry_after) => (error, retry_after),
            };
            if attempt > config.max_retries {
                return Err(error);
            }
            let wait = retry_after
                .unwrap_or_else(|| config.backoff.saturating_mul(1u32 << (attempt - 1).min(16)));
            if Instant::now() + wait >= deadline {
                // Waiting would use up the budget: give the local answer now.
                return Err(error);
            }
            tokio::time::sleep(wait).await;
        }
    }

    async fn attempt(&self, body: &Value) -> Attempt {
        let mut request = self.inner.http.post(&self.inner.url).json(body);
        if let Some(key) = &self.inner.config.api_key {
            request = request.bearer_auth(key);
        }
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) if e.is_timeout() => return Attempt::Fatal(LlmError::Timeout),
            Err(e) => return Attempt::Retryable(LlmError::Network(error_chain(&e)), None),
        };
        let status = response.status();
        if status.is_success() {
            let bytes = match response.bytes().await {
                Ok(b) => b,
                Err(e) if e.is_timeout() => return Attempt::Fatal(LlmError::Timeout),
                Err(e) => return Attempt::Retryable(LlmError::Network(error_chain(&e)), None),
            };
            return match serde_json::from_slice::<ChatResponse>(&bytes) {
                Ok(r) => Attempt::Done(r),
                Err(e) => Attempt::Fatal(LlmError::Invalid {
                    reason: format!("response is not a chat completion: {e}"),
                    tokens: 0,
                }),
            };
        }
        let retry_after = retry_after(response.headers());
        if status.as_u16() == 429 {
            Attempt::Retryable(LlmError::RateLimited, retry_after)
        } else if status.is_server_error() {
            Attempt::Retryable(LlmError::Upstream(status.as_u16()), retry_after)
        } else {
            Attempt::Fatal(LlmError::Upstream(status.as_u16()))
        }
    }
}

enum Attempt {
    Done(ChatResponse),
    Retryable(LlmError, Option<Duration>),
    Fatal(LlmError),
}

/// `retry-after-ms` (OpenAI) or `Retry-After` in seconds; an HTTP date is
/// ignored (the doubling backoff applies).
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let number = |name: &str| {
        headers
            .get(name)?
            .to_str()
            .ok()?
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite() && *v >= 0.0)
    };
    if let Some(ms) = number("retry-after-ms") {
        return Some(Duration::from_secs_f64((ms / 1000.0).min(3600.0)));
    }
    number("retry-after").map(|s| Duration::from_secs_f64(s.min(3600.0)))
}

fn estimate_tokens(text: Option<&str>) -> u32 {
    let chars = text.map_or(0, |t| t.chars().count());
    u32::try_from(chars.div_ceil(4)).unwrap_or(u32::MAX)
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

#[derive(Deserialize)]
struct ChatResponse {
    #[serde(default)]
    choices: Vec<ChoiceWire>,
    usage: Option<UsageWire>,
}

#[derive(Deserialize)]
struct ChoiceWire {
    message: MessageWire,
}

#[derive(Deserialize)]
struct MessageWire {
    content: Option<String>,
    #[serde(default)]
    refusal: Option<String>,
}

#[derive(Deserialize)]
struct UsageWire {
    #[serde(default)]
    prompt_tokens: u32,
    #[serde(default)]
    completion_tokens: u32,
}

impl From<UsageWire> for Usage {
    fn from(u: UsageWire) -> Self {
        Usage {
            prompt_tokens: u.prompt_tokens,
            completion_tokens: u.completion_tokens,
        }
    }
}

/// The answer object the schema asks for; nothing else accepted.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AnswerWire {
    intent: String,
    confidence: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_resets_each_istanbul_day() {
        use std::sync::atomic::{AtomicI64, Ordering};
        // 2025-03-10 20:30 UTC = 23:30 in Istanbul.
        let now = Arc::new(AtomicI64::new(1_741_638_600));
        let clock = Arc::clone(&now);
        let budget = TokenBudget::new(100).with_clock(move || {
            jiff::Timestamp::from_second(clock.load(Ordering::SeqCst)).unwrap()
        });
        budget.set_limit("b", 10);
        assert!(budget.check("a").is_ok());
        budget.charge("a", 100);
        assert_eq!(budget.check("a"), Err(LlmError::OverBudget));
        budget.charge("b", 9);
        assert!(budget.check("b").is_ok());
        assert_eq!(budget.remaining("b"), 1);
        // 21:00 UTC is midnight in Istanbul: a new day.
        now.store(1_741_640_400, Ordering::SeqCst);
        assert_eq!(budget.spent_today("a"), 0);
        assert!(budget.check("a").is_ok());
        budget.set_limit("c", 0);
        assert_eq!(budget.check("c"), Err(LlmError::OverBudget));
    }

    #[test]
    fn retry_after_reads_seconds_and_milliseconds() {
        use reqwest::header::{HeaderMap, HeaderValue};
        let mut h = HeaderMap::new();
        assert_eq!(retry_after(&h), None);
        h.insert("retry-after", HeaderValue::from_static("2"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(2)));
        h.insert(
            "retry-after",
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&h), None);
        h.insert("retry-after-ms", HeaderValue::from_static("250"));
        assert_eq!(retry_after(&h), Some(Duration::from_millis(250)));
    }

    #[test]
    fn config_debug_hides_the_key() {
        let c = LlmConfig::new("http://x", "m").with_api_key("sk-secret");
        assert!(!format!("{c:?}").contains("sk-secret"));
    }
}

//! The cascade: the local model answers when it is confident; otherwise the
//! LLM classifier is asked to choose among the niche model's intents; when the
//! LLM is slow, down, over budget or gives an invalid answer, the local
//! answer stands and the reason is recorded.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use intents::cascade::{Cascade, CascadeInput};
//! use intents::llm::{LlmClassifier, LlmConfig};
//!
//! let nlu = Arc::new(intents::Nlu::builtin()?);
//! let llm = LlmClassifier::new(LlmConfig::new("https://api.openai.com/v1", "gpt-4o-mini"))?;
//! let cascade = Cascade::new(nlu, Some(llm));
//! let out = cascade
//!     .understand(&CascadeInput::new("t1", "ecommerce", "bu ürünü başka renkle değişebilir miyim"))
//!     .await;
//! println!("{} {} via {}", out.prediction.intent, out.prediction.confidence, out.path.as_str());
//! # Ok(()) }
//! ```

use std::borrow::Cow;
use std::sync::Arc;

use prompts::PromptId;
use serde::Serialize;

use crate::llm::{LlmClassifier, LlmError, LlmRequest};
use crate::{DEFAULT_THRESHOLD, Nlu, Prediction, catalog, normalize};

/// Whether tenants of a niche may use an external LLM unless configured
/// otherwise: every niche but `health` (KVKK: health data goes to an external
/// LLM only under a recorded vendor contract; the gateway decides per tenant).
pub fn llm_allowed_by_default(niche: &str) -> bool {
    niche != "health"
}

/// Which path produced a [`CascadeOutcome`].
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "path", rename_all = "snake_case")]
pub enum Path {
    /// The local model: confident, nothing to understand, or no LLM for
    /// this tenant.
    Local,
    /// The LLM's validated answer.
    Llm,
    /// The LLM was asked and failed; the local answer stands.
    LocalAfterLlmFailure {
        /// Why (serialised as [`LlmError::code`]).
        reason: LlmError,
    },
}

impl Path {
    /// `local`, `llm` or `local_after_llm_failure`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Path::Local => "local",
            Path::Llm => "llm",
            Path::LocalAfterLlmFailure { .. } => "local_after_llm_failure",
        }
    }

    /// The failure's [`LlmError::code`], if the LLM failed.
    pub fn reason(&self) -> Option<String> {
        match self {
            Path::LocalAfterLlmFailure { reason } => Some(reason.code()),
            _ => None,
        }
    }
}

/// One message to understand.
#[derive(Clone, Copy, Debug)]
pub struct CascadeInput<'a> {
    /// The tenant (its own model if it has one; its LLM token budget).
    pub tenant: &'a str,
    /// The tenant's niche (which local model, which intents).
    pub niche: &'a str,
    /// The customer's original text.
    pub text: &'a str,
    /// The tenant's confidence threshold; `None` uses [`Cascade::threshold`].
    pub threshold: Option<f32>,
    /// Whether this tenant may use the LLM (default:
    /// [`llm_allowed_by_default`] of the niche).
    pub llm_allowed: bool,
    /// One line about the business for the prompt, or `None`.
    pub business: Option<&'a str>,
}

impl<'a> CascadeInput<'a> {
    /// An input with the cascade's threshold, no business line, and the
    /// niche's default LLM permission.
    pub fn new(tenant: &'a str, niche: &'a str, text: &'a str) -> Self {
        Self {
            tenant,
            niche,
            text,
            threshold: None,
            llm_allowed: llm_allowed_by_default(niche),
            business: None,
        }
    }

    /// Sets the tenant's threshold.
    pub fn threshold(mut self, threshold: f32) -> Self {
        self.threshold = Some(threshold);
        self
    }

    /// Allows or forbids the LLM for this tenant.
    pub fn llm_allowed(mut self, allowed: bool) -> Self {
        self.llm_allowed = allowed;
        self
    }

    /// Sets the business line.
    pub fn business(mut self, business: &'a str) -> Self {
        self.business = Some(business);
        self
    }
}

/// What the cascade made of a message and how.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CascadeOutcome {
    /// The answer, no threshold applied: apply the tenant's with
    /// [`Prediction::or_out_of_scope`] as for a local prediction (an LLM
    /// answer's confidence is the model's own). On the LLM path the local
    /// guess leads the alternatives.
    pub prediction: Prediction,
    /// Which path answered, and why the LLM failed if it did (in JSON:
    /// `"path": "local_after_llm_failure", "reason": "timeout"`).
    #[serde(flatten)]
    pub path: Path,
    /// The prompt version used when a request was sent (also on failure).
    pub prompt: Option<PromptId>,
    /// LLM tokens spent for this message (0 on the local path).
    pub tokens: u32,
}

/// The local model, and the LLM when it is unsure. `Send + Sync`.
#[derive(Clone, Debug)]
pub struct Cascade {
    /// The local models.
    pub nlu: Arc<Nlu>,
    /// The LLM classifier, or `None` (local only).
    pub llm: Option<LlmClassifier>,
    /// The threshold when the input gives none.
    pub threshold: f32,
}

impl Cascade {
    /// A cascade with [`DEFAULT_THRESHOLD`].
    pub fn new(nlu: Arc<Nlu>, llm: Option<LlmClassifier>) -> Self {
        Self {
            nlu,
            llm,
            threshold: DEFAULT_THRESHOLD,
        }
    }

    /// Sets the default threshold.
    pub fn with_threshold(mut self, threshold: f32) -> Self {
        self.threshold = threshold;
        self
    }

    /// Understands one message with the tenant's model
    /// ([`Nlu::tenant_model`]: its own when it has one, else the niche's).
    /// The local answer stands when its confidence is at least the threshold
    /// (an out-of-scope answer included), when the text has nothing to
    /// understand, or when the LLM is absent or not allowed for the tenant;
    /// otherwise the LLM chooses among that model's intents (a tenant's own
    /// intent described by its name), and any LLM failure leaves the local
    /// answer with the reason recorded. Never fails; takes at most the LLM's
    /// timeout.
    pub async fn understand(&self, input: &CascadeInput<'_>) -> CascadeOutcome {
        let threshold = input.threshold.unwrap_or(self.threshold);
        let model = self.nlu.tenant_model(input.tenant, input.niche);
        let local = model.predict(input.text);
        let local_only = |prediction: Prediction| CascadeOutcome {
            prediction,
            path: Path::Local,
            prompt: None,
            tokens: 0,
        };
        let llm = match &self.llm {
            Some(llm) if input.llm_allowed => llm,
            _ => return local_only(local),
        };
        if local.confidence >= threshold || !normalize::has_content(input.text) {
            return local_only(local);
        }
        let names = model.intents();
        let descriptions: Vec<Cow<'static, str>> =
            names.iter().map(|n| catalog::describe_or_name(n)).collect();
        let allowed: Vec<(&str, &str)> = names
            .iter()
            .zip(&descriptions)
            .map(|(n, d)| (n.as_str(), d.as_ref()))
            .collect();
        let request = LlmRequest {
            tenant: input.tenant,
            niche: input.niche,
            text: input.text,
            allowed: &allowed,
            business: input.business,
        };
        match llm.classify(&request).await {
            Ok(answer) => {
                let mut alternatives: Vec<(String, f32)> =
                    std::iter::once((local.intent, local.confidence))
                        .chain(local.alternatives)
                        .filter(|(intent, _)| *intent != answer.intent)
                        .collect();
                alternatives.truncate(3);
                CascadeOutcome {
                    prediction: Prediction {
                        intent: answer.intent,
                        confidence: answer.confidence,
                        alternatives,
                    },
                    path: Path::Llm,
                    prompt: Some(answer.prompt),
                    tokens: answer.usage.total(),
                }
            }
            Err(reason) => CascadeOutcome {
                prediction: local,
                prompt: reason.was_sent().then(|| llm.prompt_id().clone()),
                tokens: reason.tokens(),
                path: Path::LocalAfterLlmFailure { reason },
            },
        }
    }
}

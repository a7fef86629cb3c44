//! One call for everything the local understanding knows about a message:
//! intent and confidence, entities, language and sentiment — the shape
//! `kopru classify` prints:
//!
//! ```json
//! {"intent":"complaint","confidence":0.91,"entities":{…},"language":"tr",
//!  "sentiment":{"label":"negative","score":-0.6}}
//! ```

use serde::Serialize;

use crate::Nlu;
use crate::entities::{self, Context, Doc, Entities};
use crate::lang;
use crate::sentiment::{self, Sentiment};

/// The analysis of one message.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Analysis {
    /// The most likely intent (no threshold applied; see
    /// [`crate::Prediction::or_out_of_scope`]).
    pub intent: String,
    /// Its probability, in [0, 1].
    pub confidence: f32,
    /// The entities found (empty lists left out of the JSON).
    pub entities: Entities,
    /// ISO 639-1 code, `und` when unknown.
    pub language: &'static str,
    /// Negative / neutral / positive with a score in [-1, 1].
    pub sentiment: Sentiment,
}

/// Classifies `text` for a tenant of `niche` and extracts its entities
/// (dates resolved in the IANA zone `tz` from `now`; an unknown zone means
/// `Europe/Istanbul`), language and sentiment.
pub fn analyze(nlu: &Nlu, niche: &str, text: &str, tz: &str, now: jiff::Timestamp) -> Analysis {
    let ctx = Context::new(niche, tz, now);
    analyze_with(nlu, text, &ctx)
}

/// [`analyze`] with a prepared [`Context`] (the time zone looked up once).
pub fn analyze_with(nlu: &Nlu, text: &str, ctx: &Context) -> Analysis {
    analyze_prediction(nlu.classify(&ctx.niche, text), text, ctx)
}

/// The analysis of `text` around an intent prediction already made (by the
/// niche model or a tenant's).
pub(crate) fn analyze_prediction(p: crate::Prediction, text: &str, ctx: &Context) -> Analysis {
    let doc = Doc::new(text);
    Analysis {
        intent: p.intent,
        confidence: p.confidence,
        entities: entities::extract_doc(&doc, ctx),
        language: lang::detect(text).code,
        sentiment: sentiment::analyze(text),
    }
}

impl Nlu {
    /// [`analyze`] as a method.
    pub fn analyze(&self, niche: &str, text: &str, tz: &str, now: jiff::Timestamp) -> Analysis {
        analyze(self, niche, text, tz, now)
    }
}

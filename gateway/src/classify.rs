//! `kopru classify --tenant ID TEXT`: what the local understanding makes of one
//! message, as one JSON object on stdout (`../shared/spec/formats.md`):
//!
//! ```json
//! {"intent":"appointment_request","confidence":0.82,"entities":{…},"language":"tr",
//!  "sentiment":{"label":"neutral","score":0.0}}
//! ```
//!
//! The tenant's niche model, time zone (dates and times are resolved there) and
//! confidence threshold apply, as in a live turn: below the threshold the intent is
//! `out_of_scope` and the model's own guess is kept in an extra `guess` key. Only the
//! configuration and the NLU are built: no store is opened, nothing is written.

use crate::config::Config;
use anyhow::{Context, anyhow};
use serde::Serialize;
use std::path::PathBuf;

/// `kopru classify`.
#[derive(Debug, clap::Args)]
pub struct ClassifyArgs {
    /// The tenant whose niche, time zone and confidence threshold apply.
    #[arg(long, value_name = "ID")]
    pub tenant: String,
    /// The configuration that knows --tenant; without it the bundled demo.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The message, as the customer wrote it (quote it; several words are joined
    /// with spaces).
    #[arg(required = true, num_args = 1.., value_name = "TEXT")]
    pub text: Vec<String>,
}

/// What `kopru classify` prints.
#[derive(Debug, Serialize)]
pub struct Classified {
    /// The intent the flows would act on: `out_of_scope` below the tenant's threshold.
    pub intent: String,
    /// The model's probability for its best guess, in [0, 1].
    pub confidence: f32,
    pub entities: intents::entities::Entities,
    /// ISO 639-1 code, `und` when unknown.
    pub language: &'static str,
    pub sentiment: intents::sentiment::Sentiment,
    /// The model's best guess when it was below the threshold (and so not acted on).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guess: Option<String>,
}

/// Classifies `text` for the tenant `id` of `config` at `now`.
pub fn classify(
    nlu: &intents::Nlu,
    config: &Config,
    id: &str,
    text: &str,
    now: jiff::Timestamp,
) -> anyhow::Result<Classified> {
    let tenant = config
        .tenants
        .iter()
        .find(|t| t.id == id)
        .ok_or_else(|| unknown_tenant(id, config))?;
    let profile = tenant.profile().map_err(|m| anyhow!("tenant {id}: {m}"))?;
    let a = nlu.analyze_tenant(id, profile.niche.as_str(), text, &profile.timezone, now);
    let confident =
        a.intent == intents::OUT_OF_SCOPE || a.confidence >= profile.confidence_threshold;
    let (intent, guess) = if confident {
        (a.intent, None)
    } else {
        (intents::OUT_OF_SCOPE.to_string(), Some(a.intent))
    };
    Ok(Classified {
        intent,
        confidence: a.confidence,
        entities: a.entities,
        language: a.language,
        sentiment: a.sentiment,
        guess,
    })
}

fn unknown_tenant(id: &str, config: &Config) -> anyhow::Error {
    let mut known: Vec<&str> = config.tenants.iter().map(|t| t.id.as_str()).collect();
    known.sort_unstable();
    anyhow!("unknown tenant {id:?} (known: {})", known.join(", "))
}

/// Runs `kopru classify`.
pub fn run(args: ClassifyArgs) -> anyhow::Result<()> {
    let (config, _) = Config::load(args.config.as_deref(), std::env::vars())?;
    // Refuse an unknown tenant before training anything.
    if !config.tenants.iter().any(|t| t.id == args.tenant) {
        return Err(unknown_tenant(&args.tenant, &config));
    }
    let mut nlu = intents::Nlu::builtin().context("training the built-in models")?;
    // The tenant's own examples and intents, as the server loads them.
    if let Some(t) = config.tenants.iter().find(|t| t.id == args.tenant)
        && let Some(file) = &t.intents_file
    {
        let examples =
            intents::read_examples(file).with_context(|| format!("{}", file.display()))?;
        nlu.add_tenant(&t.id, &t.niche, examples)
            .with_context(|| format!("tenant {}: {}", t.id, file.display()))?;
    }
    let text = args.text.join(" ");
    let out = classify(&nlu, &config, &args.tenant, &text, jiff::Timestamp::now())?;
    println!("{}", serde_json::to_string(&out)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_dental_understands_an_appointment_with_entities() {
        let (config, _) = Config::load(None, Vec::new()).unwrap();
        let nlu = intents::Nlu::builtin().unwrap();
        let now: jiff::Timestamp = "2026-03-02T09:00:00Z".parse().unwrap();
        let out = classify(
            &nlu,
            &config,
            "demo-dental",
            "Yarın 14:30'a 2 diş için implant randevusu, tel 0555 111 22 33",
            now,
        )
        .unwrap();
        let v = serde_json::to_value(&out).unwrap();
        for key in ["intent", "confidence", "entities", "language", "sentiment"] {
            assert!(v.get(key).is_some(), "{key} missing in {v}");
        }
        assert_eq!(v["language"], "tr", "{v}");
        assert_eq!(v["entities"]["phone"][0]["value"], "+905551112233", "{v}");
        let e = classify(&nlu, &config, "demo-nobody", "merhaba", now).unwrap_err();
        assert!(e.to_string().contains("unknown tenant"), "{e}");
    }
}

//! Per-tenant models: a niche's shipped data plus the tenant's own examples.
//!
//! A tenant may teach its bot more phrasings of the shipped intents ("EFT
//! olur mu" → `payment_options`) and intents of its own (`kargo_ucreti`).
//! [`Nlu::add_tenant`] validates the examples, trains one model on the
//! niche's data merged with them, and keeps it under the tenant's id;
//! [`Nlu::classify_tenant`] uses it (and the niche model for a tenant
//! without one).
//!
//! ```
//! # let mut nlu = intents::Nlu::builtin().unwrap();
//! let extra: Vec<intents::Example> = [
//!     "kargo ücreti ne kadar", "kargo parası kaç lira", "kargo bedava mı",
//!     "kargo parası ne kadar tutuyor", "gönderim ücreti ne kadar",
//!     "kargo ücretini kim ödüyor", "kaç liradan sonra kargo bedava",
//!     "ücretsiz kargo var mı", "kargo fiyatı ne", "kargo için ne kadar ödeyeceğim",
//! ]
//! .into_iter()
//! .map(|t| intents::Example::new(t, "kargo_ucreti"))
//! .collect();
//! nlu.add_tenant("shop-1", "ecommerce", extra).unwrap();
//! let p = nlu.classify_tenant("shop-1", "ecommerce", "kargo ücreti kaç tl");
//! assert_eq!(p.intent, "kargo_ucreti");
//! ```
//!
//! Rules (each broken one is a [`TrainError`] naming the example or intent):
//! - every example has text with letters or digits and a non-empty intent;
//! - intent names match `^[a-z][a-z0-9_]{1,63}$`;
//! - an intent the niche does not ship needs at least
//!   [`MIN_NEW_INTENT_EXAMPLES`] distinct examples (distinct after
//!   [`fold`]), fewer cannot be learnt;
//! - a tenant example whose folded text equals a shipped example's gives
//!   the tenant's intent: the shipped example is left out of the tenant's
//!   model (the tenant's word wins).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use crate::analysis::{Analysis, analyze_prediction};
use crate::classifier::{Classifier, Example, TrainError};
use crate::entities::Context;
use crate::normalize::{fold, has_content};
use crate::{Nlu, Prediction, data};

/// The fewest distinct examples an intent the niche does not ship needs.
pub const MIN_NEW_INTENT_EXAMPLES: usize = 10;

/// The niche name of the shared general data: [`train`] accepts it besides
/// [`data::NICHES`].
pub const GENERAL: &str = "general";

/// One tenant's model and the niche it was trained for.
#[derive(Clone, Debug)]
struct TenantModel {
    niche: String,
    model: Arc<Classifier>,
}

/// The tenant models an [`Nlu`] holds, by tenant id.
#[derive(Clone, Debug, Default)]
pub(crate) struct TenantModels(HashMap<String, TenantModel>);

/// Whether `name` matches `^[a-z][a-z0-9_]{1,63}$`.
pub fn is_valid_intent_name(name: &str) -> bool {
    let b = name.as_bytes();
    (2..=64).contains(&b.len())
        && b[0].is_ascii_lowercase()
        && b[1..]
            .iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_')
}

/// The shipped training examples of a niche ([`data::for_niche`]; for
/// [`GENERAL`], [`data::general`]).
pub fn niche_examples(niche: &str) -> Result<Vec<Example>, TrainError> {
    if niche == GENERAL {
        Ok(data::general())
    } else if data::NICHES.contains(&niche) {
        Ok(data::for_niche(niche))
    } else {
        Err(TrainError::UnknownNiche(niche.to_owned()))
    }
}

/// Checks a tenant's examples against the rules of the module docs, given
/// the intents the niche ships.
pub fn validate(shipped: &HashSet<&str>, extra: &[Example]) -> Result<(), TrainError> {
    // intent → distinct folded texts, for the new intents only.
    let mut new: BTreeMap<&str, HashSet<String>> = BTreeMap::new();
    for (index, ex) in extra.iter().enumerate() {
        if ex.intent.trim().is_empty() {
            return Err(TrainError::EmptyIntent { index });
        }
        if !has_content(&ex.text) {
            return Err(TrainError::EmptyText {
                index,
                text: ex.text.clone(),
            });
        }
        if !is_valid_intent_name(&ex.intent) {
            return Err(TrainError::InvalidIntentName {
                index,
                intent: ex.intent.clone(),
            });
        }
        if !shipped.contains(ex.intent.as_str()) {
            new.entry(&ex.intent).or_default().insert(fold(&ex.text));
        }
    }
    // The intent with the fewest examples first: the most useful message.
    if let Some((intent, texts)) = new
        .iter()
        .filter(|(_, texts)| texts.len() < MIN_NEW_INTENT_EXAMPLES)
        .min_by_key(|(_, texts)| texts.len())
    {
        return Err(TrainError::TooFewExamples {
            intent: (*intent).to_owned(),
            count: texts.len(),
            min: MIN_NEW_INTENT_EXAMPLES,
        });
    }
    Ok(())
}

/// The training set of a tenant of `niche`: the niche's shipped examples
/// (minus those whose folded text a tenant example relabels) followed by the
/// tenant's, exact duplicates dropped. Validates `extra` first.
pub fn training_set(niche: &str, extra: &[Example]) -> Result<Vec<Example>, TrainError> {
    let base = niche_examples(niche)?;
    let shipped: HashSet<&str> = base.iter().map(|e| e.intent.as_str()).collect();
    validate(&shipped, extra)?;
    let relabelled: HashMap<String, &str> = extra
        .iter()
        .map(|e| (fold(&e.text), e.intent.as_str()))
        .collect();
    let base: Vec<Example> = base
        .iter()
        .filter(|e| {
            relabelled
                .get(&fold(&e.text))
                .is_none_or(|intent| *intent == e.intent)
        })
        .cloned()
        .collect();
    Ok(data::merge(base, extra.to_vec()))
}

/// Trains a tenant model of `niche` with the tenant's `extra` examples (see
/// the module docs). Independent of any [`Nlu`]: train several tenants in
/// parallel threads, then [`Nlu::insert_tenant_model`].
pub fn train(niche: &str, extra: &[Example]) -> Result<Classifier, TrainError> {
    let set = training_set(niche, extra)?;
    Classifier::train(&balance(set, extra))
}

/// Most times a tenant example is repeated in training.
const MAX_REPEAT: usize = 8;

/// Repeats the tenant's examples (the tail of `set` whose texts are in
/// `extra`) so that a new intent weighs about as much as a shipped one (an
/// intent's repeat = median examples per shipped intent / its own, at most
/// [`MAX_REPEAT`]), and extra phrasings of shipped intents count
/// [`SHIPPED_REPEAT`] times. Repeating an example is weighting it: SGD
/// sees it that many times an epoch.
fn balance(set: Vec<Example>, extra: &[Example]) -> Vec<Example> {
    let tenant: HashSet<(String, &str)> = extra
        .iter()
        .map(|e| (fold(&e.text), e.intent.as_str()))
        .collect();
    let is_tenant = |e: &Example| tenant.contains(&(fold(&e.text), e.intent.as_str()));
    let mut shipped: HashMap<&str, usize> = HashMap::new();
    let mut own: HashMap<&str, usize> = HashMap::new();
    for e in &set {
        if is_tenant(e) {
            *own.entry(&e.intent).or_default() += 1;
        } else {
            *shipped.entry(&e.intent).or_default() += 1;
        }
    }
    let mut sizes: Vec<usize> = shipped.values().copied().collect();
    sizes.sort_unstable();
    let median = sizes.get(sizes.len() / 2).copied().unwrap_or(1);
    let repeat: HashMap<String, usize> = own
        .iter()
        .map(|(intent, &n)| {
            let r = if shipped.contains_key(intent) {
                SHIPPED_REPEAT
            } else {
                ((median + n / 2) / n.max(1)).clamp(1, MAX_REPEAT)
            };
            ((*intent).to_owned(), r)
        })
        .collect();
    let mut out = Vec::with_capacity(set.len() + extra.len() * MAX_REPEAT);
    for e in &set {
        let r = if is_tenant(e) { repeat[&e.intent] } else { 1 };
        out.extend(std::iter::repeat_n(e, r).cloned());
    }
    out
}

/// How many times a tenant's extra phrasing of a shipped intent counts.
const SHIPPED_REPEAT: usize = 2;

impl TenantModels {
    fn get(&self, tenant: &str, niche: &str) -> Option<&Classifier> {
        self.0
            .get(tenant)
            .filter(|t| t.niche == niche)
            .map(|t| t.model.as_ref())
    }
}

impl Nlu {
    /// Trains `tenant`'s model: `niche`'s shipped data plus `extra` (more
    /// phrasings of shipped intents and/or new intents of at least
    /// [`MIN_NEW_INTENT_EXAMPLES`] examples each), replacing any earlier
    /// model of the tenant. With no `extra` the tenant's model is removed
    /// (it uses the niche model). On error nothing changes. Takes about as
    /// long as training the niche model (see `docs/nlu.md`, "Tenant
    /// models").
    ///
    /// Errors: [`TrainError::UnknownNiche`], [`TrainError::EmptyText`],
    /// [`TrainError::EmptyIntent`], [`TrainError::InvalidIntentName`],
    /// [`TrainError::TooFewExamples`] (indexes are positions in `extra`).
    pub fn add_tenant(
        &mut self,
        tenant: &str,
        niche: &str,
        extra: Vec<Example>,
    ) -> Result<(), TrainError> {
        if extra.is_empty() {
            niche_examples(niche)?;
            self.remove_tenant(tenant);
            return Ok(());
        }
        let model = train(niche, &extra)?;
        self.insert_tenant_model(tenant, niche, model);
        Ok(())
    }

    /// Keeps an already trained (or loaded) model as `tenant`'s model for
    /// `niche`, replacing any earlier one.
    pub fn insert_tenant_model(&mut self, tenant: &str, niche: &str, model: Classifier) {
        self.tenants.0.insert(
            tenant.to_owned(),
            TenantModel {
                niche: niche.to_owned(),
                model: Arc::new(model),
            },
        );
    }

    /// Forgets `tenant`'s model; whether it had one.
    pub fn remove_tenant(&mut self, tenant: &str) -> bool {
        self.tenants.0.remove(tenant).is_some()
    }

    /// The tenants with their own model, sorted.
    pub fn tenants(&self) -> Vec<&str> {
        let mut t: Vec<&str> = self.tenants.0.keys().map(String::as_str).collect();
        t.sort_unstable();
        t
    }

    /// The model a tenant of `niche` uses: its own when it has one trained
    /// for that niche, else the niche model ([`Nlu::model`]). A tenant model
    /// trained for another niche is not used (the tenant changed niche and
    /// was not retrained).
    pub fn tenant_model(&self, tenant: &str, niche: &str) -> &Classifier {
        self.tenants
            .get(tenant, niche)
            .unwrap_or_else(|| self.model(niche))
    }

    /// [`Nlu::classify`] with the tenant's model when it has one.
    pub fn classify_tenant(&self, tenant: &str, niche: &str, text: &str) -> Prediction {
        self.tenant_model(tenant, niche).predict(text)
    }

    /// [`Nlu::classify_among`] with the tenant's model when it has one.
    pub fn classify_tenant_among(
        &self,
        tenant: &str,
        niche: &str,
        text: &str,
        allowed: &[&str],
    ) -> Prediction {
        self.tenant_model(tenant, niche)
            .predict_among(text, allowed)
    }

    /// [`Nlu::analyze`] with the tenant's model when it has one.
    pub fn analyze_tenant(
        &self,
        tenant: &str,
        niche: &str,
        text: &str,
        tz: &str,
        now: jiff::Timestamp,
    ) -> Analysis {
        self.analyze_tenant_with(tenant, text, &Context::new(niche, tz, now))
    }

    /// [`Nlu::analyze_tenant`] with a prepared [`Context`] (its niche picks
    /// the fallback model).
    pub fn analyze_tenant_with(&self, tenant: &str, text: &str, ctx: &Context) -> Analysis {
        let p = self.classify_tenant(tenant, &ctx.niche, text);
        analyze_prediction(p, text, ctx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intent_names() {
        for ok in [
            "ab",
            "kargo_ucreti",
            "x1",
            "a_",
            &format!("a{}", "b".repeat(63)),
        ] {
            assert!(is_valid_intent_name(ok), "{ok}");
        }
        for bad in [
            "",
            "a",
            "_ab",
            "1ab",
            "Kargo",
            "kargo-ucreti",
            "kargo ücreti",
            "kargo ucreti",
            "kargoÜcreti",
            &format!("a{}", "b".repeat(64)),
        ] {
            assert!(!is_valid_intent_name(bad), "{bad}");
        }
    }

    #[test]
    fn too_few_counts_distinct_folded_texts() {
        let shipped: HashSet<&str> = ["greeting"].into_iter().collect();
        let mut extra: Vec<Example> = (0..9)
            .map(|i| Example::new(format!("soru {i}"), "yeni_niyet"))
            .collect();
        // Same folded text twice: still nine.
        extra.push(Example::new("SORU 1!", "yeni_niyet"));
        // Shipped intents need no minimum.
        extra.push(Example::new("selamlar efendim", "greeting"));
        let e = validate(&shipped, &extra).unwrap_err();
        assert!(
            matches!(&e, TrainError::TooFewExamples { intent, count: 9, min: 10 } if intent == "yeni_niyet"),
            "{e:?}"
        );
        extra.push(Example::new("soru 9", "yeni_niyet"));
        validate(&shipped, &extra).unwrap();
    }

    #[test]
    fn tenant_examples_relabel_shipped_texts() {
        let base = data::for_niche("ecommerce");
        let victim = base
            .iter()
            .find(|e| e.intent == "payment_options")
            .unwrap()
            .clone();
        let extra: Vec<Example> = (0..10)
            .map(|i| Example::new(format!("{} {i}", "ozel odeme"), "ozel_odeme"))
            .chain([Example::new(victim.text.to_uppercase(), "ozel_odeme")])
            .collect();
        let set = training_set("ecommerce", &extra).unwrap();
        let key = fold(&victim.text);
        assert!(
            set.iter()
                .filter(|e| fold(&e.text) == key)
                .all(|e| e.intent == "ozel_odeme")
        );
        assert_eq!(set.len(), base.len() - 1 + 11);
    }

    #[test]
    fn unknown_niche_is_an_error() {
        let e = training_set("bakery", &[]).unwrap_err();
        assert!(matches!(&e, TrainError::UnknownNiche(n) if n == "bakery"));
        assert!(e.to_string().contains("bakery"), "{e}");
        assert!(niche_examples(GENERAL).unwrap().len() > 100);
    }
}

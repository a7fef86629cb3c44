//! Conversation tests (`kopru eval conversations`): one YAML file a test (format in
//! `spec/formats.md`, extensions in `docs/eval.md`), run turn by turn through a
//! [`ConversationDriver`] and checked against the expectations. A failed expectation
//! names the turn, the key, what was expected and what happened.
//!
//! This crate does not know the gateway: the gateway implements the driver over its
//! real inbox → engine → outbox → store road, and tests here use fakes.

use async_trait::async_trait;
use regex::Regex;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

/// The channels a test may name.
pub const CHANNELS: [&str; 4] = ["whatsapp", "instagram", "telegram", "webchat"];

/// The failure of a `lead` outcome while the pipeline keeps no leads.
pub const LEADS_UNSUPPORTED: &str = "this driver keeps no leads";

/// One conversation test, as written.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConversationTest {
    pub name: String,
    /// A tenant known to the running configuration.
    pub tenant: String,
    /// whatsapp | instagram | telegram | webchat
    pub channel: String,
    /// The customer's handle on the channel (a phone number on WhatsApp).
    pub contact: String,
    /// Extension: the time the conversation happens at (RFC 3339 with offset), for
    /// replies that depend on the clock. Drivers that cannot fix the clock refuse it.
    #[serde(default)]
    pub now: Option<String>,
    pub turns: Vec<TurnSpec>,
    /// Checked after the last turn.
    #[serde(default)]
    pub outcome: Option<OutcomeSpec>,
}

/// One customer turn: a text (`user`) or, as extensions, a tap on a button the bot
/// sent (`button`) or time passing with no message (`wait`, e.g. "23h", "1d 2h", "90m":
/// timers due by then fire, and their messages are the turn's replies).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TurnSpec {
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub button: Option<ButtonSpec>,
    #[serde(default)]
    pub wait: Option<String>,
    #[serde(default)]
    pub expect: Option<Expect>,
}

/// A button tap: the id the bot gave the button, or its place (`index`, 1-based) or
/// `title` among the buttons of the bot's latest message with buttons (for ids the bot
/// makes up, such as a slot's). The title shown defaults to the button's.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ButtonSpec {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub index: Option<usize>,
    #[serde(default)]
    pub title: Option<String>,
}

/// Parses a wait such as "23h", "1d 2h", "90m", "45s".
pub fn parse_wait(text: &str) -> Result<jiff::SignedDuration, String> {
    let mut total = 0i64;
    let mut number = String::new();
    let mut any = false;
    for c in text.chars().filter(|c| !c.is_whitespace()) {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let n: i64 = number
            .parse()
            .map_err(|_| format!("wait {text:?}: a number must come before {c:?}"))?;
        number.clear();
        let unit = match c {
            'd' => 86_400,
            'h' => 3_600,
            'm' => 60,
            's' => 1,
            _ => return Err(format!("wait {text:?}: unknown unit {c:?} (d, h, m, s)")),
        };
        total = total.saturating_add(n.saturating_mul(unit));
        any = true;
    }
    if !number.is_empty() || !any {
        return Err(format!("wait {text:?}: write it like 23h, 1d 2h or 90m"));
    }
    Ok(jiff::SignedDuration::from_secs(total))
}

/// What a turn must produce; every key optional.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// The intent the flow acted on (`out_of_scope` when the model was not confident).
    #[serde(default)]
    pub intent: Option<String>,
    /// Only the entities listed are compared.
    #[serde(default)]
    pub entities: Option<Map<String, Value>>,
    /// A regex over this turn's bot replies joined by newlines (`^$`: no reply at all).
    #[serde(default)]
    pub reply_matches: Option<String>,
}

/// What must hold after the last turn; every key optional.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutcomeSpec {
    /// Fields the contact's lead must have.
    #[serde(default)]
    pub lead: Option<Map<String, Value>>,
    /// Tags the conversation must carry (it may carry more).
    #[serde(default)]
    pub tags_include: Option<Vec<String>>,
    /// Whether a human has the conversation.
    #[serde(default)]
    pub handoff: Option<bool>,
    /// Extension: whether the contact opted out.
    #[serde(default)]
    pub opted_out: Option<bool>,
}

/// What one turn does.
#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    Send(UserMessage),
    /// A tap on one of the latest buttons, by 1-based place or title.
    Tap {
        index: Option<usize>,
        title: Option<String>,
    },
    Wait(jiff::SignedDuration),
}

impl TurnSpec {
    /// What this turn does; `None` unless exactly one of `user`, `button`, `wait` is
    /// given (and a button names its id, index or title).
    pub fn step(&self) -> Option<Step> {
        match (&self.user, &self.button, &self.wait) {
            (Some(text), None, None) => Some(Step::Send(UserMessage::Text(text.clone()))),
            (None, Some(b), None) => match (&b.id, b.index, &b.title) {
                (Some(id), None, _) => Some(Step::Send(UserMessage::Button {
                    id: id.clone(),
                    title: b.title.clone().unwrap_or_else(|| id.clone()),
                })),
                (None, Some(_), _) | (None, None, Some(_)) => Some(Step::Tap {
                    index: b.index,
                    title: b.title.clone(),
                }),
                _ => None,
            },
            (None, None, Some(w)) => parse_wait(w).ok().map(Step::Wait),
            _ => None,
        }
    }

    /// The message this turn sends, when it is a text or a button given by id.
    pub fn message(&self) -> Option<UserMessage> {
        match self.step()? {
            Step::Send(m) => Some(m),
            _ => None,
        }
    }
}

impl ConversationTest {
    /// Parses one test and checks what serde cannot: a known channel, at least one
    /// turn, one message a turn, regexes that compile, a valid `now`.
    pub fn parse(text: &str) -> Result<ConversationTest, String> {
        let t: ConversationTest = serde_yaml_ng::from_str(text).map_err(|e| e.to_string())?;
        if t.name.trim().is_empty() {
            return Err("name is empty".into());
        }
        if !CHANNELS.contains(&t.channel.as_str()) {
            return Err(format!(
                "channel {:?} is not one of {}",
                t.channel,
                CHANNELS.join(", ")
            ));
        }
        if t.contact.trim().is_empty() {
            return Err("contact is empty".into());
        }
        if t.turns.is_empty() {
            return Err("a test needs at least one turn".into());
        }
        for (i, turn) in t.turns.iter().enumerate() {
            if let Some(w) = &turn.wait {
                parse_wait(w).map_err(|e| format!("turn {}: {e}", i + 1))?;
            }
            if turn.step().is_none() {
                return Err(format!(
                    "turn {}: give exactly one of `user`, `button` (with id, index or title) or `wait`",
                    i + 1
                ));
            }
            if let Some(re) = turn.expect.as_ref().and_then(|e| e.reply_matches.as_ref()) {
                Regex::new(re).map_err(|e| format!("turn {}: reply_matches: {e}", i + 1))?;
            }
        }
        if let Some(now) = &t.now {
            now.parse::<jiff::Timestamp>()
                .map_err(|e| format!("now: {now:?} is not an RFC 3339 time with offset: {e}"))?;
        }
        Ok(t)
    }

    /// The fixed time, if the test gives one (validated by [`ConversationTest::parse`]).
    pub fn now(&self) -> Option<jiff::Timestamp> {
        self.now.as_deref().and_then(|n| n.parse().ok())
    }
}

/// A test file: its path and the test, or why it could not be read.
#[derive(Clone, Debug)]
pub struct LoadedTest {
    pub file: PathBuf,
    pub test: Result<ConversationTest, String>,
}

impl LoadedTest {
    /// The test's name, or the file's stem when it could not be read.
    pub fn name(&self) -> String {
        match &self.test {
            Ok(t) => t.name.clone(),
            Err(_) => self
                .file
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
        }
    }
}

/// Why a test folder could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("no *.yaml conversation tests in {0}")]
    Empty(String),
}

/// Every `*.yaml` file of `dir`, sorted by file name. A file that does not parse is a
/// test that fails, not an error: the rest still run.
pub fn load_dir(dir: &Path) -> Result<Vec<LoadedTest>, LoadError> {
    let read_err = |source| LoadError::Read {
        path: dir.display().to_string(),
        source,
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(read_err)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(LoadError::Empty(dir.display().to_string()));
    }
    Ok(files
        .into_iter()
        .map(|file| {
            let test = std::fs::read_to_string(&file)
                .map_err(|e| format!("cannot read: {e}"))
                .and_then(|text| ConversationTest::parse(&text));
            LoadedTest { file, test }
        })
        .collect())
}

/// What the customer sends in one turn.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UserMessage {
    Text(String),
    Button { id: String, title: String },
}

/// Where and when a conversation starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Start<'a> {
    pub tenant: &'a str,
    pub channel: &'a str,
    pub contact: &'a str,
    pub now: Option<jiff::Timestamp>,
}

/// What one turn produced.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TurnOutcome {
    /// The model's intent for the message; `None` when it was not classified.
    pub intent: Option<String>,
    pub confidence: Option<f32>,
    /// The tenant's threshold: below it the flow treats the message as `out_of_scope`.
    pub threshold: Option<f32>,
    /// `None` when the pipeline extracts no entities yet.
    pub entities: Option<Map<String, Value>>,
    /// The bot's replies to this turn, in order; a reply with buttons is its text
    /// followed by one `[title]` line per button.
    pub replies: Vec<String>,
    /// The buttons (id, title) of this turn's last reply that had buttons.
    pub buttons: Vec<(String, String)>,
}

impl TurnOutcome {
    /// The intent the flow acted on: the model's, or `out_of_scope` below the threshold.
    pub fn effective_intent(&self) -> Option<&str> {
        let intent = self.intent.as_deref()?;
        match (self.confidence, self.threshold) {
            (Some(c), Some(t)) if c.is_nan() || c < t => Some(OUT_OF_SCOPE),
            _ => Some(intent),
        }
    }
}

const OUT_OF_SCOPE: &str = "out_of_scope";

/// The contact's lead, as far as the pipeline knows leads.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum LeadOutcome {
    /// The pipeline keeps no leads yet.
    #[default]
    Unsupported,
    /// No lead for this contact.
    Missing,
    Found(Map<String, Value>),
}

/// The conversation after the last turn.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Outcome {
    pub tags: Vec<String>,
    pub handoff: bool,
    pub opted_out: bool,
    pub lead: LeadOutcome,
}

/// The pipeline failed (not an expectation: the test cannot go on).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DriverError(pub String);

impl DriverError {
    pub fn new(e: impl std::fmt::Display) -> Self {
        DriverError(e.to_string())
    }
}

/// Runs one conversation through a bot: the gateway's real pipeline, or a fake.
/// One driver value runs one test.
#[async_trait]
pub trait ConversationDriver: Send {
    async fn start(&mut self, start: &Start<'_>) -> Result<(), DriverError>;
    async fn send(&mut self, message: &UserMessage) -> Result<TurnOutcome, DriverError>;
    /// Lets `by` pass with no message: due timers fire; their messages are the outcome.
    async fn wait(&mut self, by: jiff::SignedDuration) -> Result<TurnOutcome, DriverError> {
        let _ = by;
        Err(DriverError::new("this driver cannot move time (wait)"))
    }
    async fn finish(&mut self) -> Result<Outcome, DriverError>;
}

fn short(s: &str) -> String {
    const MAX: usize = 160;
    let one_line = s.replace('\n', "⏎");
    if one_line.chars().count() <= MAX {
        one_line
    } else {
        format!("{}…", one_line.chars().take(MAX).collect::<String>())
    }
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The failures of one turn's expectations; `n` is the 1-based turn number.
pub fn check_turn(n: usize, expect: &Expect, got: &TurnOutcome) -> Vec<String> {
    let mut failures = Vec::new();
    if let Some(want) = &expect.intent {
        match got.effective_intent() {
            Some(have) if have == want => {}
            Some(have) => {
                let raw = got.intent.as_deref().unwrap_or(have);
                let conf = got
                    .confidence
                    .map(|c| format!("{c:.2}"))
                    .unwrap_or_default();
                let detail = match got.threshold {
                    Some(t) if raw != have => {
                        format!("{raw} at confidence {conf}, below the threshold {t:.2}")
                    }
                    _ => format!("confidence {conf}"),
                };
                failures.push(format!(
                    "turn {n}: intent: expected {want}, got {have} ({detail})"
                ));
            }
            None => failures.push(format!(
                "turn {n}: intent: expected {want}, got none (the message was not classified)"
            )),
        }
    }
    if let Some(want) = &expect.entities {
        match &got.entities {
            None => failures.push(format!(
                "turn {n}: entities: expected {}, got none (the pipeline extracts no entities yet)",
                Value::Object(want.clone())
            )),
            Some(have) => {
                for (key, value) in want {
                    let found = have.get(key);
                    if !crate::intent_eval::entity_matches(value, found) {
                        failures.push(format!(
                            "turn {n}: entities.{key}: expected {}, got {}",
                            value_text(value),
                            found.map_or_else(|| "nothing".to_string(), value_text)
                        ));
                    }
                }
            }
        }
    }
    if let Some(pattern) = &expect.reply_matches {
        let text = got.replies.join("\n");
        match Regex::new(pattern) {
            Ok(re) if re.is_match(&text) => {}
            Ok(_) => failures.push(format!(
                "turn {n}: reply_matches: expected a match for /{pattern}/, got {}",
                if got.replies.is_empty() {
                    "no reply".to_string()
                } else {
                    format!("\"{}\"", short(&text))
                }
            )),
            Err(e) => failures.push(format!("turn {n}: reply_matches: bad regex: {e}")),
        }
    }
    failures
}

/// The failures of the outcome expectations.
pub fn check_outcome(spec: &OutcomeSpec, got: &Outcome) -> Vec<String> {
    let mut failures = Vec::new();
    if let Some(want) = spec.handoff
        && want != got.handoff
    {
        failures.push(format!(
            "outcome: handoff: expected {want}, got {}",
            got.handoff
        ));
    }
    if let Some(want) = spec.opted_out
        && want != got.opted_out
    {
        failures.push(format!(
            "outcome: opted_out: expected {want}, got {}",
            got.opted_out
        ));
    }
    if let Some(want) = &spec.tags_include {
        let missing: Vec<&str> = want
            .iter()
            .filter(|t| !got.tags.contains(t))
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            failures.push(format!(
                "outcome: tags_include: expected {}, got tags [{}]",
                missing.join(", "),
                got.tags.join(", ")
            ));
        }
    }
    if let Some(want) = &spec.lead {
        match &got.lead {
            LeadOutcome::Unsupported => {
                failures.push(format!("outcome: lead: {LEADS_UNSUPPORTED}"))
            }
            LeadOutcome::Missing => failures.push(format!(
                "outcome: lead: expected {}, got no lead",
                Value::Object(want.clone())
            )),
            LeadOutcome::Found(have) => {
                for (key, value) in want {
                    let found = have.get(key);
                    if !crate::intent_eval::entity_matches(value, found) {
                        failures.push(format!(
                            "outcome: lead.{key}: expected {}, got {}",
                            value_text(value),
                            found.map_or_else(|| "nothing".to_string(), value_text)
                        ));
                    }
                }
            }
        }
    }
    failures
}

/// Runs one test through `driver`; returns its failures (empty: passed). A driver
/// error ends the test with a failure naming where it happened.
pub async fn run_test(test: &ConversationTest, driver: &mut dyn ConversationDriver) -> Vec<String> {
    let start = Start {
        tenant: &test.tenant,
        channel: &test.channel,
        contact: &test.contact,
        now: test.now(),
    };
    if let Err(e) = driver.start(&start).await {
        return vec![format!("start: {e}")];
    }
    let mut failures = Vec::new();
    let mut buttons: Vec<(String, String)> = Vec::new();
    for (i, turn) in test.turns.iter().enumerate() {
        let result = match turn.step() {
            None => {
                failures.push(format!("turn {}: no message", i + 1));
                return failures;
            }
            Some(Step::Send(message)) => driver.send(&message).await,
            Some(Step::Wait(by)) => driver.wait(by).await,
            Some(Step::Tap { index, title }) => {
                let found = match (index, &title) {
                    (Some(n), _) => n.checked_sub(1).and_then(|k| buttons.get(k)),
                    (None, Some(t)) => buttons.iter().find(|(_, bt)| bt == t),
                    (None, None) => None,
                };
                let Some((id, shown)) = found.cloned() else {
                    let offered: Vec<&str> = buttons.iter().map(|(_, t)| t.as_str()).collect();
                    failures.push(format!(
                        "turn {}: button: no such button among the latest ones [{}]",
                        i + 1,
                        offered.join(", ")
                    ));
                    return failures;
                };
                driver.send(&UserMessage::Button { id, title: shown }).await
            }
        };
        match result {
            Ok(got) => {
                if !got.buttons.is_empty() {
                    buttons = got.buttons.clone();
                }
                if let Some(expect) = &turn.expect {
                    failures.extend(check_turn(i + 1, expect, &got));
                }
            }
            Err(e) => {
                failures.push(format!("turn {}: the pipeline failed: {e}", i + 1));
                return failures;
            }
        }
    }
    match driver.finish().await {
        Ok(outcome) => {
            if let Some(spec) = &test.outcome {
                failures.extend(check_outcome(spec, &outcome));
            }
        }
        Err(e) => failures.push(format!("outcome: the pipeline failed: {e}")),
    }
    failures
}

/// One test's result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TestResult {
    pub name: String,
    pub file: String,
    pub passed: bool,
    pub failures: Vec<String>,
}

/// The `kopru eval conversations --json` object.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConversationReport {
    pub passed: usize,
    pub failed: usize,
    pub results: Vec<TestResult>,
}

impl ConversationReport {
    pub fn all_passed(&self) -> bool {
        self.failed == 0
    }

    /// ✓/✗ per test, failures indented, then the totals.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for r in &self.results {
            if r.passed {
                out.push_str(&format!("✓ {}\n", r.name));
            } else {
                out.push_str(&format!("✗ {}  ({})\n", r.name, r.file));
                for f in &r.failures {
                    out.push_str(&format!("    {f}\n"));
                }
            }
        }
        out.push_str(&format!(
            "\n{} passed, {} failed\n",
            self.passed, self.failed
        ));
        out
    }
}

/// Runs every test in order, each with a fresh driver from `make`; `progress(done,
/// total)` after each.
pub async fn run_all(
    tests: &[LoadedTest],
    make: &mut (dyn FnMut() -> Box<dyn ConversationDriver> + Send),
    progress: &mut (dyn FnMut(usize, usize) + Send),
) -> ConversationReport {
    let mut results = Vec::with_capacity(tests.len());
    for (i, loaded) in tests.iter().enumerate() {
        let failures = match &loaded.test {
            Ok(test) => {
                let mut driver = make();
                run_test(test, driver.as_mut()).await
            }
            Err(e) => vec![format!("cannot load the test: {e}")],
        };
        results.push(TestResult {
            name: loaded.name(),
            file: loaded.file.display().to_string(),
            passed: failures.is_empty(),
            failures,
        });
        progress(i + 1, tests.len());
    }
    let passed = results.iter().filter(|r| r.passed).count();
    ConversationReport {
        passed,
        failed: results.len() - passed,
        results,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC_EXAMPLE: &str = r#"
name: implant price, then an examination slot
tenant: demo-dental          # a tenant known to the running configuration
channel: whatsapp            # whatsapp | instagram | telegram | webchat
contact: "+905551112233"
turns:
  - user: "Merhaba, 2 dişim için implant fiyatı alabilir miyim?"
    expect:                   # every key optional
      intent: price_inquiry
      entities: {treatment: implant, tooth_count: 2}
      reply_matches: "(?i)(tl|₺|eur)"   # regex over this turn's bot replies joined by newlines
  - user: "Evet randevu almak isterim"
    expect: {intent: affirm}
outcome:                      # checked after the last turn; every key optional
  lead: {stage: quoted, treatment: implant}
  tags_include: [price]
  handoff: false
"#;

    #[test]
    fn the_spec_example_parses() {
        let t = ConversationTest::parse(SPEC_EXAMPLE).unwrap();
        assert_eq!(t.tenant, "demo-dental");
        assert_eq!(t.turns.len(), 2);
        let e = t.turns[0].expect.as_ref().unwrap();
        assert_eq!(e.entities.as_ref().unwrap()["tooth_count"], 2);
        assert_eq!(
            t.turns[1].message(),
            Some(UserMessage::Text("Evet randevu almak isterim".into()))
        );
        let o = t.outcome.unwrap();
        assert_eq!(o.handoff, Some(false));
        assert_eq!(o.lead.unwrap()["stage"], "quoted");
        assert_eq!(t.now, None);
    }

    #[test]
    fn unknown_keys_are_rejected_at_every_level() {
        for (bad, key) in [
            (
                SPEC_EXAMPLE.replace("contact:", "kontakt: x\ncontact:"),
                "kontakt",
            ),
            (
                SPEC_EXAMPLE.replace(
                    "    expect: {intent: affirm}",
                    "    expekt: {intent: affirm}",
                ),
                "expekt",
            ),
            (
                SPEC_EXAMPLE.replace("intent: price_inquiry", "intnt: price_inquiry"),
                "intnt",
            ),
            (
                SPEC_EXAMPLE.replace("handoff: false", "hand_off: false"),
                "hand_off",
            ),
        ] {
            let e = ConversationTest::parse(&bad).unwrap_err();
            assert!(e.contains(key), "{key}: {e}");
        }
    }

    #[test]
    fn extensions_and_validation() {
        let ok = "name: t\ntenant: demo-shop\nchannel: webchat\ncontact: c1\nnow: \"2026-03-02T10:00:00+03:00\"\nturns:\n  - button: {id: \"handoff:yes\", title: Temsilciye bağlan}\n  - button: {id: x}\noutcome: {opted_out: false}\n";
        let t = ConversationTest::parse(ok).unwrap();
        assert_eq!(t.now().unwrap().to_string(), "2026-03-02T07:00:00Z");
        assert_eq!(
            t.turns[0].message(),
            Some(UserMessage::Button {
                id: "handoff:yes".into(),
                title: "Temsilciye bağlan".into()
            })
        );
        assert_eq!(
            t.turns[1].message(),
            Some(UserMessage::Button {
                id: "x".into(),
                title: "x".into()
            })
        );
        let cases = [
            (ok.replace("webchat", "sms"), "channel \"sms\""),
            (ok.replace("2026-03-02T10:00:00+03:00", "yarın"), "now:"),
            (
                ok.replace("  - button: {id: x}", "  - {user: a, button: {id: x}}"),
                "turn 2: give exactly one",
            ),
            (
                ok.replace(
                    "  - button: {id: x}",
                    "  - user: a\n    expect: {reply_matches: \"(\"}",
                ),
                "turn 2: reply_matches",
            ),
            (
                "name: t\ntenant: a\nchannel: webchat\ncontact: c\nturns: []\n".to_string(),
                "at least one turn",
            ),
        ];
        for (text, want) in cases {
            let e = ConversationTest::parse(&text).unwrap_err();
            assert!(e.contains(want), "{want}: {e}");
        }
    }

    #[test]
    fn turn_failures_name_the_turn_key_expected_and_got() {
        let expect = Expect {
            intent: Some("price_inquiry".into()),
            entities: Some(
                serde_json::from_str(r#"{"treatment": "implant", "tooth_count": 2}"#).unwrap(),
            ),
            reply_matches: Some("(?i)tl".into()),
        };
        let got = TurnOutcome {
            intent: Some("greeting".into()),
            confidence: Some(0.81),
            threshold: Some(0.5),
            entities: Some(serde_json::from_str(r#"{"treatment": "filling"}"#).unwrap()),
            replies: vec!["Merhaba!".into(), "Size nasıl\nyardımcı olabiliriz?".into()],
            buttons: vec![],
        };
        let f = check_turn(2, &expect, &got);
        assert_eq!(
            f,
            vec![
                "turn 2: intent: expected price_inquiry, got greeting (confidence 0.81)",
                "turn 2: entities.tooth_count: expected 2, got nothing",
                "turn 2: entities.treatment: expected implant, got filling",
                "turn 2: reply_matches: expected a match for /(?i)tl/, got \"Merhaba!⏎Size nasıl⏎yardımcı olabiliriz?\"",
            ]
        );
        // Below the threshold the flow saw out_of_scope, and the message says why.
        let low = TurnOutcome {
            intent: Some("greeting".into()),
            confidence: Some(0.31),
            threshold: Some(0.5),
            ..Default::default()
        };
        let want = Expect {
            intent: Some("greeting".into()),
            ..Default::default()
        };
        assert_eq!(
            check_turn(1, &want, &low),
            vec![
                "turn 1: intent: expected greeting, got out_of_scope (greeting at confidence 0.31, below the threshold 0.50)"
            ]
        );
        let oos = Expect {
            intent: Some("out_of_scope".into()),
            reply_matches: Some("^$".into()),
            ..Default::default()
        };
        assert!(check_turn(1, &oos, &low).is_empty());
        let no_entities = Expect {
            entities: expect.entities.clone(),
            reply_matches: Some("x".into()),
            ..Default::default()
        };
        let f = check_turn(3, &no_entities, &TurnOutcome::default());
        assert!(f[0].starts_with("turn 3: entities: expected {"), "{f:?}");
        assert!(f[0].ends_with("got none (the pipeline extracts no entities yet)"));
        assert_eq!(
            f[1],
            "turn 3: reply_matches: expected a match for /x/, got no reply"
        );
    }

    #[test]
    fn outcome_failures() {
        let spec = OutcomeSpec {
            lead: Some(serde_json::from_str(r#"{"stage": "quoted"}"#).unwrap()),
            tags_include: Some(vec!["price".into(), "greeting".into()]),
            handoff: Some(true),
            opted_out: Some(false),
        };
        let got = Outcome {
            tags: vec!["greeting".into()],
            handoff: false,
            opted_out: false,
            lead: LeadOutcome::Unsupported,
        };
        assert_eq!(
            check_outcome(&spec, &got),
            vec![
                "outcome: handoff: expected true, got false",
                "outcome: tags_include: expected price, got tags [greeting]",
                "outcome: lead: this driver keeps no leads",
            ]
        );
        let found = Outcome {
            tags: vec!["price".into(), "greeting".into()],
            handoff: true,
            lead: LeadOutcome::Found(serde_json::from_str(r#"{"stage": "new"}"#).unwrap()),
            ..Default::default()
        };
        assert_eq!(
            check_outcome(&spec, &found),
            vec!["outcome: lead.stage: expected quoted, got new"]
        );
    }

    /// Replies "echo: TEXT" and says intent "greeting" for "merhaba", else nothing.
    struct Echo {
        turns: usize,
        fail_at: Option<usize>,
    }

    #[async_trait]
    impl ConversationDriver for Echo {
        async fn start(&mut self, start: &Start<'_>) -> Result<(), DriverError> {
            if start.tenant == "nobody" {
                return Err(DriverError::new("unknown tenant \"nobody\""));
            }
            Ok(())
        }
        async fn send(&mut self, message: &UserMessage) -> Result<TurnOutcome, DriverError> {
            self.turns += 1;
            if self.fail_at == Some(self.turns) {
                return Err(DriverError::new("database is locked"));
            }
            let text = match message {
                UserMessage::Text(text) => text,
                UserMessage::Button { id, .. } => {
                    return Ok(TurnOutcome {
                        replies: vec![format!("tapped: {id}")],
                        ..Default::default()
                    });
                }
            };
            Ok(TurnOutcome {
                intent: (text == "merhaba").then(|| "greeting".to_string()),
                confidence: Some(0.9),
                threshold: Some(0.5),
                entities: None,
                replies: vec![format!("echo: {text}")],
                // Made-up ids, as a slot's would be: tests tap them by place or title.
                buttons: if text == "buttons" {
                    vec![("x:17".into(), "Bir".into()), ("x:42".into(), "İki".into())]
                } else {
                    vec![]
                },
            })
        }
        async fn finish(&mut self) -> Result<Outcome, DriverError> {
            Ok(Outcome {
                tags: vec!["greeting".into()],
                ..Default::default()
            })
        }
    }

    fn write(dir: &Path, name: &str, text: &str) {
        std::fs::write(dir.join(name), text).unwrap();
    }

    #[tokio::test]
    async fn a_folder_runs_in_file_order_and_reports() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "b_fails.yaml",
            "name: fails\ntenant: demo-shop\nchannel: webchat\ncontact: c\nturns:\n  - user: merhaba\n    expect: {intent: thanks}\n  - user: selam\n    expect: {reply_matches: \"^echo: selam$\"}\noutcome: {handoff: true}\n",
        );
        write(
            dir.path(),
            "a_passes.yaml",
            "name: passes\ntenant: demo-shop\nchannel: webchat\ncontact: c\nturns:\n  - user: merhaba\n    expect: {intent: greeting, reply_matches: echo}\noutcome: {tags_include: [greeting]}\n",
        );
        write(dir.path(), "c_broken.yaml", "name: broken\nturns: 3\n");
        write(
            dir.path(),
            "d_no_tenant.yaml",
            "name: no tenant\ntenant: nobody\nchannel: webchat\ncontact: c\nturns:\n  - user: a\n",
        );
        write(dir.path(), "notes.txt", "not a test");
        let tests = load_dir(dir.path()).unwrap();
        assert_eq!(tests.len(), 4);
        let mut seen = Vec::new();
        let report = run_all(
            &tests,
            &mut || {
                Box::new(Echo {
                    turns: 0,
                    fail_at: None,
                })
            },
            &mut |done, total| seen.push((done, total)),
        )
        .await;
        assert_eq!(seen.last(), Some(&(4, 4)));
        assert_eq!((report.passed, report.failed), (1, 3));
        assert!(!report.all_passed());
        let r = &report.results;
        assert_eq!(r[0].name, "passes");
        assert!(r[0].passed && r[0].failures.is_empty());
        assert_eq!(
            r[1].failures,
            vec![
                "turn 1: intent: expected thanks, got greeting (confidence 0.90)",
                "outcome: handoff: expected true, got false",
            ]
        );
        assert_eq!(r[2].name, "c_broken");
        assert!(
            r[2].failures[0].starts_with("cannot load the test:"),
            "{:?}",
            r[2]
        );
        assert_eq!(r[3].failures, vec!["start: unknown tenant \"nobody\""]);
        let v = serde_json::to_value(&report).unwrap();
        assert_eq!(v["passed"], 1);
        assert_eq!(v["results"][1]["passed"], false);
        let text = report.text();
        assert!(text.contains("✓ passes\n"), "{text}");
        assert!(text.contains("✗ fails"), "{text}");
        assert!(
            text.contains("\n    turn 1: intent: expected thanks"),
            "{text}"
        );
        assert!(text.ends_with("1 passed, 3 failed\n"), "{text}");
    }

    #[tokio::test]
    async fn a_driver_failure_stops_the_test_and_names_the_turn() {
        let t = ConversationTest::parse(
            "name: t\ntenant: a\nchannel: webchat\ncontact: c\nturns:\n  - user: a\n  - user: b\n  - user: c\n",
        )
        .unwrap();
        let mut d = Echo {
            turns: 0,
            fail_at: Some(2),
        };
        assert_eq!(
            run_test(&t, &mut d).await,
            vec!["turn 2: the pipeline failed: database is locked"]
        );
        assert_eq!(d.turns, 2);
    }

    #[tokio::test]
    async fn made_up_button_ids_are_tapped_by_place_or_title_and_time_needs_a_driver() {
        let t = ConversationTest::parse(
            "name: t\ntenant: a\nchannel: webchat\ncontact: c\nturns:\n  - user: buttons\n  - button: {index: 2}\n    expect: {reply_matches: 'tapped: x:42'}\n  - button: {title: Bir}\n    expect: {reply_matches: 'tapped: x:17'}\n  - button: {index: 3}\n",
        )
        .unwrap();
        let mut d = Echo {
            turns: 0,
            fail_at: None,
        };
        assert_eq!(
            run_test(&t, &mut d).await,
            vec!["turn 4: button: no such button among the latest ones [Bir, İki]"]
        );
        let t = ConversationTest::parse(
            "name: t\ntenant: a\nchannel: webchat\ncontact: c\nturns:\n  - wait: 1d 2h\n",
        )
        .unwrap();
        assert_eq!(
            t.turns[0].step(),
            Some(Step::Wait(jiff::SignedDuration::from_hours(26)))
        );
        assert_eq!(
            run_test(&t, &mut d).await,
            vec!["turn 1: the pipeline failed: this driver cannot move time (wait)"]
        );
        for bad in [
            "wait: 2x",
            "wait: h",
            "wait: 12",
            "user: a\n    wait: 1h",
            "button: {}",
        ] {
            let text =
                format!("name: t\ntenant: a\nchannel: webchat\ncontact: c\nturns:\n  - {bad}\n");
            assert!(
                ConversationTest::parse(&text).is_err(),
                "{bad} must be refused"
            );
        }
        assert_eq!(parse_wait("90m"), Ok(jiff::SignedDuration::from_mins(90)));
    }

    #[test]
    fn an_empty_folder_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let e = load_dir(dir.path()).unwrap_err().to_string();
        assert!(e.starts_with("no *.yaml conversation tests in"), "{e}");
        assert!(load_dir(&dir.path().join("missing")).is_err());
    }
}

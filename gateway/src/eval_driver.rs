//! `kopru eval …`: the eval harness (the `eval` crate) wired to the gateway's real
//! parts. `eval intents` scores the built-in local models on a dataset; `eval
//! conversations` runs YAML conversation tests in-process through [`GatewayDriver`],
//! which drives the same road as the server — inbox ([`crate::inbox::ingest`]), engine
//! ([`crate::turns::run_claim`]), outbox, store — on a fresh embedded store per test,
//! synchronously (no background workers, so every run is the same).
//!
//! Entities come from the message's meta when the turn recorded them, otherwise from
//! the local extractors (`intents::entities`). The flows' clock is a manual one: it
//! starts at the test's `now:` (or the real time) and `wait:` turns move it, firing
//! the timers due by then. Lead outcomes are the conversation's lead as stored.

use crate::config::{Config, Source, StoreConfig};
use crate::runtime::Runtime;
use anyhow::{Context, anyhow, bail};
use async_trait::async_trait;
use channels::{Channel, Contact, Content, Inbound, OutContent};
use eval::conversation::{
    ConversationDriver, DriverError, LeadOutcome, Outcome, Start, TurnOutcome, UserMessage,
};
use eval::intent_eval::{EntityExtractor, IntentModel, LocalEntities, LocalModel, NicheChoice};
use flows::Clock;
use jiff::Timestamp;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use store::Direction;

/// `kopru eval intents`.
#[derive(Debug, clap::Args)]
pub struct IntentsArgs {
    /// The dataset: JSON Lines with `text` and `intent` (see docs/eval.md).
    #[arg(long, value_name = "FILE")]
    pub dataset: PathBuf,
    /// Use this tenant's niche model and confidence threshold.
    #[arg(long, value_name = "ID", conflicts_with = "niche")]
    pub tenant: Option<String>,
    /// Use this niche's model for every row (ecommerce, dental, aesthetic, health,
    /// general). Without --tenant or --niche each row's `niche` picks the model.
    #[arg(long, value_name = "NAME")]
    pub niche: Option<String>,
    /// The configuration that knows --tenant; without it the bundled demo.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Below this confidence the answer is out_of_scope, as in the flows (default: the
    /// tenant's threshold, or 0.5; 0 scores the raw top intent).
    #[arg(long, value_name = "X")]
    pub threshold: Option<f32>,
    /// Print one JSON object instead of tables.
    #[arg(long)]
    pub json: bool,
    /// Also write a self-contained HTML report (with the confusion heat map) here.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// An earlier `--json` report to compare with: per-intent F1 and overall deltas.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// Fail (exit non-zero) when macro-F1 fell by more than this versus --baseline.
    #[arg(long, value_name = "X", requires = "baseline")]
    pub max_drop: Option<f64>,
}

/// `kopru eval conversations`.
#[derive(Debug, clap::Args)]
pub struct ConversationsArgs {
    /// The folder of conversation tests (`*.yaml`, one test a file).
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
    /// The configuration whose tenants the tests name; without it the bundled demo.
    /// Each test runs on its own fresh embedded store whatever the file says.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Print one JSON object instead of ✓/✗ lines.
    #[arg(long)]
    pub json: bool,
}

/// A `done/total` line on stderr, only when stderr is a terminal.
struct Progress {
    label: &'static str,
    on: bool,
    last: std::time::Instant,
}

impl Progress {
    fn new(label: &'static str) -> Self {
        Progress {
            label,
            on: std::io::stderr().is_terminal(),
            last: std::time::Instant::now(),
        }
    }

    fn tick(&mut self, done: usize, total: usize) {
        if !self.on || (done < total && self.last.elapsed() < Duration::from_millis(50)) {
            return;
        }
        self.last = std::time::Instant::now();
        let mut err = std::io::stderr();
        let _ = write!(err, "\r{}: {done}/{total}", self.label);
        let _ = err.flush();
    }

    fn done(&self) {
        if self.on {
            let _ = write!(std::io::stderr(), "\r\x1b[K");
        }
    }
}

/// Runs `kopru eval intents`.
pub async fn intents(args: IntentsArgs) -> anyhow::Result<()> {
    let rows = eval::read_jsonl(&args.dataset)?;
    let (config, _) = Config::load(args.config.as_deref(), std::env::vars())?;
    let (choice, tenant_threshold, what) = match (&args.tenant, &args.niche) {
        (Some(id), _) => {
            let t = config
                .tenants
                .iter()
                .find(|t| &t.id == id)
                .ok_or_else(|| unknown_tenant(id, &config))?;
            (
                NicheChoice::Fixed(t.niche.clone()),
                Some(t.confidence_threshold),
                format!("tenant {id}, niche {}", t.niche),
            )
        }
        (None, Some(n)) => (NicheChoice::Fixed(n.clone()), None, format!("niche {n}")),
        (None, None) => (NicheChoice::PerRow, None, "niche per row".to_string()),
    };
    let threshold = args
        .threshold
        .or(tenant_threshold)
        .unwrap_or(intents::DEFAULT_THRESHOLD);
    if !(0.0..=1.0).contains(&threshold) {
        bail!("--threshold {threshold} is not between 0 and 1");
    }
    let nlu = std::sync::Arc::new(intents::Nlu::builtin().context("training the built-in models")?);
    let local = LocalModel {
        nlu: &nlu,
        threshold,
    };
    // With `[upstreams] llm` configured, the same cascade as the server answers: the
    // report then counts the LLM path and its token cost.
    let cascade = crate::runtime::build_llm(&config)?.map(|llm| CascadeModel {
        cascade: intents::cascade::Cascade::new(nlu.clone(), Some(llm)),
        local: LocalModel {
            nlu: &nlu,
            threshold,
        },
        tenant: args.tenant.clone().unwrap_or_else(|| "eval".into()),
        threshold,
        llm_allowed: args
            .tenant
            .as_ref()
            .and_then(|id| config.tenants.iter().find(|t| &t.id == id))
            .and_then(|t| t.llm),
    });
    let model: &dyn IntentModel = match &cascade {
        Some(c) => c,
        None => &local,
    };
    let local_entities = LocalEntities::istanbul_now();
    let extractor: Option<&dyn EntityExtractor> = Some(&local_entities);
    let mut progress = Progress::new("eval intents");
    let result =
        eval::intent_eval::evaluate(&rows, &choice, model, threshold, extractor, &mut |d, t| {
            progress.tick(d, t)
        });
    progress.done();
    let mut report = result?;
    if let Some(path) = &args.baseline {
        let baseline = eval::Baseline::read(path)?;
        report.baseline = Some(eval::Comparison::of(&baseline, &report.report));
    }
    if let Some(path) = &args.html {
        let title = format!(
            "Köprü intent evaluation: {} ({what})",
            args.dataset
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default()
        );
        std::fs::write(path, eval::render::html(&report, &title))
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print!("{}", eval::render::text(&report));
    }
    if let (Some(max_drop), Some(cmp)) = (args.max_drop, &report.baseline) {
        cmp.gate(max_drop)?;
    }
    Ok(())
}

fn unknown_tenant(id: &str, config: &Config) -> anyhow::Error {
    let mut known: Vec<&str> = config.tenants.iter().map(|t| t.id.as_str()).collect();
    known.sort_unstable();
    anyhow!("unknown tenant {id:?} (known: {})", known.join(", "))
}

/// Runs `kopru eval conversations`.
pub async fn conversations(args: ConversationsArgs) -> anyhow::Result<()> {
    let tests = eval::conversation::load_dir(&args.dir)?;
    let (config, source) = Config::load(args.config.as_deref(), std::env::vars())?;
    let mut progress = Progress::new("eval conversations");
    let report = eval::conversation::run_all(
        &tests,
        &mut || Box::new(GatewayDriver::new(config.clone(), source.clone())),
        &mut |d, t| progress.tick(d, t),
    )
    .await;
    progress.done();
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print!("{}", report.text());
    }
    if !report.all_passed() {
        bail!(
            "{} of {} conversation tests failed",
            report.failed,
            report.results.len()
        );
    }
    Ok(())
}

/// A folder under the system temp dir, removed when dropped.
struct ScratchDir(PathBuf);

impl ScratchDir {
    fn new() -> std::io::Result<Self> {
        let path =
            std::env::temp_dir().join(format!("kopru-eval-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&path)?;
        Ok(ScratchDir(path))
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// One test's running pipeline. Field order matters: the runtime (and its store)
/// is dropped before its folder is removed.
struct Running {
    rt: Arc<Runtime>,
    _dir: ScratchDir,
    tenant: String,
    channel: Channel,
    contact: Contact,
    threshold: f32,
    conversation: Option<i64>,
    /// The last message seq already read.
    cursor: i64,
    sent: u64,
    /// The clock the flows see; `wait` turns move it.
    clock: std::sync::Arc<flows::ManualClock>,
}

/// Runs one conversation test through the gateway's real pipeline on a fresh
/// embedded store (SQLite in a temporary folder, in-process hot state).
pub struct GatewayDriver {
    config: Config,
    source: Source,
    running: Option<Running>,
    /// Trained once, shared by every test's runtime.
    nlu: Option<std::sync::Arc<intents::Nlu>>,
}

/// How many claim rounds one turn may take before the driver gives up (a turn is
/// normally one round; more means something keeps re-queuing events).
const MAX_ROUNDS: usize = 64;

impl GatewayDriver {
    pub fn new(config: Config, source: Source) -> Self {
        GatewayDriver {
            config,
            source,
            running: None,
            nlu: None,
        }
    }

    fn running(&mut self) -> Result<&mut Running, DriverError> {
        self.running
            .as_mut()
            .ok_or_else(|| DriverError::new("the conversation was not started"))
    }

    /// Runs what is pending (inbox, then the outbox without the network) and reads the
    /// messages since the last turn: the inbound one's analysis, the bot's replies.
    async fn settle(&mut self, message: Option<&UserMessage>) -> Result<TurnOutcome, DriverError> {
        let r = self.running()?;
        let rt = r.rt.clone();
        let Some(conversation) = r.conversation else {
            return Ok(TurnOutcome::default());
        };

        // The inbox worker's job, done here and now: claim, run, until nothing is pending.
        let mut rounds = 0;
        while let Some(claim) = rt
            .store
            .claim_conversation(&rt.owner, rt.lease(), Timestamp::now())
            .await
            .map_err(store_err)?
        {
            crate::turns::run_claim(&rt, &claim)
                .await
                .map_err(store_err)?;
            rounds += 1;
            if rounds >= MAX_ROUNDS {
                return Err(DriverError::new(format!(
                    "events still pending after {MAX_ROUNDS} rounds"
                )));
            }
        }
        // The outbox worker's job without the network: web chat delivery is marking
        // the rows sent; other channels' replies stay queued and are read as such.
        loop {
            let items = rt
                .store
                .claim_outbox(&rt.owner, 128, Duration::from_secs(300), Timestamp::now())
                .await
                .map_err(store_err)?;
            if items.is_empty() {
                break;
            }
            let webchat: Vec<i64> = items
                .iter()
                .filter(|i| i.channel == Channel::Webchat)
                .map(|i| i.id)
                .collect();
            if !webchat.is_empty() {
                rt.store
                    .outbox_sent_many(&webchat, Timestamp::now())
                    .await
                    .map_err(store_err)?;
            }
        }

        let messages = rt
            .store
            .messages(&r.tenant, conversation, r.cursor, 10_000)
            .await
            .map_err(store_err)?;
        if let Some(last) = messages.last() {
            r.cursor = last.seq;
        }
        let mut out = TurnOutcome {
            threshold: Some(r.threshold),
            ..Default::default()
        };
        for m in &messages {
            match m.direction {
                Direction::In => {
                    let meta = &m.meta;
                    out.intent = meta
                        .get("intent")
                        .and_then(|i| i.as_str())
                        .map(str::to_string);
                    out.confidence = meta
                        .get("confidence")
                        .and_then(|c| c.as_f64())
                        .map(|c| c as f32);
                    // Entities the turn recorded win; until turns record them, the
                    // local extractors read the message as the tenant would.
                    out.entities = meta
                        .get("entities")
                        .and_then(|e| e.as_object())
                        .map(eval::intent_eval::first_values)
                        .or_else(|| {
                            let text = message.and_then(inbound_text)?;
                            let t = rt.tenant(&r.tenant)?;
                            let x = LocalEntities {
                                tz: t.config.timezone.clone(),
                                now: r.clock.now(),
                            };
                            Some(x.extract(&t.config.niche, text))
                        });
                }
                Direction::Out => {
                    let content: OutContent = serde_json::from_value(m.content.clone())
                        .map_err(|e| DriverError::new(format!("stored reply: {e}")))?;
                    out.replies.push(reply_text(&content));
                    if let OutContent::Buttons { buttons, .. } = &content {
                        out.buttons = buttons
                            .iter()
                            .map(|b| (b.id.clone(), b.title.clone()))
                            .collect();
                    }
                }
            }
        }
        Ok(out)
    }
}

fn store_err(e: store::StoreError) -> DriverError {
    DriverError::new(format!("store: {e}"))
}

/// The text a classifier reads of what the customer sent.
fn inbound_text(message: &UserMessage) -> Option<&str> {
    match message {
        UserMessage::Text(text) => Some(text),
        UserMessage::Button { title, .. } => Some(title),
    }
}

/// A reply as the test sees it: its text, then one `[title]` line per button.
fn reply_text(content: &OutContent) -> String {
    let mut text = content.body().to_string();
    if let OutContent::Buttons { buttons, .. } = content {
        for b in buttons {
            text.push_str(&format!("\n[{}]", b.title));
        }
    }
    text
}

#[async_trait]
impl ConversationDriver for GatewayDriver {
    async fn start(&mut self, start: &Start<'_>) -> Result<(), DriverError> {
        let channel: Channel = start
            .channel
            .parse()
            .map_err(|_| DriverError::new(format!("unknown channel {:?}", start.channel)))?;
        let dir = ScratchDir::new().map_err(|e| DriverError::new(format!("temp dir: {e}")))?;
        let mut config = self.config.clone();
        config.server.data_dir = dir.0.clone();
        config.store = StoreConfig::default();
        if !config.tenants.iter().any(|t| t.id == start.tenant) {
            return Err(DriverError::new(unknown_tenant(start.tenant, &config)));
        }
        let nlu = match &self.nlu {
            Some(n) => n.clone(),
            None => {
                let n = std::sync::Arc::new(
                    intents::Nlu::builtin()
                        .map_err(|e| DriverError::new(format!("training: {e}")))?,
                );
                self.nlu = Some(n.clone());
                n
            }
        };
        // A test's `now:` fixes the clock the flows see (business hours, dates); without
        // it the clock starts at the real time. Either way `wait` turns move it.
        let clock = std::sync::Arc::new(flows::ManualClock::new(
            start.now.unwrap_or_else(Timestamp::now),
        ));
        let parts = crate::runtime::Parts {
            nlu: Some(nlu),
            clock: Some(clock.clone() as std::sync::Arc<dyn flows::Clock>),
        };
        let rt = Runtime::build_with(config, self.source.clone(), true, parts)
            .await
            .map_err(|e| DriverError::new(format!("{e:#}")))?;
        let threshold = rt
            .tenant(start.tenant)
            .map(|t| t.profile.confidence_threshold)
            .unwrap_or(intents::DEFAULT_THRESHOLD);
        let handle = start.contact.to_string();
        self.running = Some(Running {
            rt,
            _dir: dir,
            tenant: start.tenant.to_string(),
            channel,
            contact: Contact {
                phone: (channel == Channel::Whatsapp).then(|| handle.clone()),
                handle,
                name: Some("eval".into()),
            },
            threshold,
            conversation: None,
            cursor: 0,
            sent: 0,
            clock,
        });
        Ok(())
    }

    async fn send(&mut self, message: &UserMessage) -> Result<TurnOutcome, DriverError> {
        let r = self.running()?;
        r.sent += 1;
        let content = match message {
            UserMessage::Text(body) => Content::Text { body: body.clone() },
            UserMessage::Button { id, title } => Content::Interactive {
                id: id.clone(),
                title: title.clone(),
            },
        };
        let inbound = Inbound {
            tenant: r.tenant.clone(),
            channel: r.channel,
            contact: r.contact.clone(),
            content,
            referral: None,
            provider_id: format!("eval-{}", r.sent),
            sent_at_ms: None,
            reply_to: None,
            details: Default::default(),
        };
        let rt = r.rt.clone();
        let ingested = crate::inbox::ingest(&rt, &inbound)
            .await
            .map_err(store_err)?;
        let conversation = ingested
            .conversation
            .ok_or_else(|| DriverError::new("the message was taken for a duplicate"))?;
        r.conversation = Some(conversation);
        self.settle(Some(message)).await
    }

    async fn wait(&mut self, by: jiff::SignedDuration) -> Result<TurnOutcome, DriverError> {
        let r = self.running()?;
        r.clock.advance(by);
        let now = r.clock.now();
        let rt = r.rt.clone();
        // The timer worker's job: every timer due by the new time goes to the inbox.
        while rt
            .store
            .fire_due_timers(now, 1000)
            .await
            .map_err(store_err)?
            > 0
        {}
        self.settle(None).await
    }

    async fn finish(&mut self) -> Result<Outcome, DriverError> {
        let r = self.running()?;
        let Some(conversation) = r.conversation else {
            return Ok(Outcome::default());
        };
        let c =
            r.rt.store
                .conversation(&r.tenant, conversation)
                .await
                .map_err(store_err)?
                .ok_or_else(|| DriverError::new("the conversation is gone"))?;
        let lead =
            r.rt.store
                .lead_for_conversation(&r.tenant, conversation)
                .await
                .map_err(store_err)?;
        let lead = match lead.map(serde_json::to_value) {
            Some(Ok(serde_json::Value::Object(map))) => LeadOutcome::Found(map),
            Some(_) => return Err(DriverError::new("the lead does not serialise")),
            None => LeadOutcome::Missing,
        };
        Ok(Outcome {
            tags: c.tags,
            handoff: c.handoff,
            opted_out: c.opted_out,
            lead,
        })
    }
}

/// The server's cascade as an [`IntentModel`]: local first, the LLM when unsure.
struct CascadeModel<'a> {
    cascade: intents::cascade::Cascade,
    local: LocalModel<'a>,
    tenant: String,
    threshold: f32,
    /// The tenant's switch; by niche when not set (health stays local).
    llm_allowed: Option<bool>,
}

impl IntentModel for CascadeModel<'_> {
    fn has_niche(&self, niche: &str) -> bool {
        self.local.has_niche(niche)
    }

    fn classify(&self, niche: &str, text: &str) -> eval::intent_eval::Classified {
        let allowed = self
            .llm_allowed
            .unwrap_or_else(|| intents::cascade::llm_allowed_by_default(niche));
        let input = intents::cascade::CascadeInput::new(&self.tenant, niche, text)
            .threshold(self.threshold)
            .llm_allowed(allowed);
        // The evaluator is synchronous; the command runs on a multi-threaded runtime.
        let out = tokio::task::block_in_place(|| {
            tokio::runtime::Handle::current().block_on(self.cascade.understand(&input))
        });
        let path = match out.path {
            intents::cascade::Path::Llm => eval::intent_eval::AnswerPath::Llm,
            _ => eval::intent_eval::AnswerPath::Local,
        };
        let p = out.prediction.or_out_of_scope(self.threshold);
        eval::intent_eval::Classified {
            intent: p.intent,
            confidence: p.confidence,
            path,
            tokens: out.tokens,
        }
    }

    fn knows(&self, niche: &str, intent: &str) -> bool {
        self.local.knows(niche, intent)
    }

    fn describe(&self, niche: &str) -> serde_json::Value {
        let mut d = self.local.describe(niche);
        if let Some(llm) = &self.cascade.llm {
            d["llm"] = serde_json::json!({
                "model": llm.config().model,
                "prompt": llm.prompt_id(),
            });
        }
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use eval::conversation::{ConversationTest, run_test};

    fn demo() -> GatewayDriver {
        let (config, source) = Config::load(None, Vec::new()).unwrap();
        GatewayDriver::new(config, source)
    }

    #[tokio::test]
    async fn a_conversation_runs_through_the_real_pipeline() {
        let test = ConversationTest::parse(
            r#"
name: greeting then a colleague
tenant: demo-dental
channel: webchat
contact: eval-unit
turns:
  - user: "Merhaba"
    expect: {intent: greeting, reply_matches: "Demo Diş Kliniği olarak"}
  - user: "müşteri temsilcisine bağlar mısınız"
    expect: {intent: human_handoff, reply_matches: "temsilcimize aktarıyorum"}
  - user: "merhaba?"
    expect: {reply_matches: "^$"}
outcome: {handoff: true, tags_include: [greeting, human_handoff], opted_out: false}
"#,
        )
        .unwrap();
        let mut d = demo();
        let failures = run_test(&test, &mut d).await;
        assert!(failures.is_empty(), "{failures:#?}");
        // The scratch store goes with the driver.
        let dir = d.running.as_ref().unwrap()._dir.0.clone();
        assert!(dir.exists());
        drop(d);
        assert!(!dir.exists());
    }

    #[tokio::test]
    async fn whatsapp_replies_are_read_from_the_queue_and_buttons_are_listed() {
        let mut d = demo();
        d.start(&Start {
            tenant: "demo-shop",
            channel: "whatsapp",
            contact: "+905551112233",
            now: None,
        })
        .await
        .unwrap();
        let first = d
            .send(&UserMessage::Text("asdf qwer zxcv".into()))
            .await
            .unwrap();
        assert_eq!(first.replies.len(), 1, "{first:?}");
        let second = d
            .send(&UserMessage::Text("hjkl uiop".into()))
            .await
            .unwrap();
        assert!(
            second.replies[0].ends_with("\n[Temsilciye bağlan]\n[Hayır, teşekkürler]"),
            "{second:?}"
        );
        let tap = d
            .send(&UserMessage::Button {
                id: "handoff:yes".into(),
                title: "Temsilciye bağlan".into(),
            })
            .await
            .unwrap();
        assert!(tap.replies[0].contains("aktarıyorum"), "{tap:?}");
        let outcome = d.finish().await.unwrap();
        assert!(outcome.handoff);
        assert!(outcome.tags.contains(&"unrecognized".to_string()));
        assert_eq!(
            outcome.lead,
            LeadOutcome::Missing,
            "a shop keeps no leads for plain chats"
        );
        assert_eq!(second.buttons.len(), 2, "{second:?}");
    }

    #[tokio::test]
    async fn unsupported_starts_are_named() {
        let mut d = demo();
        let start = |tenant, now| Start {
            tenant,
            channel: "webchat",
            contact: "c",
            now,
        };
        let e = d.start(&start("demo-nobody", None)).await.unwrap_err();
        assert!(e.0.contains("unknown tenant \"demo-nobody\""), "{e}");
        let e = d.send(&UserMessage::Text("x".into())).await.unwrap_err();
        assert!(e.0.contains("not started"), "{e}");
    }
}

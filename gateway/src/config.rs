//! Configuration: one TOML file (or the bundled demo), overridden by environment
//! variables `KOPRU_<SECTION>__<KEY>`, secrets read from `*_env` variables. Unknown keys
//! are errors that name the key. See `../shared/spec/formats.md` and `docs/configuration.md`.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The bundled demo configuration.
pub const DEMO_TOML: &str = include_str!("../demo.toml");

/// Why configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{origin}: {message}")]
    Invalid { origin: String, message: String },
    #[error("environment variable {var}: {message}")]
    Env { var: String, message: String },
    #[error("tenant {tenant}: {message}")]
    Tenant { tenant: String, message: String },
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub server: ServerConfig,
    #[serde(default)]
    pub store: StoreConfig,
    #[serde(default)]
    pub upstreams: UpstreamsConfig,
    #[serde(default)]
    pub meta: MetaConfig,
    #[serde(default)]
    pub workers: WorkersConfig,
    #[serde(default)]
    pub limits: LimitsConfig,
    #[serde(default)]
    pub tenants: Vec<TenantConfig>,
}

/// Sending rates. Meta counts a phone number's inbound and outbound messages together.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// Messages per second per WhatsApp phone number or Instagram account (Meta's
    /// default tier is 80; up to 1,000 when Meta has raised it).
    #[serde(default = "default_per_number")]
    pub per_number_per_second: u32,
    /// Messages per minute to one customer (WhatsApp's pair limit, error 131056).
    #[serde(default = "default_per_recipient")]
    pub per_recipient_per_minute: u32,
    /// Messages per second per tenant over all its channels.
    #[serde(default = "default_per_tenant")]
    pub per_tenant_per_second: u32,
    /// Telegram: messages per second per chat (Telegram asks for about one).
    #[serde(default = "default_tg_chat")]
    pub telegram_per_chat_per_second: u32,
    /// Telegram: messages per second per bot (Telegram's limit is about 30).
    #[serde(default = "default_tg_bot")]
    pub telegram_per_bot_per_second: u32,
    /// Concurrent sends to upstreams from one process.
    #[serde(default = "default_send_concurrency")]
    pub send_concurrency: usize,
}

const fn default_per_number() -> u32 {
    80
}
const fn default_per_recipient() -> u32 {
    20
}
const fn default_per_tenant() -> u32 {
    1000
}
const fn default_tg_chat() -> u32 {
    1
}
const fn default_tg_bot() -> u32 {
    30
}
const fn default_send_concurrency() -> usize {
    32
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            per_number_per_second: default_per_number(),
            per_recipient_per_minute: default_per_recipient(),
            per_tenant_per_second: default_per_tenant(),
            telegram_per_chat_per_second: default_tg_chat(),
            telegram_per_bot_per_second: default_tg_bot(),
            send_concurrency: default_send_concurrency(),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Webhooks, web chat, admin API, dashboard.
    #[serde(default = "default_listen")]
    pub listen: String,
    /// The Integrations service.
    #[serde(default = "default_integrations_listen")]
    pub integrations_listen: String,
    /// Where the embedded store (and demo keys) live.
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// Largest HTTP request body accepted, in bytes.
    #[serde(default = "default_max_body")]
    pub max_body_bytes: usize,
    /// How long graceful shutdown waits for work in flight, in seconds.
    #[serde(default = "default_shutdown_grace")]
    pub shutdown_grace_seconds: u64,
}

fn default_listen() -> String {
    "127.0.0.1:8080".into()
}
fn default_integrations_listen() -> String {
    "127.0.0.1:7106".into()
}
fn default_data_dir() -> PathBuf {
    PathBuf::from("./data")
}
const fn default_max_body() -> usize {
    4 * 1024 * 1024
}
const fn default_shutdown_grace() -> u64 {
    10
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: default_listen(),
            integrations_listen: default_integrations_listen(),
            data_dir: default_data_dir(),
            max_body_bytes: default_max_body(),
            shutdown_grace_seconds: default_shutdown_grace(),
        }
    }
}

/// Absent URLs mean the embedded store: a SQLite file in `data_dir`, in-process hot state.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    pub postgres_url: Option<String>,
    pub redis_url: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkersConfig {
    /// Conversations handled at once by this process.
    #[serde(default = "default_inbox_workers")]
    pub inbox: usize,
    /// How long a worker holds a conversation before another replica may take it over
    /// (it renews while working), in milliseconds.
    #[serde(default = "default_lease_ms")]
    pub lease_ms: u64,
    /// Poll interval when no wake-up arrives (e.g. Redis is down), in milliseconds.
    #[serde(default = "default_poll_ms")]
    pub poll_ms: u64,
    /// How long a send interrupted by a crash waits for the provider's confirmation
    /// before it is sent again, in milliseconds.
    #[serde(default = "default_send_grace_ms")]
    pub send_grace_ms: u64,
}

const fn default_send_grace_ms() -> u64 {
    120_000
}

const fn default_inbox_workers() -> usize {
    8
}
const fn default_lease_ms() -> u64 {
    30_000
}
const fn default_poll_ms() -> u64 {
    250
}

impl Default for WorkersConfig {
    fn default() -> Self {
        Self {
            inbox: default_inbox_workers(),
            lease_ms: default_lease_ms(),
            poll_ms: default_poll_ms(),
            send_grace_ms: default_send_grace_ms(),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamsConfig {
    #[serde(default = "default_graph_api")]
    pub graph_api: String,
    #[serde(default = "default_telegram_api")]
    pub telegram_api: String,
    pub llm: Option<LlmConfig>,
}

fn default_graph_api() -> String {
    "https://graph.facebook.com/v21.0".into()
}
fn default_telegram_api() -> String {
    "https://api.telegram.org".into()
}

impl Default for UpstreamsConfig {
    fn default() -> Self {
        Self {
            graph_api: default_graph_api(),
            telegram_api: default_telegram_api(),
            llm: None,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LlmConfig {
    pub base_url: String,
    pub model: String,
    pub api_key_env: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetaConfig {
    #[serde(default = "default_app_secret_env")]
    pub app_secret_env: String,
    #[serde(default = "default_verify_token_env")]
    pub verify_token_env: String,
}

fn default_app_secret_env() -> String {
    "META_APP_SECRET".into()
}
fn default_verify_token_env() -> String {
    "META_VERIFY_TOKEN".into()
}

impl Default for MetaConfig {
    fn default() -> Self {
        Self {
            app_secret_env: default_app_secret_env(),
            verify_token_env: default_verify_token_env(),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantConfig {
    pub id: String,
    /// ecommerce | dental | aesthetic | health
    pub niche: String,
    pub name: String,
    #[serde(default = "default_timezone")]
    pub timezone: String,
    /// siz (formal, default) | sen
    #[serde(default)]
    pub tone: flows::Tone,
    /// The variable holding this tenant's admin API bearer key.
    pub api_key_env: Option<String>,
    #[serde(default)]
    pub greeting: Option<String>,
    #[serde(default)]
    pub address: String,
    #[serde(default)]
    pub directions: Option<String>,
    #[serde(default)]
    pub maps_url: Option<String>,
    #[serde(default)]
    pub payment_options: Vec<String>,
    /// Weekday (mon … sun) → "09:00-13:00, 14:00-19:00" or "closed".
    #[serde(default)]
    pub hours: BTreeMap<String, String>,
    #[serde(default = "default_threshold")]
    pub confidence_threshold: f32,
    /// The tenant's own intent examples (JSON Lines, as the intent dataset format):
    /// more examples for shipped intents, or intents of its own.
    #[serde(default)]
    pub intents_file: Option<PathBuf>,
    /// Whether unsure messages may be sent (PII masked) to the configured LLM. Default:
    /// yes, except for health tenants (KVKK: only with a vendor contract on record).
    #[serde(default)]
    pub llm: Option<bool>,
    /// The tenant's LLM token budget per day (Istanbul calendar day).
    #[serde(default)]
    pub llm_daily_tokens: Option<u64>,
    pub whatsapp: Option<WhatsappConfig>,
    pub instagram: Option<InstagramConfig>,
    pub telegram: Option<TelegramConfig>,
    pub webchat: Option<WebchatConfig>,
    /// Clinic data (price list, practitioners, chairs, services, hours): a folder with
    /// `clinic.toml` and `prices.csv`, or `builtin:dental` for the bundled demo clinic.
    /// Clinic tenants without it answer with the general flow only.
    #[serde(default)]
    pub clinic_dir: Option<String>,
    /// Lead stages, consultants, SLA and the CRM webhook.
    #[serde(default)]
    pub leads: LeadsConfig,
}

/// How a tenant's leads are staged, assigned, watched and exported.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeadsConfig {
    /// The stages in their usual order; empty: new, quoted, appointment_booked, showed,
    /// treatment_started, won, lost.
    #[serde(default)]
    pub stages: Vec<String>,
    /// Who new leads are given to.
    #[serde(default)]
    pub consultants: Vec<flows::leads::Consultant>,
    /// round_robin (default) | language | load
    #[serde(default)]
    pub assignment: flows::leads::Assignment,
    /// The first human answer is due this many business minutes after a lead arrives.
    #[serde(default)]
    pub sla_first_response_minutes: Option<u32>,
    /// Who gets a lead whose first answer is overdue.
    #[serde(default)]
    pub escalate_to: Option<String>,
    /// Every timeline event is POSTed here (signed, retried).
    #[serde(default)]
    pub crm_webhook_url: Option<String>,
    /// The variable holding the HMAC-SHA256 key of `X-Kopru-Signature`.
    #[serde(default)]
    pub crm_secret_env: Option<String>,
}

impl LeadsConfig {
    fn validate(&self) -> Result<(), String> {
        let stages = self.stages();
        let mut seen = std::collections::HashSet::new();
        for s in &stages {
            if s.trim().is_empty() || !seen.insert(s.as_str()) {
                return Err(format!("stage {s:?} is empty or listed twice"));
            }
        }
        for needed in ["new", "lost"] {
            if !seen.contains(needed) {
                return Err(format!("stages must include {needed:?}"));
            }
        }
        let mut ids = std::collections::HashSet::new();
        for c in &self.consultants {
            if c.id.trim().is_empty() || !ids.insert(c.id.as_str()) {
                return Err(format!("consultant id {:?} is empty or listed twice", c.id));
            }
        }
        if let Some(e) = &self.escalate_to
            && !ids.contains(e.as_str())
        {
            return Err(format!("escalate_to {e:?} is not one of the consultants"));
        }
        if self.sla_first_response_minutes == Some(0) {
            return Err("sla_first_response_minutes must be at least 1".into());
        }
        if let Some(url) = &self.crm_webhook_url
            && !(url.starts_with("https://") || url.starts_with("http://"))
        {
            return Err(format!("crm_webhook_url {url:?} is not an http(s) URL"));
        }
        Ok(())
    }

    /// The configured stages, or the default ones.
    pub fn stages(&self) -> Vec<String> {
        if self.stages.is_empty() {
            flows::leads::DEFAULT_STAGES
                .iter()
                .map(|s| s.to_string())
                .collect()
        } else {
            self.stages.clone()
        }
    }
}

fn default_timezone() -> String {
    "Europe/Istanbul".into()
}
const fn default_threshold() -> f32 {
    0.45
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WhatsappConfig {
    pub phone_number_id: String,
    pub access_token_env: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstagramConfig {
    pub account_id: String,
    pub access_token_env: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelegramConfig {
    pub bot_token_env: Option<String>,
    pub secret_token_env: Option<String>,
    /// How updates arrive: `webhook` (default; Telegram posts to
    /// `/webhooks/telegram/{tenant}`) or `polling` (`kopru serve` asks `getUpdates`
    /// itself, for development without a public URL).
    #[serde(default)]
    pub mode: TelegramMode,
}

/// How a tenant's Telegram bot receives updates.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TelegramMode {
    /// Telegram posts updates to our webhook (production).
    #[default]
    Webhook,
    /// We long-poll `getUpdates` (development without a public URL).
    Polling,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebchatConfig {
    /// Page origins allowed to open the socket; a request without `Origin` (not a
    /// browser) is allowed.
    #[serde(default)]
    pub allowed_origins: Vec<String>,
}

/// Where a configuration came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    Demo,
    File(PathBuf),
}

impl Config {
    /// Loads `path` (or the demo when `None`), applies `KOPRU_*` overrides from `env`,
    /// and validates the result.
    pub fn load(
        path: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<(Config, Source), ConfigError> {
        let (text, source) = match path {
            Some(p) => (
                std::fs::read_to_string(p).map_err(|source| ConfigError::Read {
                    path: p.to_path_buf(),
                    source,
                })?,
                Source::File(p.to_path_buf()),
            ),
            None => (DEMO_TOML.to_string(), Source::Demo),
        };
        let origin = match &source {
            Source::Demo => "bundled demo configuration".to_string(),
            Source::File(p) => p.display().to_string(),
        };
        let mut doc: toml::Table = toml::from_str(&text).map_err(|e| ConfigError::Invalid {
            origin: origin.clone(),
            message: e.to_string(),
        })?;
        let mut overridden = false;
        for (var, value) in env {
            if let Some(path) = var.strip_prefix("KOPRU_").filter(|p| p.contains("__")) {
                apply_override(&mut doc, &var, path, &value)?;
                overridden = true;
            }
        }
        // Re-reading the merged document as text keeps toml's error messages, which
        // name the unknown key and where it is.
        let merged = toml::to_string(&doc).map_err(|e| ConfigError::Invalid {
            origin: origin.clone(),
            message: e.to_string(),
        })?;
        let config: Config = toml::from_str(&merged).map_err(|e| ConfigError::Invalid {
            origin: if overridden {
                format!("{origin} (with KOPRU_* overrides)")
            } else {
                origin.clone()
            },
            message: e.to_string(),
        })?;
        config.validate()?;
        Ok((config, source))
    }

    /// Checks what serde cannot: unique tenant ids, known niches, valid profiles.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let l = &self.limits;
        for (key, v) in [
            ("per_number_per_second", l.per_number_per_second),
            ("per_recipient_per_minute", l.per_recipient_per_minute),
            ("per_tenant_per_second", l.per_tenant_per_second),
            (
                "telegram_per_chat_per_second",
                l.telegram_per_chat_per_second,
            ),
            ("telegram_per_bot_per_second", l.telegram_per_bot_per_second),
        ] {
            if v == 0 {
                return Err(ConfigError::Invalid {
                    origin: "limits".into(),
                    message: format!("{key} must be at least 1"),
                });
            }
        }
        if l.per_number_per_second > 1000 {
            return Err(ConfigError::Invalid {
                origin: "limits".into(),
                message: "per_number_per_second is at most 1000 (Meta's highest tier)".into(),
            });
        }
        let mut seen = std::collections::HashSet::new();
        let mut numbers = std::collections::HashMap::new();
        for t in &self.tenants {
            let err = |message: String| ConfigError::Tenant {
                tenant: t.id.clone(),
                message,
            };
            if !valid_tenant_id(&t.id) {
                return Err(err(
                    "id must be 1-64 characters of a-z 0-9 and -".to_string()
                ));
            }
            if !seen.insert(t.id.as_str()) {
                return Err(err("id is used by another tenant".into()));
            }
            // Webhooks are routed by these ids: two tenants may not share one.
            let ids = [
                t.whatsapp
                    .as_ref()
                    .map(|w| ("whatsapp", w.phone_number_id.as_str())),
                t.instagram
                    .as_ref()
                    .map(|i| ("instagram", i.account_id.as_str())),
            ];
            for (kind, id) in ids.into_iter().flatten() {
                if let Some(other) = numbers.insert((kind, id.to_string()), t.id.as_str()) {
                    return Err(err(format!(
                        "{kind} id {id} is also configured for tenant {other}"
                    )));
                }
            }
            t.profile().map_err(err)?;
            t.leads.validate().map_err(|m| err(format!("leads: {m}")))?;
        }
        Ok(())
    }

    /// Whether production mode (PostgreSQL and Redis) is configured.
    pub fn production(&self) -> bool {
        self.store.postgres_url.is_some()
    }
}

/// Tenant ids appear in URLs and keys: keep them plain.
pub fn valid_tenant_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

impl TenantConfig {
    /// The tenant as flows see it.
    pub fn profile(&self) -> Result<flows::TenantProfile, String> {
        let niche = flows::Niche::parse(&self.niche).ok_or_else(|| {
            format!(
                "niche {:?} is not one of ecommerce, dental, aesthetic, health",
                self.niche
            )
        })?;
        let hours = flows::BusinessHours::from_map(&self.hours).map_err(|e| e.to_string())?;
        let profile = flows::TenantProfile {
            id: self.id.clone(),
            niche,
            name: self.name.clone(),
            tone: self.tone,
            timezone: self.timezone.clone(),
            hours,
            address: self.address.clone(),
            directions: self.directions.clone(),
            maps_url: self.maps_url.clone(),
            payment_options: self.payment_options.clone(),
            confidence_threshold: self.confidence_threshold,
            greeting: self.greeting.clone(),
        };
        profile.validate().map_err(|e| e.to_string())?;
        Ok(profile)
    }
}

/// Sets `KOPRU_A__B__C=value` at `a.b.c`; a numeric part indexes an array
/// (`KOPRU_TENANTS__0__NAME`). The value is read as TOML when it parses as a TOML
/// value (numbers, booleans, arrays, inline tables), otherwise as a string.
fn apply_override(
    doc: &mut toml::Table,
    var: &str,
    path: &str,
    value: &str,
) -> Result<(), ConfigError> {
    let parts: Vec<String> = path.split("__").map(|p| p.to_ascii_lowercase()).collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(ConfigError::Env {
            var: var.into(),
            message: "empty key between '__'".into(),
        });
    }
    let parsed = parse_value(value);
    let mut cur = doc;
    for (i, part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        if last {
            cur.insert(part.clone(), parsed);
            return Ok(());
        }
        let next_is_index = parts[i + 1].parse::<usize>().is_ok();
        let entry = cur.entry(part.clone()).or_insert_with(|| {
            if next_is_index {
                toml::Value::Array(Vec::new())
            } else {
                toml::Value::Table(toml::Table::new())
            }
        });
        match entry {
            toml::Value::Table(t) => cur = t,
            toml::Value::Array(items) if next_is_index => {
                let idx: usize = parts[i + 1].parse().unwrap_or(usize::MAX);
                let item = items.get_mut(idx).ok_or_else(|| ConfigError::Env {
                    var: var.into(),
                    message: format!("{part} has no element {idx}"),
                })?;
                // Skip the index part: continue from the element.
                return match item {
                    toml::Value::Table(t) => {
                        let rest = parts[i + 2..].join("__");
                        if rest.is_empty() {
                            Err(ConfigError::Env {
                                var: var.into(),
                                message: "names an array element, not a key".into(),
                            })
                        } else {
                            apply_override(t, var, &rest, value)
                        }
                    }
                    _ => Err(ConfigError::Env {
                        var: var.into(),
                        message: format!("{part}[{idx}] is not a table"),
                    }),
                };
            }
            _ => {
                return Err(ConfigError::Env {
                    var: var.into(),
                    message: format!("{part} is not a section"),
                });
            }
        }
    }
    Ok(())
}

fn parse_value(raw: &str) -> toml::Value {
    let wrapped = format!("v = {raw}");
    match toml::from_str::<toml::Table>(&wrapped) {
        Ok(mut t) => t
            .remove("v")
            .unwrap_or_else(|| toml::Value::String(raw.into())),
        Err(_) => toml::Value::String(raw.into()),
    }
}

/// Reads a secret from the variable named by a `*_env` key.
pub fn secret(var: Option<&str>) -> Option<String> {
    var.and_then(|v| std::env::var(v).ok())
        .filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn demo_loads_with_four_tenants_one_per_niche() {
        let (c, src) = Config::load(None, env(&[])).unwrap();
        assert_eq!(src, Source::Demo);
        let niches: Vec<_> = c.tenants.iter().map(|t| t.niche.as_str()).collect();
        assert_eq!(niches, ["ecommerce", "dental", "aesthetic", "health"]);
        assert!(!c.production());
    }

    #[test]
    fn default_config_round_trips() {
        let c = Config::default();
        let text = toml::to_string(&c).unwrap();
        let back: Config = toml::from_str(&text).unwrap();
        assert_eq!(back.server.listen, "127.0.0.1:8080");
        assert_eq!(back.workers.inbox, c.workers.inbox);
    }

    #[test]
    fn env_overrides_sections_and_tenant_elements() {
        let (c, _) = Config::load(
            None,
            env(&[
                ("KOPRU_SERVER__LISTEN", "127.0.0.1:0"),
                (
                    "KOPRU_STORE__POSTGRES_URL",
                    "postgres://root@127.0.0.1/test",
                ),
                ("KOPRU_WORKERS__INBOX", "3"),
                ("KOPRU_TENANTS__1__NAME", "Başka Klinik"),
                ("KOPRU_UNRELATED", "ignored: no double underscore"),
            ]),
        )
        .unwrap();
        assert_eq!(c.server.listen, "127.0.0.1:0");
        assert_eq!(c.workers.inbox, 3);
        assert_eq!(c.tenants[1].name, "Başka Klinik");
        assert!(c.production());
    }

    #[test]
    fn unknown_keys_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k.toml");
        std::fs::write(&p, "[server]\nlisten = \"127.0.0.1:1\"\nlisen = 3\n").unwrap();
        let e = Config::load(Some(&p), env(&[])).unwrap_err().to_string();
        assert!(e.contains("lisen"), "{e}");
        let e = Config::load(None, env(&[("KOPRU_SERVER__COLOUR", "red")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("colour"), "{e}");
    }

    #[test]
    fn bad_tenants_are_refused_with_their_id() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.toml");
        std::fs::write(
            &p,
            "[[tenants]]\nid = \"x\"\nniche = \"bakery\"\nname = \"X\"\n",
        )
        .unwrap();
        let e = Config::load(Some(&p), env(&[])).unwrap_err().to_string();
        assert!(e.contains("tenant x") && e.contains("bakery"), "{e}");
        std::fs::write(
            &p,
            "[[tenants]]\nid = \"Büyük\"\nniche = \"dental\"\nname = \"X\"\n",
        )
        .unwrap();
        assert!(Config::load(Some(&p), env(&[])).is_err());
    }
}

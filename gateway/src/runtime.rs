//! The running parts built from configuration: stores, the NLU, tenants with their
//! profiles and keys, this process's worker identity. Shared by `serve` and `chat`.

use crate::config::{Config, Source, TenantConfig, secret};
use flows::TenantProfile;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use store::{Hot, Store};

/// A configured tenant, ready to serve.
#[derive(Debug)]
pub struct Tenant {
    pub config: TenantConfig,
    pub profile: TenantProfile,
    /// Bearer key for the admin API; `None` disables the admin API for this tenant.
    pub api_key: Option<String>,
    pub secrets: ChannelSecrets,
    /// Clinic data, for clinic tenants that configure `clinic_dir`.
    pub clinic: Option<Arc<crate::clinic::ClinicData>>,
    /// The HMAC key of the CRM webhook's signature.
    pub crm_secret: Option<String>,
}

/// A tenant's channel credentials, read from the variables its configuration names.
#[derive(Default)]
pub struct ChannelSecrets {
    pub whatsapp_token: Option<String>,
    pub instagram_token: Option<String>,
    pub telegram_token: Option<String>,
    pub telegram_secret: Option<String>,
}

// Secrets never reach logs, not even through Debug.
impl std::fmt::Debug for ChannelSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let set = |s: &Option<String>| if s.is_some() { "set" } else { "unset" };
        f.debug_struct("ChannelSecrets")
            .field("whatsapp_token", &set(&self.whatsapp_token))
            .field("instagram_token", &set(&self.instagram_token))
            .field("telegram_token", &set(&self.telegram_token))
            .field("telegram_secret", &set(&self.telegram_secret))
            .finish()
    }
}

/// Everything the server, the workers and the chat command share.
pub struct Runtime {
    pub config: Config,
    pub source: Source,
    pub store: Arc<dyn Store>,
    pub hot: Arc<dyn Hot>,
    pub nlu: Arc<intents::Nlu>,
    pub tenants: HashMap<String, Arc<Tenant>>,
    /// Identifies this process's leases.
    pub owner: String,
    /// Keys generated for demo tenants in this run or an earlier one (tenant, key).
    pub demo_keys: Vec<(String, String)>,
    /// Verifies `X-Hub-Signature-256`; without it Meta webhooks are refused.
    pub meta_app_secret: Option<String>,
    /// Answers Meta's `hub.challenge` handshake.
    pub meta_verify_token: Option<String>,
    /// WhatsApp phone number id → tenant.
    pub whatsapp_numbers: HashMap<String, String>,
    /// Instagram account id → tenant.
    pub instagram_accounts: HashMap<String, String>,
    /// Sends outbox messages to the providers, within their rate limits.
    pub senders: crate::senders::Senders,
    /// The time flows see (the system clock; a fixed one in conversation tests).
    pub clock: Arc<dyn flows::Clock>,
    /// Local model first, the LLM (when configured and allowed) when it is unsure.
    pub cascade: Arc<intents::cascade::Cascade>,
}

/// Parts a caller may bring instead of having [`Runtime::build_with`] make them.
#[derive(Default)]
pub struct Parts {
    /// An already trained NLU (training takes a moment; tests share one).
    pub nlu: Option<Arc<intents::Nlu>>,
    pub clock: Option<Arc<dyn flows::Clock>>,
}

impl Runtime {
    /// Connects the stores, trains the NLU and prepares the tenants.
    ///
    /// `exclusive`: this process is the embedded store's only server, so leases left by
    /// a crashed predecessor can be dropped at once instead of waiting for them to
    /// expire. (`kopru chat` may run beside a server and must not.)
    pub async fn build(
        config: Config,
        source: Source,
        exclusive: bool,
    ) -> anyhow::Result<Arc<Runtime>> {
        Self::build_with(config, source, exclusive, Parts::default()).await
    }

    /// [`Runtime::build`] with some parts given.
    pub async fn build_with(
        config: Config,
        source: Source,
        exclusive: bool,
        parts: Parts,
    ) -> anyhow::Result<Arc<Runtime>> {
        let store: Arc<dyn Store> = match &config.store.postgres_url {
            Some(url) => store::connect(url).await?,
            None => {
                std::fs::create_dir_all(&config.server.data_dir)?;
                let path = config.server.data_dir.join("kopru.db");
                let sqlite = store::SqliteStore::open(&path).await?;
                if exclusive {
                    let n = sqlite.release_all_leases().await?;
                    if n > 0 {
                        tracing::info!(leases = n, "dropped leases of a previous run");
                    }
                }
                Arc::new(sqlite)
            }
        };
        let hot: Arc<dyn Hot> = match &config.store.redis_url {
            Some(url) => Arc::new(store::RedisHot::connect(url).await?),
            None => Arc::new(store::InProcessHot::new()),
        };
        let mut nlu = match parts.nlu {
            Some(n) => n,
            None => Arc::new(intents::Nlu::builtin()?),
        };
        let with_examples: Vec<_> = config
            .tenants
            .iter()
            .filter_map(|t| t.intents_file.as_ref().map(|f| (t, f)))
            .collect();
        if !with_examples.is_empty() {
            let mut own = (*nlu).clone();
            for (t, file) in with_examples {
                let examples = intents::read_examples(file)
                    .map_err(|e| anyhow::anyhow!("tenant {}: {}: {e}", t.id, file.display()))?;
                own.add_tenant(&t.id, &t.niche, examples)
                    .map_err(|e| anyhow::anyhow!("tenant {}: {}: {e}", t.id, file.display()))?;
            }
            nlu = Arc::new(own);
        }
        let llm = build_llm(&config)?;
        let cascade = Arc::new(intents::cascade::Cascade::new(nlu.clone(), llm));
        let clock = parts.clock.unwrap_or_else(|| Arc::new(flows::SystemClock));

        let mut demo_keys = Vec::new();
        let mut stored_demo_keys = if source == Source::Demo {
            load_demo_keys(&config)
        } else {
            HashMap::new()
        };
        let mut tenants = HashMap::new();
        for t in &config.tenants {
            let profile = t
                .profile()
                .map_err(|m| anyhow::anyhow!("tenant {}: {m}", t.id))?;
            let mut api_key = secret(t.api_key_env.as_deref());
            if api_key.is_none() && source == Source::Demo {
                let key = stored_demo_keys
                    .entry(t.id.clone())
                    .or_insert_with(new_api_key)
                    .clone();
                demo_keys.push((t.id.clone(), key.clone()));
                api_key = Some(key);
            }
            store
                .upsert_tenant(&store::TenantRecord {
                    id: t.id.clone(),
                    niche: t.niche.clone(),
                    name: t.name.clone(),
                })
                .await?;
            let secrets = ChannelSecrets {
                whatsapp_token: t
                    .whatsapp
                    .as_ref()
                    .and_then(|w| secret(w.access_token_env.as_deref())),
                instagram_token: t
                    .instagram
                    .as_ref()
                    .and_then(|i| secret(i.access_token_env.as_deref())),
                telegram_token: t
                    .telegram
                    .as_ref()
                    .and_then(|g| secret(g.bot_token_env.as_deref())),
                telegram_secret: t
                    .telegram
                    .as_ref()
                    .and_then(|g| secret(g.secret_token_env.as_deref())),
            };
            let clinic = match &t.clinic_dir {
                Some(dir) => Some(Arc::new(
                    crate::clinic::ClinicData::load(&t.id, dir, &config.server.data_dir)
                        .map_err(|e| anyhow::anyhow!("tenant {}: clinic_dir: {e:#}", t.id))?,
                )),
                None => None,
            };
            let crm_secret = secret(t.leads.crm_secret_env.as_deref());
            if t.leads.crm_webhook_url.is_some() && crm_secret.is_none() {
                tracing::warn!(tenant = %t.id, "CRM webhook configured without crm_secret_env: deliveries are unsigned");
            }
            tenants.insert(
                t.id.clone(),
                Arc::new(Tenant {
                    config: t.clone(),
                    profile,
                    api_key,
                    secrets,
                    clinic,
                    crm_secret,
                }),
            );
        }
        if !demo_keys.is_empty() {
            save_demo_keys(&config, &stored_demo_keys);
        }
        let whatsapp_numbers = config
            .tenants
            .iter()
            .filter_map(|t| {
                t.whatsapp
                    .as_ref()
                    .map(|w| (w.phone_number_id.clone(), t.id.clone()))
            })
            .collect();
        let instagram_accounts = config
            .tenants
            .iter()
            .filter_map(|t| {
                t.instagram
                    .as_ref()
                    .map(|i| (i.account_id.clone(), t.id.clone()))
            })
            .collect();
        let senders = crate::senders::Senders::new(&config)?;
        Ok(Arc::new(Runtime {
            meta_app_secret: secret(Some(&config.meta.app_secret_env)),
            meta_verify_token: secret(Some(&config.meta.verify_token_env)),
            whatsapp_numbers,
            instagram_accounts,
            senders,
            clock,
            cascade,
            config,
            source,
            store,
            hot,
            nlu,
            tenants,
            owner: format!("kopru-{}", uuid::Uuid::new_v4().simple()),
            demo_keys,
        }))
    }

    pub fn tenant(&self, id: &str) -> Option<&Arc<Tenant>> {
        self.tenants.get(id)
    }

    /// The tenant a bearer key belongs to.
    pub fn tenant_by_key(&self, key: &str) -> Option<&Arc<Tenant>> {
        self.tenants.values().find(|t| {
            t.api_key
                .as_deref()
                .is_some_and(|k| crate::auth::constant_time_eq(k.as_bytes(), key.as_bytes()))
        })
    }

    pub fn lease(&self) -> Duration {
        Duration::from_millis(self.config.workers.lease_ms)
    }

    pub fn poll(&self) -> Duration {
        Duration::from_millis(self.config.workers.poll_ms.max(10))
    }
}

fn new_api_key() -> String {
    use rand::Rng;
    let bytes: [u8; 24] = rand::rng().random();
    format!(
        "kopru_demo_{}",
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    )
}

fn demo_keys_path(config: &Config) -> std::path::PathBuf {
    config.server.data_dir.join("demo-keys.toml")
}

fn load_demo_keys(config: &Config) -> HashMap<String, String> {
    std::fs::read_to_string(demo_keys_path(config))
        .ok()
        .and_then(|t| toml::from_str(&t).ok())
        .unwrap_or_default()
}

fn save_demo_keys(config: &Config, keys: &HashMap<String, String>) {
    let path = demo_keys_path(config);
    let _ = std::fs::create_dir_all(&config.server.data_dir);
    let sorted: std::collections::BTreeMap<_, _> = keys.iter().collect();
    if let Ok(text) = toml::to_string(&sorted)
        && let Err(e) = std::fs::write(&path, text)
    {
        tracing::warn!(path = %path.display(), error = %e, "could not keep demo keys");
    }
}

/// The LLM classifier of `[upstreams] llm`, with the tenants' daily token budgets;
/// `None` when no LLM is configured.
pub fn build_llm(config: &Config) -> anyhow::Result<Option<intents::llm::LlmClassifier>> {
    let Some(l) = &config.upstreams.llm else {
        return Ok(None);
    };
    let mut cfg = intents::llm::LlmConfig::new(&l.base_url, &l.model);
    if let Some(key) = secret(l.api_key_env.as_deref()) {
        cfg = cfg.with_api_key(key);
    }
    let classifier =
        intents::llm::LlmClassifier::new(cfg).map_err(|e| anyhow::anyhow!("upstreams.llm: {e}"))?;
    for t in &config.tenants {
        if let Some(n) = t.llm_daily_tokens {
            classifier.budget().set_limit(&t.id, n);
        }
    }
    Ok(Some(classifier))
}

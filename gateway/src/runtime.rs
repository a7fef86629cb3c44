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
        let nlu = Arc::new(intents::Nlu::builtin()?);

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
            tenants.insert(
                t.id.clone(),
                Arc::new(Tenant {
                    config: t.clone(),
                    profile,
                    api_key,
                }),
            );
        }
        if !demo_keys.is_empty() {
            save_demo_keys(&config, &stored_demo_keys);
        }
        Ok(Arc::new(Runtime {
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

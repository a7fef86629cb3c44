//! Sending outbox messages to the providers: eligibility first (24-hour windows, from
//! `flows::eligibility`), then rate limits (per phone number / account, per recipient,
//! per tenant, Telegram per chat and bot), then the HTTP call through the configured
//! base URL, and the provider's answer classified into sent / retry later / final.

use crate::config::Config;
use crate::runtime::{Runtime, Tenant};
use channels::send::{SendError, SendErrorKind};
use channels::{Channel, Outbound};
use flows::eligibility::{self, Eligibility, WindowFacts};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use jiff::Timestamp;
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use store::OutboxItem;

/// What became of one send attempt.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Accepted by the provider, with its message id.
    Sent(Option<String>),
    /// Try again at `at`; `error` is kept on the message meanwhile.
    Retry { at: Timestamp, error: String },
    /// Never send this message; `error` says why.
    Final { error: String },
}

/// The HTTP client and the limiters of this process.
pub struct Senders {
    http: reqwest::Client,
    graph_api: String,
    telegram_api: String,
    per_account: DefaultKeyedRateLimiter<String>,
    per_recipient: DefaultKeyedRateLimiter<String>,
    per_tenant: DefaultKeyedRateLimiter<String>,
    telegram_chat: DefaultKeyedRateLimiter<String>,
    telegram_bot: DefaultKeyedRateLimiter<String>,
    /// Accounts told to slow down (130429, 80007, Telegram 429): no sends until then.
    paused: Mutex<HashMap<String, Instant>>,
}

fn nz(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN)
}

impl Senders {
    pub fn new(config: &Config) -> anyhow::Result<Senders> {
        let l = &config.limits;
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(20))
            .pool_max_idle_per_host(64)
            .build()?;
        Ok(Senders {
            http,
            graph_api: config.upstreams.graph_api.trim_end_matches('/').to_string(),
            telegram_api: config
                .upstreams
                .telegram_api
                .trim_end_matches('/')
                .to_string(),
            per_account: RateLimiter::keyed(Quota::per_second(nz(l.per_number_per_second))),
            per_recipient: RateLimiter::keyed(Quota::per_minute(nz(l.per_recipient_per_minute))),
            per_tenant: RateLimiter::keyed(Quota::per_second(nz(l.per_tenant_per_second))),
            telegram_chat: RateLimiter::keyed(Quota::per_second(
                nz(l.telegram_per_chat_per_second),
            )),
            telegram_bot: RateLimiter::keyed(Quota::per_second(nz(l.telegram_per_bot_per_second))),
            paused: Mutex::new(HashMap::new()),
        })
    }

    /// The shared HTTP client (connection pools to the providers).
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// Counts an inbound message against its phone number's budget, as Meta does.
    pub fn count_inbound(&self, account: &str) {
        let _ = self.per_account.check_key(&account.to_string());
    }

    async fn wait_unpaused(&self, account: &str) {
        let until = self
            .paused
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(account)
            .copied();
        if let Some(until) = until {
            let now = Instant::now();
            if until > now {
                tokio::time::sleep(until - now).await;
            }
        }
    }

    fn pause(&self, account: &str, for_: Duration) {
        let until = Instant::now() + for_;
        let mut paused = self.paused.lock().unwrap_or_else(|e| e.into_inner());
        let entry = paused.entry(account.to_string()).or_insert(until);
        *entry = (*entry).max(until);
    }

    /// Sends one outbox message.
    pub async fn send(&self, rt: &Runtime, item: &OutboxItem) -> Outcome {
        let Some(tenant) = rt.tenant(&item.tenant) else {
            return Outcome::Final {
                error: format!("tenant {} is not configured", item.tenant),
            };
        };
        let now = Timestamp::now();
        let facts = WindowFacts {
            last_inbound_at: item.last_inbound_at,
            last_referral_at: item.last_referral_at,
            human_agent: item.sender == "agent",
        };
        if let Eligibility::Refuse { reason } =
            eligibility::check(item.channel, &item.content, &facts, now)
        {
            return Outcome::Final { error: reason };
        }
        let out = Outbound {
            tenant: item.tenant.clone(),
            channel: item.channel,
            to: item.to.clone(),
            content: item.content.clone(),
            idempotency_key: item.idempotency_key.clone(),
        };
        match item.channel {
            Channel::Whatsapp => self.whatsapp(tenant, &out, item.attempts).await,
            Channel::Instagram => self.instagram(tenant, &out, item.attempts).await,
            Channel::Telegram => self.telegram(tenant, &out, item.attempts).await,
            Channel::Webchat => Outcome::Sent(None),
        }
    }

    async fn limits(&self, tenant: &str, account: &str, recipient: &str) {
        self.wait_unpaused(account).await;
        self.per_tenant.until_key_ready(&tenant.to_string()).await;
        self.per_account.until_key_ready(&account.to_string()).await;
        self.per_recipient
            .until_key_ready(&format!("{account}:{recipient}"))
            .await;
    }

    async fn whatsapp(&self, tenant: &Tenant, out: &Outbound, attempts: i32) -> Outcome {
        let Some(cfg) = &tenant.config.whatsapp else {
            return Outcome::Final {
                error: "the tenant has no WhatsApp number".into(),
            };
        };
        let Some(token) = &tenant.secrets.whatsapp_token else {
            return not_configured(
                attempts,
                "WhatsApp access token",
                cfg.access_token_env.as_deref(),
            );
        };
        let body = match channels::whatsapp::render(out) {
            Ok(b) => b,
            Err(e) => {
                return Outcome::Final {
                    error: e.to_string(),
                };
            }
        };
        let account = cfg.phone_number_id.as_str();
        self.limits(&out.tenant, account, &out.to).await;
        let url = format!("{}/{}/messages", self.graph_api, account);
        let result = self.post(&url, Some(token), &body).await;
        self.settle(
            account,
            attempts,
            result,
            channels::whatsapp::parse_send_response,
            channels::whatsapp::classify_error,
        )
    }

    async fn instagram(&self, tenant: &Tenant, out: &Outbound, attempts: i32) -> Outcome {
        let Some(cfg) = &tenant.config.instagram else {
            return Outcome::Final {
                error: "the tenant has no Instagram account".into(),
            };
        };
        let Some(token) = &tenant.secrets.instagram_token else {
            return not_configured(
                attempts,
                "Instagram access token",
                cfg.access_token_env.as_deref(),
            );
        };
        let bodies = match channels::instagram::render(out) {
            Ok(b) => b,
            Err(e) => {
                return Outcome::Final {
                    error: e.to_string(),
                };
            }
        };
        let account = cfg.account_id.as_str();
        let url = format!("{}/{}/messages", self.graph_api, account);
        let mut last = Outcome::Final {
            error: "nothing to send".into(),
        };
        for body in &bodies {
            self.limits(&out.tenant, account, &out.to).await;
            let result = self.post(&url, Some(token), body).await;
            last = self.settle(
                account,
                attempts,
                result,
                channels::instagram::parse_send_response,
                channels::instagram::classify_error,
            );
            if !matches!(last, Outcome::Sent(_)) {
                break;
            }
        }
        last
    }

    async fn telegram(&self, tenant: &Tenant, out: &Outbound, attempts: i32) -> Outcome {
        let Some(token) = &tenant.secrets.telegram_token else {
            let var = tenant
                .config
                .telegram
                .as_ref()
                .and_then(|t| t.bot_token_env.as_deref());
            return not_configured(attempts, "Telegram bot token", var);
        };
        let request = match channels::telegram::render(&out.to, &out.content) {
            Ok(r) => r,
            Err(e) => {
                return Outcome::Final {
                    error: e.to_string(),
                };
            }
        };
        // The bot's key is its tenant: the token itself never goes into a map or a log.
        let bot = format!("tg:{}", out.tenant);
        self.wait_unpaused(&bot).await;
        self.telegram_bot.until_key_ready(&bot).await;
        self.telegram_chat
            .until_key_ready(&format!("{bot}:{}", out.to))
            .await;
        let url = format!("{}/bot{}/{}", self.telegram_api, token, request.method);
        let result = self.post(&url, None, &request.body).await;
        self.settle(
            &bot,
            attempts,
            result,
            channels::telegram::parse_send_response,
            channels::telegram::classify_error,
        )
    }

    /// POSTs JSON; returns (status, Retry-After, body) or a network error.
    async fn post(
        &self,
        url: &str,
        bearer: Option<&str>,
        body: &serde_json::Value,
    ) -> Result<(u16, Option<String>, Vec<u8>), String> {
        let mut req = self.http.post(url).json(body);
        if let Some(t) = bearer {
            req = req.bearer_auth(t);
        }
        send_json(req).await
    }

    fn settle(
        &self,
        account: &str,
        attempts: i32,
        result: Result<(u16, Option<String>, Vec<u8>), String>,
        parse: fn(u16, &[u8]) -> Result<String, SendError>,
        classify: fn(u16, &[u8], Option<&str>) -> SendError,
    ) -> Outcome {
        let (status, retry_after, body) = match result {
            Ok(r) => r,
            Err(error) => {
                return Outcome::Retry {
                    at: later(backoff(attempts)),
                    error,
                };
            }
        };
        let err = if (200..300).contains(&status) {
            match parse(status, &body) {
                Ok(id) => return Outcome::Sent(Some(id)),
                Err(e) => e,
            }
        } else {
            classify(status, &body, retry_after.as_deref())
        };
        self.on_error(account, attempts, err)
    }

    fn on_error(&self, account: &str, attempts: i32, err: SendError) -> Outcome {
        let error = err.to_string();
        match err.kind {
            SendErrorKind::Retry { after } => Outcome::Retry {
                at: later(after.unwrap_or_else(|| backoff(attempts))),
                error,
            },
            SendErrorKind::SlowDown { after } => {
                let wait = after.unwrap_or_else(|| backoff(attempts));
                self.pause(account, wait);
                crate::metrics::slowed_down(account);
                Outcome::Retry {
                    at: later(wait),
                    error,
                }
            }
            // Meta's pair limit is about one message every six seconds to a customer.
            SendErrorKind::PairLimit => Outcome::Retry {
                at: later(Duration::from_secs(6).max(backoff(attempts))),
                error,
            },
            SendErrorKind::Auth => {
                tracing::error!(
                    account,
                    "provider refused our credentials; messages stay queued"
                );
                Outcome::Retry {
                    at: later(Duration::from_secs(60)),
                    error,
                }
            }
            SendErrorKind::WindowClosed | SendErrorKind::Permanent => Outcome::Final { error },
        }
    }
}

/// A missing credential is an operator's mistake: keep the messages, retry slowly.
fn not_configured(attempts: i32, what: &str, var: Option<&str>) -> Outcome {
    Outcome::Retry {
        at: later(backoff(attempts).max(Duration::from_secs(60))),
        error: format!(
            "{what} is not configured (set {})",
            var.unwrap_or("its *_env variable")
        ),
    }
}

/// Exponential backoff with jitter: 1 s, 2 s, 4 s … up to 5 minutes, ±20 %.
pub fn backoff(attempts: i32) -> Duration {
    use rand::Rng;
    let exp = attempts.clamp(1, 20) as u32 - 1;
    let base = Duration::from_secs(1)
        .saturating_mul(1u32 << exp.min(9))
        .min(Duration::from_secs(300));
    let jitter = rand::rng().random_range(0.8..1.2);
    base.mul_f64(jitter)
}

fn later(d: Duration) -> Timestamp {
    let now = Timestamp::now();
    jiff::SignedDuration::try_from(d)
        .ok()
        .and_then(|d| now.checked_add(d).ok())
        .unwrap_or(now)
}

/// Sends a prepared request; returns (status, Retry-After, body) or a network error
/// whose text never contains the URL (a Telegram URL holds the bot token).
pub async fn send_json(
    req: reqwest::RequestBuilder,
) -> Result<(u16, Option<String>, Vec<u8>), String> {
    let resp = req
        .send()
        .await
        .map_err(|e| format!("network: {}", e.without_url()))?;
    let status = resp.status().as_u16();
    let retry_after = resp
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string);
    let bytes = resp
        .bytes()
        .await
        .map_err(|e| format!("network: {}", e.without_url()))?;
    Ok((status, retry_after, bytes.to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let b1 = backoff(1);
        assert!(b1 >= Duration::from_millis(800) && b1 <= Duration::from_millis(1200));
        let b4 = backoff(4);
        assert!(b4 >= Duration::from_millis(6400) && b4 <= Duration::from_millis(9600));
        assert!(backoff(50) <= Duration::from_secs(360));
    }
}

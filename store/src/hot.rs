//! [`Hot`] backends: what can be lost and rebuilt. [`InProcessHot`] keeps it in this
//! process (the embedded default); [`RedisHot`] shares it between replicas through
//! Redis. Redis being down only costs speed: every call fails fast (about a second at
//! most), and the connection and the notice subscription come back on their own.

use crate::{Hot, Notice, Result, StoreError};
use async_trait::async_trait;
use futures_util::StreamExt as _;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::{broadcast, watch};
use tokio::time::Instant;

/// How many notices a slow subscriber may fall behind before it misses some.
const NOTICE_BUFFER: usize = 1024;

/// Milliseconds for a TTL, at least 1 (Redis rejects `PX 0`).
fn ttl_ms(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // The guarded maps stay consistent even if a holder panicked.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

// ---------------------------------------------------------------------------------------
// In process
// ---------------------------------------------------------------------------------------

/// [`Hot`] inside this process: a map of keys with expiry times and a broadcast channel.
#[derive(Debug)]
pub struct InProcessHot {
    notices: broadcast::Sender<Notice>,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Remembered keys and when they expire.
    seen: HashMap<String, Instant>,
    /// Held locks: token and expiry.
    locks: HashMap<String, (String, Instant)>,
    /// Calls since the last sweep of expired entries.
    since_sweep: u32,
}

impl State {
    /// Removes expired entries every so often, so the maps do not grow without bound.
    fn sweep(&mut self, now: Instant) {
        self.since_sweep += 1;
        if self.since_sweep >= 1024 {
            self.since_sweep = 0;
            self.seen.retain(|_, until| *until > now);
            self.locks.retain(|_, (_, until)| *until > now);
        }
    }
}

impl InProcessHot {
    pub fn new() -> Self {
        let (notices, _) = broadcast::channel(NOTICE_BUFFER);
        InProcessHot {
            notices,
            state: Mutex::new(State::default()),
        }
    }
}

impl Default for InProcessHot {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait]
impl Hot for InProcessHot {
    fn backend(&self) -> &'static str {
        "in-process"
    }

    async fn ping(&self) -> Result<()> {
        Ok(())
    }

    async fn seen(&self, key: &str) -> Result<bool> {
        let now = Instant::now();
        let mut state = lock(&self.state);
        state.sweep(now);
        Ok(state.seen.get(key).is_some_and(|until| *until > now))
    }

    async fn remember(&self, key: &str, ttl: Duration) -> Result<()> {
        let now = Instant::now();
        let mut state = lock(&self.state);
        state.sweep(now);
        state.seen.insert(key.to_string(), now + ttl);
        Ok(())
    }

    async fn publish(&self, notice: &Notice) -> Result<()> {
        // No subscribers is not an error: nobody needed waking.
        let _ = self.notices.send(notice.clone());
        Ok(())
    }

    fn subscribe(&self) -> broadcast::Receiver<Notice> {
        self.notices.subscribe()
    }

    async fn try_lock(&self, key: &str, ttl: Duration) -> Result<Option<String>> {
        let now = Instant::now();
        let mut state = lock(&self.state);
        state.sweep(now);
        if state.locks.get(key).is_some_and(|(_, until)| *until > now) {
            return Ok(None);
        }
        let token = uuid::Uuid::new_v4().simple().to_string();
        state
            .locks
            .insert(key.to_string(), (token.clone(), now + ttl));
        Ok(Some(token))
    }

    async fn unlock(&self, key: &str, token: &str) -> Result<()> {
        let mut state = lock(&self.state);
        if state.locks.get(key).is_some_and(|(held, _)| held == token) {
            state.locks.remove(key);
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// Redis
// ---------------------------------------------------------------------------------------

/// Settings of [`RedisHot`]; [`RedisConfig::new`] gives the production defaults.
#[derive(Clone, Debug)]
pub struct RedisConfig {
    pub url: String,
    /// Put before every key and the notice channel (`kopru:` by default).
    pub prefix: String,
    /// Longest a call may take, connecting included, before it fails.
    pub call_timeout: Duration,
    /// Longest wait for a command's answer on a live connection.
    pub response_timeout: Duration,
    /// Longest wait for a new connection.
    pub connect_timeout: Duration,
}

impl RedisConfig {
    pub fn new(url: impl Into<String>) -> Self {
        RedisConfig {
            url: url.into(),
            prefix: "kopru:".to_string(),
            call_timeout: Duration::from_millis(900),
            response_timeout: Duration::from_millis(500),
            connect_timeout: Duration::from_millis(500),
        }
    }

    /// The same settings with another key prefix (tests use a unique one each).
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }
}

/// What a notice looks like on the Redis channel: who sent it, so the sender skips its
/// own echo (it already delivered the notice locally).
#[derive(serde::Serialize, serde::Deserialize)]
struct Envelope {
    origin: String,
    notice: Notice,
}

/// [`Hot`] on Redis, shared by every replica. Commands go through a
/// [`ConnectionManager`] (replaced when it stops answering); notices arrive through a
/// background task on a separate pub/sub connection that reconnects forever.
pub struct RedisHot {
    client: redis::Client,
    config: RedisConfig,
    manager_config: ConnectionManagerConfig,
    conn: Mutex<ConnectionManager>,
    /// Tells this process's notices apart from other replicas'.
    origin: String,
    channel: String,
    notices: broadcast::Sender<Notice>,
    subscribed: watch::Receiver<bool>,
    unlock_script: redis::Script,
    listener: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for RedisHot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisHot")
            .field("prefix", &self.config.prefix)
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

impl Drop for RedisHot {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

/// Deletes KEYS[1] only while it still holds the token ARGV[1].
const UNLOCK_SCRIPT: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
else
    return 0
end
"#;

fn timed_out(what: &str) -> StoreError {
    StoreError::Redis(redis::RedisError::from(std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        format!("redis {what} timed out"),
    )))
}

impl RedisHot {
    /// Connects to `url` with the `kopru:` prefix. Fails if Redis does not answer now;
    /// later outages are survived.
    pub async fn connect(url: &str) -> Result<Self> {
        Self::connect_with(RedisConfig::new(url)).await
    }

    /// Connects with explicit settings.
    pub async fn connect_with(config: RedisConfig) -> Result<Self> {
        let client = redis::Client::open(config.url.as_str())?;
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(config.connect_timeout))
            .set_response_timeout(Some(config.response_timeout))
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_millis(200));
        let conn = ConnectionManager::new_lazy_with_config(client.clone(), manager_config.clone())?;
        let (notices, _) = broadcast::channel(NOTICE_BUFFER);
        let origin = uuid::Uuid::new_v4().simple().to_string();
        let channel = format!("{}notices", config.prefix);
        let (subscribed_tx, subscribed) = watch::channel(false);
        let listener = tokio::spawn(listen(
            client.clone(),
            channel.clone(),
            origin.clone(),
            notices.clone(),
            subscribed_tx,
            config.call_timeout,
        ));
        let hot = RedisHot {
            client,
            config,
            manager_config,
            conn: Mutex::new(conn),
            origin,
            channel,
            notices,
            subscribed,
            unlock_script: redis::Script::new(UNLOCK_SCRIPT),
            listener,
        };
        hot.ping().await?;
        // Notices published by others right after this returns should reach us.
        hot.wait_subscribed(Duration::from_secs(2)).await;
        Ok(hot)
    }

    /// The key prefix.
    pub fn prefix(&self) -> &str {
        &self.config.prefix
    }

    /// Waits until the notice subscription is live (at most `timeout`); true if it is.
    pub async fn wait_subscribed(&self, timeout: Duration) -> bool {
        let mut subscribed = self.subscribed.clone();
        tokio::time::timeout(timeout, subscribed.wait_for(|live| *live))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// Runs one call on the shared connection within `call_timeout`. A call that runs
    /// out of time replaces the connection, so a wedged one is not reused.
    async fn call<T, F, Fut>(&self, what: &str, f: F) -> Result<T>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        let conn = lock(&self.conn).clone();
        match tokio::time::timeout(self.config.call_timeout, f(conn)).await {
            Ok(result) => Ok(result?),
            Err(_) => {
                match ConnectionManager::new_lazy_with_config(
                    self.client.clone(),
                    self.manager_config.clone(),
                ) {
                    Ok(fresh) => *lock(&self.conn) = fresh,
                    Err(e) => tracing::warn!(error = %e, "redis reconnect setup failed"),
                }
                Err(timed_out(what))
            }
        }
    }

    fn key(&self, kind: &str, key: &str) -> String {
        format!("{}{kind}:{key}", self.config.prefix)
    }
}

#[async_trait]
impl Hot for RedisHot {
    fn backend(&self) -> &'static str {
        "redis"
    }

    async fn ping(&self) -> Result<()> {
        self.call("PING", |mut c| async move {
            redis::cmd("PING").query_async::<String>(&mut c).await
        })
        .await?;
        Ok(())
    }

    async fn seen(&self, key: &str) -> Result<bool> {
        let key = self.key("seen", key);
        self.call("EXISTS", |mut c| async move {
            redis::cmd("EXISTS")
                .arg(key)
                .query_async::<bool>(&mut c)
                .await
        })
        .await
    }

    async fn remember(&self, key: &str, ttl: Duration) -> Result<()> {
        let key = self.key("seen", key);
        self.call("SET", |mut c| async move {
            redis::cmd("SET")
                .arg(key)
                .arg(1)
                .arg("PX")
                .arg(ttl_ms(ttl))
                .query_async::<()>(&mut c)
                .await
        })
        .await
    }

    async fn publish(&self, notice: &Notice) -> Result<()> {
        // Local subscribers first and at once; the Redis echo is skipped by origin.
        let _ = self.notices.send(notice.clone());
        let payload = serde_json::to_string(&Envelope {
            origin: self.origin.clone(),
            notice: notice.clone(),
        })
        .map_err(|e| StoreError::Corrupt(format!("notice: {e}")))?;
        let channel = self.channel.clone();
        self.call("PUBLISH", |mut c| async move {
            redis::cmd("PUBLISH")
                .arg(channel)
                .arg(payload)
                .query_async::<i64>(&mut c)
                .await
        })
        .await?;
        Ok(())
    }

    fn subscribe(&self) -> broadcast::Receiver<Notice> {
        self.notices.subscribe()
    }

    async fn try_lock(&self, key: &str, ttl: Duration) -> Result<Option<String>> {
        let key = self.key("lock", key);
        let token = uuid::Uuid::new_v4().simple().to_string();
        let set = token.clone();
        let reply = self
            .call("SET NX", |mut c| async move {
                redis::cmd("SET")
                    .arg(key)
                    .arg(set)
                    .arg("NX")
                    .arg("PX")
                    .arg(ttl_ms(ttl))
                    .query_async::<Option<String>>(&mut c)
                    .await
            })
            .await?;
        Ok(reply.map(|_| token))
    }

    async fn unlock(&self, key: &str, token: &str) -> Result<()> {
        let key = self.key("lock", key);
        let script = &self.unlock_script;
        self.call("unlock", |mut c| async move {
            script.key(key).arg(token).invoke_async::<i64>(&mut c).await
        })
        .await?;
        Ok(())
    }
}

/// Forwards notices from the Redis channel into the local broadcast, forever:
/// reconnects with a growing pause (up to 5 s) whenever the subscription drops.
async fn listen(
    client: redis::Client,
    channel: String,
    origin: String,
    notices: broadcast::Sender<Notice>,
    subscribed: watch::Sender<bool>,
    timeout: Duration,
) {
    const FIRST_PAUSE: Duration = Duration::from_millis(100);
    const LONGEST_PAUSE: Duration = Duration::from_secs(5);
    let mut pause = FIRST_PAUSE;
    loop {
        let result = listen_once(
            &client,
            &channel,
            &origin,
            &notices,
            &subscribed,
            timeout,
            &mut pause,
        )
        .await;
        subscribed.send_replace(false);
        if let Err(e) = result {
            tracing::warn!(error = %e, %channel, "redis notice subscription lost; reconnecting");
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(LONGEST_PAUSE);
    }
}

/// One subscription's life: subscribe, forward messages, ping now and then so a dead
/// connection is noticed; returns when the connection is gone.
async fn listen_once(
    client: &redis::Client,
    channel: &str,
    origin: &str,
    notices: &broadcast::Sender<Notice>,
    subscribed: &watch::Sender<bool>,
    timeout: Duration,
    pause: &mut Duration,
) -> Result<()> {
    let pubsub = tokio::time::timeout(timeout, client.get_async_pubsub())
        .await
        .map_err(|_| timed_out("pub/sub connect"))??;
    let (mut sink, mut stream) = pubsub.split();
    tokio::time::timeout(timeout, sink.subscribe(channel))
        .await
        .map_err(|_| timed_out("SUBSCRIBE"))??;
    subscribed.send_replace(true);
    *pause = Duration::from_millis(100);
    tracing::debug!(%channel, "redis notice subscription live");
    let mut ping = tokio::time::interval(Duration::from_secs(2));
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            msg = stream.next() => {
                let Some(msg) = msg else {
                    return Err(StoreError::Redis(redis::RedisError::from(std::io::Error::new(
                        std::io::ErrorKind::ConnectionAborted,
                        "pub/sub connection closed",
                    ))));
                };
                match serde_json::from_slice::<Envelope>(msg.get_payload_bytes()) {
                    Ok(envelope) if envelope.origin == origin => {}
                    Ok(envelope) => {
                        let _ = notices.send(envelope.notice);
                    }
                    Err(e) => tracing::warn!(error = %e, %channel, "unreadable notice skipped"),
                }
            }
            _ = ping.tick() => {
                tokio::time::timeout(timeout, sink.ping::<redis::Value>())
                    .await
                    .map_err(|_| timed_out("pub/sub PING"))??;
            }
        }
    }
}

/// Keeps one `Arc<dyn Hot>` type for callers that pick the backend at run time.
pub async fn connect_hot(url: Option<&str>) -> Result<Arc<dyn Hot>> {
    match url {
        Some(url) => Ok(Arc::new(RedisHot::connect(url).await?)),
        None => Ok(Arc::new(InProcessHot::new())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_is_at_least_one_millisecond() {
        assert_eq!(ttl_ms(Duration::ZERO), 1);
        assert_eq!(ttl_ms(Duration::from_secs(2)), 2000);
    }

    #[test]
    fn envelope_round_trips() {
        let notice = Notice::Messages {
            tenant: "kuaför-ayşe".into(),
            conversation: 7,
        };
        let text = serde_json::to_string(&Envelope {
            origin: "a".into(),
            notice: notice.clone(),
        })
        .unwrap();
        let back: Envelope = serde_json::from_str(&text).unwrap();
        assert_eq!(back.notice, notice);
        assert_eq!(back.origin, "a");
    }
}

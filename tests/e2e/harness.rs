//! Harness for the end-to-end tests: starts the real `kopru` server as a child process
//! on an ephemeral port (embedded SQLite, or PostgreSQL + Redis with a fresh database
//! and a private Redis server), and talks to it like a browser's web chat would.

use anyhow::{Context, Result, anyhow, bail};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

/// Admin API keys the harness gives the demo tenants.
pub(crate) const KEYS: [(&str, &str); 4] = [
    ("DEMO_SHOP_API_KEY", "test-key-shop"),
    ("DEMO_DENTAL_API_KEY", "test-key-dental"),
    ("DEMO_ESTETIK_API_KEY", "test-key-estetik"),
    ("DEMO_SAGLIK_API_KEY", "test-key-saglik"),
];

/// Which stores a server runs on.
#[derive(Clone, Debug)]
pub(crate) enum Stores {
    /// The embedded default: a SQLite file in `data_dir`.
    Embedded,
    /// Production mode.
    Production {
        postgres_url: String,
        redis_url: String,
    },
}

/// A fresh PostgreSQL database on the local server, dropped at the end.
pub(crate) struct PgDatabase {
    pub(crate) name: String,
    pub(crate) url: String,
}

fn psql(sql: &str) -> Result<()> {
    let out = Command::new("psql")
        .args([
            "-h",
            "127.0.0.1",
            "-U",
            "root",
            "-d",
            "test",
            "-v",
            "ON_ERROR_STOP=1",
            "-qc",
            sql,
        ])
        .output()
        .context("running psql")?;
    if !out.status.success() {
        bail!("psql {sql}: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(())
}

impl PgDatabase {
    pub(crate) fn create() -> Result<Self> {
        let name = format!("kopru_e2e_{}", uuid::Uuid::new_v4().simple());
        psql(&format!("CREATE DATABASE {name}"))?;
        Ok(Self {
            url: format!("postgres://root@127.0.0.1:5432/{name}"),
            name,
        })
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let _ = psql(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ));
    }
}

/// A private `redis-server` on a free port, so a test may stop and restart it.
pub(crate) struct RedisServer {
    pub(crate) port: u16,
    child: Option<Child>,
    dir: tempfile::TempDir,
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl RedisServer {
    pub(crate) fn start() -> Result<Self> {
        let mut r = Self {
            port: free_port(),
            child: None,
            dir: tempfile::tempdir()?,
        };
        r.restart()?;
        Ok(r)
    }

    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts it (again) on the same port.
    pub(crate) fn restart(&mut self) -> Result<()> {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
            ])
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting redis-server")?;
        self.child = Some(child);
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        bail!("redis-server did not start on port {}", self.port)
    }

    /// Kills it at once.
    pub(crate) fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Production stores for one test: a fresh database and a private Redis.
pub(crate) struct ProductionStores {
    pub(crate) pg: PgDatabase,
    pub(crate) redis: RedisServer,
}

impl ProductionStores {
    pub(crate) fn start() -> Result<Self> {
        Ok(Self {
            pg: PgDatabase::create()?,
            redis: RedisServer::start()?,
        })
    }

    pub(crate) fn stores(&self) -> Stores {
        Stores::Production {
            postgres_url: self.pg.url.clone(),
            redis_url: self.redis.url(),
        }
    }
}

/// The path of the `kopru` binary under test.
pub(crate) fn kopru_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_kopru-under-test"))
}

/// A running `kopru serve` child process.
pub(crate) struct Server {
    pub(crate) base: String,
    pub(crate) addr: String,
    child: Child,
    stderr_log: PathBuf,
}

/// How to start a server.
#[derive(Clone, Debug)]
pub(crate) struct ServerOptions {
    pub(crate) stores: Stores,
    pub(crate) data_dir: PathBuf,
    /// Extra `KOPRU_*` overrides or other variables.
    pub(crate) env: Vec<(String, String)>,
    /// A config file; the bundled demo when `None`.
    pub(crate) config: Option<PathBuf>,
}

impl ServerOptions {
    pub(crate) fn new(stores: Stores, data_dir: &Path) -> Self {
        Self {
            stores,
            data_dir: data_dir.to_path_buf(),
            env: Vec::new(),
            config: None,
        }
    }
}

impl Server {
    /// Starts `kopru serve` and waits until it listens.
    pub(crate) fn start(opts: &ServerOptions) -> Result<Server> {
        let mut cmd = Command::new(kopru_bin());
        cmd.arg("serve");
        if let Some(c) = &opts.config {
            cmd.arg("--config").arg(c);
        }
        std::fs::create_dir_all(&opts.data_dir)?;
        let stderr_log = opts
            .data_dir
            .join(format!("server-{}.log", uuid::Uuid::new_v4().simple()));
        cmd.env("KOPRU_SERVER__LISTEN", "127.0.0.1:0")
            .env("KOPRU_SERVER__DATA_DIR", &opts.data_dir)
            .env("KOPRU_WORKERS__LEASE_MS", "3000")
            .env("KOPRU_SERVER__SHUTDOWN_GRACE_SECONDS", "3")
            .env("RUST_LOG", "info,tower_http=warn,sqlx=warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr_log)?);
        for (k, v) in KEYS {
            cmd.env(k, v);
        }
        if let Stores::Production {
            postgres_url,
            redis_url,
        } = &opts.stores
        {
            cmd.env("KOPRU_STORE__POSTGRES_URL", postgres_url)
                .env("KOPRU_STORE__REDIS_URL", redis_url);
        }
        for (k, v) in &opts.env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().context("starting kopru")?;
        let stdout = child.stdout.take().ok_or_else(|| anyhow!("no stdout"))?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(addr) = line.strip_prefix("kopru listening on http://") {
                    let _ = tx.send(addr.trim().to_string());
                }
            }
        });
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(addr) => Ok(Server {
                base: format!("http://{addr}"),
                addr,
                child,
                stderr_log,
            }),
            Err(_) => {
                let _ = child.kill();
                let log = std::fs::read_to_string(&stderr_log).unwrap_or_default();
                bail!("kopru did not start:\n{log}")
            }
        }
    }

    /// SIGKILL: no graceful shutdown, as in a crash.
    pub(crate) fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then waits up to `wait` for the process to exit; returns its success.
    pub(crate) fn terminate(&mut self, wait: Duration) -> Result<bool> {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status()?;
        let deadline = std::time::Instant::now() + wait;
        while std::time::Instant::now() < deadline {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status.success());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        bail!("kopru did not exit within {wait:?} of SIGTERM")
    }

    /// The server's log so far (stderr).
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr_log).unwrap_or_default()
    }

    pub(crate) fn ws_url(&self, tenant: &str) -> String {
        format!("ws://{}/webchat/{tenant}/ws", self.addr)
    }

    /// GET an admin API path with a bearer key; returns (status, JSON body).
    pub(crate) async fn api(&self, path: &str, key: Option<&str>) -> Result<(u16, Value)> {
        let mut req = reqwest::Client::new().get(format!("{}{path}", self.base));
        if let Some(k) = key {
            req = req.bearer_auth(k);
        }
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        let body = resp.json().await.unwrap_or(Value::Null);
        Ok((status, body))
    }

    pub(crate) async fn post(&self, path: &str, key: Option<&str>) -> Result<(u16, Value)> {
        let mut req = reqwest::Client::new().post(format!("{}{path}", self.base));
        if let Some(k) = key {
            req = req.bearer_auth(k);
        }
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        let body = resp.json().await.unwrap_or(Value::Null);
        Ok((status, body))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A web chat client speaking `docs/webchat-protocol.md`.
pub(crate) struct Chat {
    ws: Ws,
    pub(crate) session: String,
    /// Highest seq seen.
    pub(crate) last_seen: i64,
    next_id: u64,
}

impl Chat {
    /// Connects and says hello; `session` resumes a conversation.
    pub(crate) async fn connect(url: &str, session: Option<&str>, last_seen: i64) -> Result<Chat> {
        let (mut ws, _) = tokio_tungstenite::connect_async(url).await?;
        let hello = json!({"type": "hello", "v": 1, "session": session, "last_seen": last_seen});
        ws.send(Message::Text(hello.to_string().into())).await?;
        let mut chat = Chat {
            ws,
            session: String::new(),
            last_seen,
            next_id: 0,
        };
        let welcome = chat.frame(Duration::from_secs(10)).await?;
        if welcome["type"] != "welcome" {
            bail!("expected welcome, got {welcome}");
        }
        chat.session = welcome["session"].as_str().unwrap_or_default().to_string();
        Ok(chat)
    }

    /// Sends raw text as one frame.
    pub(crate) async fn send_raw(&mut self, raw: impl Into<String>) -> Result<()> {
        self.ws.send(Message::Text(raw.into().into())).await?;
        Ok(())
    }

    /// Sends a customer message and returns its client id.
    pub(crate) async fn say(&mut self, text: &str) -> Result<String> {
        self.next_id += 1;
        let id = format!("m{}-{}", self.next_id, uuid::Uuid::new_v4().simple());
        self.say_with_id(&id, text).await?;
        Ok(id)
    }

    pub(crate) async fn say_with_id(&mut self, id: &str, text: &str) -> Result<()> {
        self.send_raw(json!({"type": "message", "id": id, "text": text}).to_string())
            .await
    }

    /// The next frame, or an error after `wait`.
    pub(crate) async fn frame(&mut self, wait: Duration) -> Result<Value> {
        loop {
            let msg = tokio::time::timeout(wait, self.ws.next())
                .await
                .map_err(|_| anyhow!("no frame within {wait:?}"))?
                .ok_or_else(|| anyhow!("socket closed"))??;
            match msg {
                Message::Text(t) => {
                    let v: Value = serde_json::from_str(&t)?;
                    if let Some(seq) = v["seq"].as_i64() {
                        self.last_seen = self.last_seen.max(seq);
                    }
                    return Ok(v);
                }
                Message::Close(_) => bail!("socket closed"),
                _ => continue,
            }
        }
    }

    /// The next message from the bot (or an agent), skipping acks and echoes.
    pub(crate) async fn reply(&mut self, wait: Duration) -> Result<Value> {
        loop {
            let f = self.frame(wait).await?;
            if f["type"] == "message" && f["from"] != "customer" {
                return Ok(f);
            }
            if f["type"] == "error" {
                bail!("error frame: {f}");
            }
        }
    }

    /// Says `text` and returns the text of the bot's reply.
    pub(crate) async fn ask(&mut self, text: &str) -> Result<String> {
        self.say(text).await?;
        let r = self.reply(Duration::from_secs(15)).await?;
        Ok(r["text"].as_str().unwrap_or_default().to_string())
    }

    /// Collects frames until nothing arrives for `quiet`.
    pub(crate) async fn drain(&mut self, quiet: Duration) -> Vec<Value> {
        let mut out = Vec::new();
        while let Ok(f) = self.frame(quiet).await {
            out.push(f);
        }
        out
    }

    pub(crate) async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }
}

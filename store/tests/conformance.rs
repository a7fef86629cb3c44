//! Runs the conformance suite (`store::conformance`) against every backend: SQLite in a
//! temp folder, PostgreSQL in a fresh schema per test (`KOPRU_TEST_POSTGRES_URL`, default
//! `postgres://root@127.0.0.1:5432/test`), and `Hot` in process and on Redis
//! (`KOPRU_TEST_REDIS_URL`, default `redis://127.0.0.1:6379`) with a unique key prefix
//! per test. One test per check and backend, so they run in parallel and fail alone.
//! Also: Redis going down and coming back (on a private `redis-server`, when installed).

use std::sync::Arc;
use std::time::Duration;
use store::conformance;
use store::{Hot, InProcessHot, PostgresStore, RedisConfig, RedisHot, SqliteStore, Store};

fn redis_url() -> String {
    std::env::var("KOPRU_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_string())
}

async fn redis_hot(prefix: &str) -> Arc<dyn Hot> {
    let config = RedisConfig::new(redis_url()).with_prefix(prefix);
    Arc::new(
        RedisHot::connect_with(config)
            .await
            .expect("redis reachable for tests"),
    )
}

async fn on_sqlite(check: impl AsyncFnOnce(Arc<dyn Store>)) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(&dir.path().join("nested/kopru.db"))
        .await
        .expect("open sqlite");
    check(Arc::new(store)).await;
}

async fn on_postgres(check: impl AsyncFnOnce(Arc<dyn Store>)) {
    let store = PostgresStore::new_test()
        .await
        .expect("postgres reachable for tests");
    check(Arc::new(store.clone())).await;
    store.drop_schema().await.expect("drop test schema");
}

macro_rules! store_tests {
    ($($check:ident),* $(,)?) => {
        mod sqlite {
            use super::*;
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                on_sqlite(conformance::$check).await;
            })*
        }
        mod postgres {
            use super::*;
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                on_postgres(conformance::$check).await;
            })*
        }
    };
}

store::conformance_checks!(store_tests);

#[tokio::test]
async fn in_memory_sqlite_passes_the_suite() {
    conformance::run_store_suite(|| async {
        Arc::new(
            SqliteStore::open_in_memory()
                .await
                .expect("in-memory sqlite"),
        ) as Arc<dyn Store>
    })
    .await;
}

#[tokio::test]
async fn sqlite_new_test_opens_a_fresh_store() {
    let store = SqliteStore::new_test().await.unwrap();
    store.ping().await.unwrap();
    assert_eq!(store.backend(), "sqlite");
    drop(store);
}

#[tokio::test]
async fn connect_picks_the_backend_from_the_url() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("k.db").display());
    assert_eq!(store::connect(&url).await.unwrap().backend(), "sqlite");
    // A database of its own: migrating a shared one would tie it to this checkout's
    // migrations (another checkout's run would then find versions it does not know).
    let pg = std::env::var("KOPRU_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| store::postgres::DEFAULT_TEST_URL.into());
    let name = format!("kopru_connect_{}", uuid::Uuid::new_v4().simple());
    let admin = sqlx::PgPool::connect(&pg).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&admin)
        .await
        .unwrap();
    let url = match pg.rsplit_once('/') {
        Some((base, _)) => format!("{base}/{name}"),
        None => panic!("test URL without a database: {pg}"),
    };
    let pg_store = store::connect(&url).await.unwrap();
    assert_eq!(pg_store.backend(), "postgres");
    pg_store.ping().await.unwrap();
    drop(pg_store);
    sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .execute(&admin)
        .await
        .unwrap();
}

#[tokio::test]
async fn sqlite_survives_reopen_and_releases_leases() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kopru.db");
    let conv = {
        let store = SqliteStore::open(&path).await.unwrap();
        let msg = conformance::inbound("t", channels::Channel::Whatsapp, "905", "p1", "selam");
        let accepted = store
            .accept_inbound(&msg, conformance::at(0))
            .await
            .unwrap();
        store
            .claim_conversation("dead", Duration::from_secs(600), conformance::at(1))
            .await
            .unwrap()
            .unwrap();
        accepted.conversation
    };
    let store = SqliteStore::open(&path).await.unwrap();
    assert!(
        store
            .claim_conversation("new", Duration::from_secs(30), conformance::at(2))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(store.release_all_leases().await.unwrap(), 1);
    let claim = store
        .claim_conversation("new", Duration::from_secs(30), conformance::at(2))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claim.conversation, conv);
}

/// Commits go to the WAL and are copied into the database file while the store is open,
/// and the WAL starts over rather than growing with every message: a busy server must
/// not fill its disk with log. (A checkpointer thread alone beside a busy writer never
/// caught up, so its WAL never started over: 1 GB in ten seconds at 1,000 msg/s; the
/// writer's own checkpoint is what lets it start over.)
#[tokio::test]
async fn sqlite_keeps_the_wal_bounded_and_checkpointed_while_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kopru.db");
    let wal = dir.path().join("kopru.db-wal");
    let store = SqliteStore::open(&path).await.unwrap();
    let before = std::fs::metadata(&path).unwrap().len();
    let body = "merhaba — İstanbul'dan yazıyorum, fiyat alabilir miyim? 🦷 ".repeat(20);
    let mut largest_wal = 0;
    for i in 0..1500 {
        let msg = conformance::inbound(
            "t",
            channels::Channel::Whatsapp,
            &format!("90{i}"),
            &format!("wamid.{i}"),
            &body,
        );
        store
            .accept_inbound(&msg, conformance::at(i))
            .await
            .unwrap();
        if i % 100 == 99 {
            largest_wal = largest_wal.max(std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0));
        }
    }
    let after = std::fs::metadata(&path).unwrap().len();
    assert!(
        after > before,
        "the database file stayed at {before} bytes: nothing was checkpointed"
    );
    // 1,500 messages write well over 30 MB of WAL frames; a WAL that starts over stays
    // near SQLite's checkpoint size (1,000 pages, 4 MB).
    assert!(
        largest_wal < 16 << 20,
        "the WAL grew to {largest_wal} bytes"
    );
    // What was copied reads back through a new store.
    let again = SqliteStore::open(&path).await.unwrap();
    let conversation = again
        .find_conversation("t", channels::Channel::Whatsapp, "901499")
        .await
        .unwrap()
        .expect("the last conversation");
    let messages = again.messages("t", conversation.id, 0, 10).await.unwrap();
    assert_eq!(messages.len(), 1);
    drop(store);
}

mod hot {
    use super::*;

    fn prefix() -> String {
        format!("kopru-test:{}:", uuid::Uuid::new_v4().simple())
    }

    #[tokio::test]
    async fn in_process_seen_remember() {
        conformance::hot_seen_remember(Arc::new(InProcessHot::new())).await;
    }

    #[tokio::test]
    async fn in_process_locks() {
        let hot: Arc<dyn Hot> = Arc::new(InProcessHot::new());
        conformance::hot_locks(hot.clone(), hot).await;
    }

    #[tokio::test]
    async fn in_process_publish_subscribe() {
        let hot: Arc<dyn Hot> = Arc::new(InProcessHot::new());
        conformance::hot_publish_subscribe(hot.clone(), hot).await;
    }

    #[tokio::test]
    async fn redis_seen_remember() {
        conformance::hot_seen_remember(redis_hot(&prefix()).await).await;
    }

    #[tokio::test]
    async fn redis_locks() {
        let prefix = prefix();
        conformance::hot_locks(redis_hot(&prefix).await, redis_hot(&prefix).await).await;
    }

    #[tokio::test]
    async fn redis_publish_subscribe() {
        let prefix = prefix();
        conformance::hot_publish_subscribe(redis_hot(&prefix).await, redis_hot(&prefix).await)
            .await;
    }

    #[tokio::test]
    async fn redis_default_prefix_suite() {
        // The production prefix and channel, shared with whoever else uses this server.
        let a: Arc<dyn Hot> = Arc::new(RedisHot::connect(&redis_url()).await.unwrap());
        let b: Arc<dyn Hot> = Arc::new(RedisHot::connect(&redis_url()).await.unwrap());
        conformance::run_hot_suite(a, b).await;
    }
}

/// Redis stopping for a while: calls fail fast, then work again by themselves, and
/// notices flow again. Runs on a private `redis-server` (skipped if not installed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_outage_fails_fast_and_recovers() {
    let Some(mut server) = PrivateRedis::start().await else {
        eprintln!("redis-server not installed; outage test skipped");
        return;
    };
    let url = server.url();
    let a = RedisHot::connect(&url).await.expect("connect");
    let b = RedisHot::connect(&url).await.expect("connect");
    a.remember("k", Duration::from_secs(60)).await.unwrap();
    assert!(b.seen("k").await.unwrap());

    server.stop().await;
    for _ in 0..5 {
        let started = tokio::time::Instant::now();
        assert!(a.seen("k").await.is_err(), "down: an error");
        assert!(
            started.elapsed() < Duration::from_millis(1500),
            "failed fast: {:?}",
            started.elapsed()
        );
        let started = tokio::time::Instant::now();
        assert!(a.try_lock("l", Duration::from_secs(1)).await.is_err());
        assert!(a.publish(&store::Notice::Inbox).await.is_err());
        assert!(started.elapsed() < Duration::from_millis(3000));
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    server.restart().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        if a.ping().await.is_ok() && b.ping().await.is_ok() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "redis calls did not recover"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    a.remember("k2", Duration::from_secs(60)).await.unwrap();
    assert!(b.seen("k2").await.unwrap());
    assert!(
        a.wait_subscribed(Duration::from_secs(15)).await
            && b.wait_subscribed(Duration::from_secs(15)).await
    );
    let mut on_b = b.subscribe();
    let notice = store::Notice::Messages {
        tenant: "t".into(),
        conversation: 1,
    };
    a.publish(&notice).await.unwrap();
    let got = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            if on_b.recv().await.unwrap() == notice {
                break;
            }
        }
    })
    .await;
    assert!(got.is_ok(), "notices flow again after the outage");
}

/// A `redis-server` of our own on a free port, so stopping it disturbs nobody.
struct PrivateRedis {
    port: u16,
    child: Option<tokio::process::Child>,
}

impl PrivateRedis {
    async fn start() -> Option<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .ok()?
            .local_addr()
            .ok()?
            .port();
        let mut server = PrivateRedis { port, child: None };
        server.spawn().await.then_some(server)
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    async fn spawn(&mut self) -> bool {
        let child = tokio::process::Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--save",
                "",
                "--appendonly",
                "no",
                "--bind",
                "127.0.0.1",
            ])
            .stdout(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn();
        let Ok(child) = child else { return false };
        self.child = Some(child);
        for _ in 0..50 {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    }

    async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
    }

    async fn restart(&mut self) {
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(self.spawn().await, "redis-server restarted");
    }
}

/// Writes that wait for the SQLite writer together are committed together (group
/// commit), yet each stands alone: a turn refused (its lease is someone else's) writes
/// nothing, and the hundred customer messages queued around it are all stored.
#[tokio::test]
async fn sqlite_group_commit_fails_only_the_failing_write() {
    let store = SqliteStore::new_test().await.unwrap();
    let first = conformance::inbound("t", channels::Channel::Whatsapp, "9050", "w.0", "selam");
    let accepted = store
        .accept_inbound(&first, conformance::at(0))
        .await
        .unwrap();
    let claim = store
        .claim_conversation("owner", Duration::from_secs(60), conformance::at(1))
        .await
        .unwrap()
        .expect("the conversation");
    let item = store.pending_inbox(claim.conversation, 10).await.unwrap()[0].id;
    let mut intruder = conformance::turn(&claim, "intruder", item, conformance::at(2));
    intruder.outgoing.push(store::NewOutgoing {
        sender: "bot".into(),
        content: channels::OutContent::text("başkasının cevabı"),
    });

    let messages: Vec<_> = (1..=100)
        .map(|i| {
            conformance::inbound(
                "t",
                channels::Channel::Whatsapp,
                &format!("9051{i:03}"),
                &format!("w.{i}"),
                "İyi günler, randevu almak istiyorum 🦷",
            )
        })
        .collect();
    let accepts = futures_util::future::join_all(
        messages
            .iter()
            .map(|m| store.accept_inbound(m, conformance::at(2))),
    );
    let (accepts, refused) = tokio::join!(accepts, store.commit_turn(&intruder));

    assert!(
        matches!(refused, Err(store::StoreError::LeaseLost(c)) if c == claim.conversation),
        "{refused:?}"
    );
    let mut conversations = std::collections::HashSet::new();
    for a in accepts {
        let a = a.expect("every message stored");
        assert!(!a.duplicate);
        conversations.insert(a.conversation);
    }
    assert_eq!(conversations.len(), 100);
    // The refused turn left its conversation as it was.
    let pending = store.pending_inbox(claim.conversation, 10).await.unwrap();
    assert_eq!(pending.len(), 1);
    let stored = store
        .messages("t", accepted.conversation, 0, 10)
        .await
        .unwrap();
    assert_eq!(stored.len(), 1, "only the customer's message: {stored:?}");
    // The owner's turn still goes through.
    let own = conformance::turn(&claim, "owner", item, conformance::at(3));
    assert!(!store.commit_turn(&own).await.unwrap());
    assert!(
        store
            .pending_inbox(claim.conversation, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

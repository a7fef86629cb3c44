//! The embedded store: one SQLite file in WAL mode, the default for a single business
//! or a demo. SQLite has one writer at a time, so every write goes through one
//! connection, taken in turn by one task at a time, and a transaction starts with
//! `BEGIN IMMEDIATE` (a writer waits for the connection, never on SQLite's lock, so
//! concurrent tasks do not see "database is locked"); reads use a few other
//! connections and, thanks to WAL, never wait for the writer.
//!
//! The message road (accept, claim, the turn's reads and commit, the outbox, a web chat
//! socket's reads) runs through rusqlite ([`crate::sqlite_fast`]): its reads in the
//! calling thread, its writes in group commits on a thread of their own
//! ([`crate::sqlite_group`]); the rest through sqlx, whose SQL is shared with PostgreSQL.
//! The writer is one lock over both connections to the file, so they never write at
//! once. The sqlx connections are held directly (each behind an async mutex), not in sqlx
//! pools, which ping a connection each time it comes back. See `docs/benchmarks.md` for why and what each
//! step changed.

use crate::{Accepted, Result, StoreError, Turn};
use channels::Inbound;
use jiff::Timestamp;
use sqlx::Connection as _;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqliteSynchronous};
use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::{Mutex, OwnedMutexGuard};

/// How long SQLite itself waits for a lock held by another process.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Read connections (WAL lets them run beside the writer).
const READERS: usize = 4;
/// Prepared statements kept per connection (the default, 100, is close to what the
/// store uses, and a statement pushed out is parsed again).
const STATEMENT_CACHE: usize = 512;

/// One connection, and whether a transaction a cancelled task began is still open on it.
#[derive(Debug)]
pub(crate) struct Slot {
    conn: SqliteConnection,
    in_tx: bool,
}

type Shared = Arc<Mutex<Slot>>;

/// A connection taken for one task: the writer (single statements in autocommit mode) or
/// a reader. Gives the connection back when dropped.
#[derive(Debug)]
pub(crate) struct SqliteConn {
    slot: OwnedMutexGuard<Slot>,
    /// Held until the writer is given back.
    _queued: Option<Queued>,
}

/// A place in the queue for the writer (see [`SqliteStore::take_writer`]).
type Queued = OwnedMutexGuard<()>;

impl Deref for SqliteConn {
    type Target = SqliteConnection;
    fn deref(&self) -> &SqliteConnection {
        &self.slot.conn
    }
}

impl DerefMut for SqliteConn {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        &mut self.slot.conn
    }
}

/// A write transaction on the writer connection (`BEGIN IMMEDIATE` … `COMMIT`). Dropped
/// without [`SqliteTx::commit`] or [`SqliteTx::rollback`] (a cancelled task), it is rolled
/// back in the background, or by the writer's next user, whichever comes first.
#[derive(Debug)]
pub(crate) struct SqliteTx {
    slot: Option<OwnedMutexGuard<Slot>>,
    _queued: Option<Queued>,
}

impl SqliteTx {
    fn slot(&mut self) -> &mut Slot {
        self.slot
            .as_mut()
            .expect("a transaction is used only until it ends")
    }

    /// Commits. On failure the transaction is left for the writer's next user to roll back.
    pub(crate) async fn commit(mut self) -> Result<()> {
        let slot = self.slot();
        sqlx::query("COMMIT").execute(&mut slot.conn).await?;
        slot.in_tx = false;
        Ok(())
    }

    /// Rolls back.
    pub(crate) async fn rollback(mut self) -> Result<()> {
        let slot = self.slot();
        let result = sqlx::query("ROLLBACK").execute(&mut slot.conn).await;
        // Failing, it was not open any more (SQLite ends a transaction on some errors).
        slot.in_tx = false;
        result.map(|_| ()).or_else(|e| match e {
            sqlx::Error::Database(ref db) if db.message().contains("no transaction") => Ok(()),
            e => Err(e.into()),
        })
    }
}

impl Deref for SqliteTx {
    type Target = SqliteConnection;
    fn deref(&self) -> &SqliteConnection {
        &self
            .slot
            .as_ref()
            .expect("a transaction is used only until it ends")
            .conn
    }
}

impl DerefMut for SqliteTx {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        &mut self.slot().conn
    }
}

impl Drop for SqliteTx {
    fn drop(&mut self) {
        let Some(mut slot) = self.slot.take() else {
            return;
        };
        if !slot.in_tx {
            return;
        }
        // Do not hold SQLite's write lock (other processes may use the file) until the
        // writer's next user comes: roll back now, in the background.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                // Failing, it was not open any more (the script had committed).
                let _ = sqlx::query("ROLLBACK").execute(&mut slot.conn).await;
                slot.in_tx = false;
            });
        }
    }
}

/// The [`crate::Store`] on a SQLite file. Cloning shares the connections.
#[derive(Clone, Debug)]
pub struct SqliteStore {
    writer: Shared,
    /// Taken before the writer by every write but a customer message's
    /// ([`SqliteStore::take_writer`]).
    queue: Arc<Mutex<()>>,
    /// Empty for an in-memory database, which reads on the writer.
    readers: Arc<[Shared]>,
    /// Empty for an in-memory database, which uses the sqlx connections only.
    fast_readers: FastReaders,
    next_reader: Arc<AtomicUsize>,
    /// The rusqlite writer; none for an in-memory database.
    writer_thread: Option<Arc<WriterThread>>,
    /// For [`SqliteStore::new_test`]: the file to remove when the last clone is dropped.
    _temp: Option<Arc<TempFile>>,
}

fn shared(conn: SqliteConnection) -> Shared {
    Arc::new(Mutex::new(Slot { conn, in_tx: false }))
}

/// The thread that writes through rusqlite (see [`crate::sqlite_group`]), and its queue.
/// The thread ends when the store's last handle is dropped.
#[derive(Debug)]
struct WriterThread {
    group: Arc<crate::sqlite_group::Queue>,
}

impl WriterThread {
    /// Starts the thread on `conn`, taking `writer` for each group, so that the sqlx
    /// connection and this one never write at once.
    fn start(writer: Shared, conn: rusqlite::Connection) -> Result<Self> {
        let group = Arc::new(crate::sqlite_group::Queue::default());
        let queue = group.clone();
        // A transaction a cancelled task left open on the sqlx connection is rolled back
        // on the runtime the store was opened on (its background rollback holds the
        // writer, so this is rare); without one, the next sqlx user of the writer does it.
        let runtime = tokio::runtime::Handle::try_current().ok();
        std::thread::Builder::new()
            .name("kopru-sqlite-writer".into())
            .spawn(move || {
                while queue.wait() {
                    // A panic in a write fails its group (its callers get an error), not
                    // every write after it.
                    let group = std::panic::AssertUnwindSafe(|| {
                        let mut slot = writer.blocking_lock();
                        if slot.in_tx
                            && let Some(runtime) = &runtime
                        {
                            let rollback = sqlx::query("ROLLBACK").execute(&mut slot.conn);
                            let _ = runtime.block_on(rollback);
                            slot.in_tx = false;
                        }
                        queue.run(&conn);
                    });
                    if std::panic::catch_unwind(group).is_err() {
                        tracing::error!("a SQLite write panicked; its group was not written");
                    }
                }
            })
            .map_err(|e| StoreError::Database(sqlx::Error::Io(e)))?;
        Ok(WriterThread { group })
    }
}

/// How often the checkpointer copies the WAL into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(50);

/// Copies committed pages from the WAL into the database file on a thread and connection
/// of its own (a passive checkpoint: it never waits for or holds up the writer), so the
/// writer's own checkpoint (SQLite's, at 1,000 pages of WAL) finds little left to copy
/// and sync, and a customer message's commit rarely waits behind a checkpoint's `fsync`.
/// The writer's stays: a checkpoint beside a busy writer alone never catches up with it,
/// and the WAL starts over only after one that did. Ends with the store (`writer` gone).
fn start_checkpointer(writer: &Shared, conn: rusqlite::Connection) -> Result<()> {
    let alive = Arc::downgrade(writer);
    std::thread::Builder::new()
        .name("kopru-sqlite-checkpoint".into())
        .spawn(move || {
            while alive.strong_count() > 0 {
                std::thread::sleep(CHECKPOINT_EVERY);
                if let Err(e) = conn.execute_batch("PRAGMA wal_checkpoint(PASSIVE)") {
                    tracing::debug!(error = %e, "background checkpoint skipped");
                }
            }
        })
        .map_err(|e| StoreError::Database(sqlx::Error::Io(e)))?;
    Ok(())
}

impl Drop for WriterThread {
    fn drop(&mut self) {
        self.group.close();
    }
}

/// Read connections through rusqlite, used in the calling thread (see
/// [`crate::sqlite_fast`]); a read takes tens of microseconds, so a busy one is waited for.
type FastReaders = Arc<[std::sync::Mutex<rusqlite::Connection>]>;

impl SqliteStore {
    /// Opens (creating it and its parent folders if needed) the database at `path` and
    /// runs the migrations.
    pub async fn open(path: &Path) -> Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                StoreError::Database(sqlx::Error::Configuration(
                    format!("cannot create {}: {e}", dir.display()).into(),
                ))
            })?;
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // In WAL mode, NORMAL syncs the log at checkpoints, not at every commit: a
            // commit survives a crash of the process, and a power cut may lose the last
            // commits but never corrupts the file.
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true)
            .statement_cache_capacity(STATEMENT_CACHE)
            // The default page cache (2 MB) turns a busy store's reads into syscalls; a
            // larger one keeps hot pages in process. No memory-mapped reads: a reader
            // unmaps the whole file whenever it changed since its last read, and on a
            // store written hundreds of times a second each unmap is a TLB shootdown on
            // every core.
            .pragma("cache_size", "-32768")
            .pragma("temp_store", "memory")
            // A WAL grown by a burst (a reader holding an old snapshot keeps it from
            // starting over) is cut back to 64 MB when it does.
            .pragma("journal_size_limit", "67108864");
        let mut writer = SqliteConnection::connect_with(&options).await?;
        sqlx::migrate!("./migrations/sqlite")
            .run_direct(&mut writer)
            .await?;
        let mut readers = Vec::with_capacity(READERS);
        let mut fast_readers = Vec::with_capacity(READERS);
        for _ in 0..READERS {
            readers.push(shared(SqliteConnection::connect_with(&options).await?));
            fast_readers.push(std::sync::Mutex::new(crate::sqlite_fast::open(
                path,
                BUSY_TIMEOUT,
            )?));
        }
        let writer = shared(writer);
        let writer_thread = WriterThread::start(
            writer.clone(),
            crate::sqlite_fast::open(path, BUSY_TIMEOUT)?,
        )?;
        start_checkpointer(&writer, crate::sqlite_fast::open(path, BUSY_TIMEOUT)?)?;
        tracing::debug!(path = %path.display(), "sqlite store open");
        Ok(SqliteStore {
            writer,
            writer_thread: Some(Arc::new(writer_thread)),
            fast_readers: fast_readers.into(),
            queue: Arc::default(),
            readers: readers.into(),
            next_reader: Arc::default(),
            _temp: None,
        })
    }

    /// A private in-memory database (one connection for reads and writes), gone when
    /// the store is dropped. Handy for unit tests that do not care about concurrency.
    pub async fn open_in_memory() -> Result<Self> {
        let options = SqliteConnectOptions::new()
            .in_memory(true)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        let mut conn = SqliteConnection::connect_with(&options).await?;
        sqlx::migrate!("./migrations/sqlite")
            .run_direct(&mut conn)
            .await?;
        Ok(SqliteStore {
            writer: shared(conn),
            writer_thread: None,
            queue: Arc::default(),
            readers: Arc::new([]),
            fast_readers: Arc::new([]),
            next_reader: Arc::default(),
            _temp: None,
        })
    }

    /// A fresh database in a new file under the system temp folder, removed when the
    /// store (and every clone) is dropped. Same connections as [`SqliteStore::open`].
    pub async fn new_test() -> Result<Self> {
        let path =
            std::env::temp_dir().join(format!("kopru-test-{}.db", uuid::Uuid::new_v4().simple()));
        let temp = Arc::new(TempFile(path.clone()));
        let mut store = SqliteStore::open(&path).await?;
        store._temp = Some(temp);
        Ok(store)
    }

    /// Drops every conversation and outbox lease. Only for a process that knows it is the
    /// sole user of the file (the server at start-up, after a crash), so its work does
    /// not wait for the dead leases to expire. Returns how many leases were dropped.
    pub async fn release_all_leases(&self) -> Result<u64> {
        let mut tx = self.write_tx().await?;
        let conversations = sqlx::query(
            "UPDATE conversations SET lease_owner = NULL, lease_until = NULL WHERE lease_owner IS NOT NULL",
        )
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let outbox = sqlx::query(
            "UPDATE outbox SET status = 'queued', lease_owner = NULL, lease_until = NULL \
             WHERE status = 'leased' AND sending_at IS NULL",
        )
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(conversations + outbox)
    }

    /// The writer, for one task. A customer message (`urgent`: the webhook's answer and
    /// the web chat's acknowledgement wait for it) queues for the writer directly; every
    /// other write first takes its place in a queue of its own, so at most one of them
    /// waits for the writer at a time: a message waits for the write in progress and at
    /// most one other, not for every turn and delivery in flight. A transaction left open
    /// by a cancelled task is rolled back first.
    async fn take_writer(&self, urgent: bool) -> (OwnedMutexGuard<Slot>, Option<Queued>) {
        let queued = match urgent {
            true => None,
            false => Some(self.queue.clone().lock_owned().await),
        };
        let mut slot = self.writer.clone().lock_owned().await;
        if slot.in_tx {
            // Failing, the transaction was not open any more.
            let _ = sqlx::query("ROLLBACK").execute(&mut slot.conn).await;
            slot.in_tx = false;
        }
        (slot, queued)
    }

    /// The writer connection, for single statements (autocommit).
    async fn write_conn(&self) -> Result<SqliteConn> {
        let (slot, queued) = self.take_writer(false).await;
        Ok(SqliteConn {
            slot,
            _queued: queued,
        })
    }

    /// A read connection: a free one if any, else the next in turn.
    async fn read_conn(&self) -> Result<SqliteConn> {
        let n = self.readers.len();
        if n == 0 {
            return self.write_conn().await;
        }
        let first = self.next_reader.fetch_add(1, Ordering::Relaxed);
        for i in 0..n {
            if let Ok(slot) = self.readers[(first + i) % n].clone().try_lock_owned() {
                return Ok(SqliteConn {
                    slot,
                    _queued: None,
                });
            }
        }
        Ok(SqliteConn {
            slot: self.readers[first % n].clone().lock_owned().await,
            _queued: None,
        })
    }

    /// A write transaction: the writer connection, `BEGIN IMMEDIATE` so the write lock
    /// is taken up front (never upgraded half-way, which could fail as busy).
    async fn write_tx(&self) -> Result<SqliteTx> {
        let (mut slot, queued) = self.take_writer(false).await;
        sqlx::query("BEGIN IMMEDIATE")
            .execute(&mut slot.conn)
            .await?;
        slot.in_tx = true;
        Ok(SqliteTx {
            slot: Some(slot),
            _queued: queued,
        })
    }
}

crate::sql::impl_sql_store!(
    SqliteStore,
    sqlx::Sqlite,
    "sqlite",
    tx = SqliteTx,
    accept_inbound = fast_accept_inbound,
    commit_turn = fast_commit_turn,
    outbox_sent = fast_outbox_sent,
    claim_conversation = fast_claim_conversation,
    pending_inbox = fast_pending_inbox,
    conversation = fast_conversation,
    messages = fast_messages,
    claim_outbox = fast_claim_outbox,
    outbox_sending = fast_outbox_sending,
    outbox_sent_many = fast_outbox_sent_many,
    lock_row = "",
    lock_conv = "",
    lock_contact = "",
    claim_conv = "",
    claim_rows = "",
);

/// The message road through rusqlite ([`crate::sqlite_fast`]), where the database is a
/// file; the sqlx path otherwise (an in-memory database).
impl SqliteStore {
    /// Runs `read` on a free rusqlite reader (or waits for the next in turn); `None`
    /// when there are none.
    fn fast_read<T>(
        &self,
        read: impl FnOnce(&rusqlite::Connection) -> Result<T>,
    ) -> Option<Result<T>> {
        let n = self.fast_readers.len();
        if n == 0 {
            return None;
        }
        let first = self.next_reader.fetch_add(1, Ordering::Relaxed);
        for i in 0..n {
            if let Ok(conn) = self.fast_readers[(first + i) % n].try_lock() {
                return Some(read(&conn));
            }
        }
        let conn = self.fast_readers[first % n]
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        Some(read(&conn))
    }

    /// `read` on a rusqlite reader; `otherwise` (the sqlx path, not run unless needed)
    /// for an in-memory database.
    async fn read_fast<T>(
        &self,
        read: impl FnOnce(&rusqlite::Connection) -> Result<T>,
        otherwise: impl std::future::Future<Output = Result<T>>,
    ) -> Result<T> {
        match self.fast_read(read) {
            Some(result) => result,
            None => otherwise.await,
        }
    }

    /// `write` on the rusqlite writer's thread, in its next group commit
    /// ([`crate::sqlite_group`]); `otherwise` (the sqlx path, not run unless needed) for an
    /// in-memory database. `urgent` writes go first.
    async fn write_fast<T, F>(
        &self,
        urgent: bool,
        write: F,
        otherwise: impl std::future::Future<Output = Result<T>>,
    ) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&rusqlite::Connection) -> Result<T> + Send + 'static,
    {
        match &self.writer_thread {
            Some(thread) => thread
                .group
                .push(urgent, write)
                .await
                .unwrap_or_else(|_| Err(write_lost())),
            None => otherwise.await,
        }
    }

    async fn fast_accept_inbound(&self, inbound: &Inbound, now: Timestamp) -> Result<Accepted> {
        self.write_fast(
            true,
            {
                let inbound = inbound.clone();
                move |c| crate::sqlite_fast::accept_inbound(c, &inbound, now)
            },
            self.shared_accept_inbound(inbound, now),
        )
        .await
    }

    async fn fast_commit_turn(&self, turn: &Turn) -> Result<bool> {
        self.write_fast(
            false,
            {
                let turn = turn.clone();
                move |c| crate::sqlite_fast::commit_turn(c, &turn)
            },
            self.shared_commit_turn(turn),
        )
        .await
    }

    async fn fast_claim_conversation(
        &self,
        owner: &str,
        lease: Duration,
        now: Timestamp,
    ) -> Result<Option<crate::Claim>> {
        let claimable = self
            .read_fast(|c| crate::sqlite_fast::claimable(c, now), async {
                Ok(true)
            })
            .await?;
        if !claimable {
            return Ok(None);
        }
        self.write_fast(
            false,
            {
                let owner = owner.to_string();
                move |c| crate::sqlite_fast::claim_conversation(c, &owner, lease, now)
            },
            self.shared_claim_conversation(owner, lease, now),
        )
        .await
    }

    async fn fast_pending_inbox(
        &self,
        conversation: i64,
        limit: u32,
    ) -> Result<Vec<crate::InboxItem>> {
        self.read_fast(
            |c| crate::sqlite_fast::pending_inbox(c, conversation, limit),
            self.shared_pending_inbox(conversation, limit),
        )
        .await
    }

    async fn fast_conversation(
        &self,
        tenant: &str,
        conversation: i64,
    ) -> Result<Option<crate::ConversationRecord>> {
        self.read_fast(
            |c| crate::sqlite_fast::conversation(c, tenant, conversation),
            self.shared_conversation(tenant, conversation),
        )
        .await
    }

    async fn fast_messages(
        &self,
        tenant: &str,
        conversation: i64,
        after: i64,
        limit: u32,
    ) -> Result<Vec<crate::MessageRecord>> {
        self.read_fast(
            |c| crate::sqlite_fast::messages(c, tenant, conversation, after, limit),
            self.shared_messages(tenant, conversation, after, limit),
        )
        .await
    }

    async fn fast_claim_outbox(
        &self,
        owner: &str,
        limit: u32,
        lease: Duration,
        now: Timestamp,
    ) -> Result<Vec<crate::OutboxItem>> {
        // Nothing due is the common answer (every reply wakes the outbox worker, web chat
        // replies too, which have no outbox row): a read says so without the writer. (The
        // sqlx path reads first too.)
        let due = self
            .read_fast(|c| crate::sqlite_fast::outbox_due(c, now), async {
                Ok(true)
            })
            .await?;
        if !due {
            return Ok(Vec::new());
        }
        self.write_fast(
            false,
            {
                let owner = owner.to_string();
                move |c| crate::sqlite_fast::claim_outbox(c, &owner, limit, lease, now)
            },
            self.shared_claim_outbox(owner, limit, lease, now),
        )
        .await
    }

    async fn fast_outbox_sending(
        &self,
        id: i64,
        owner: &str,
        now: Timestamp,
        hold_until: Timestamp,
    ) -> Result<()> {
        self.write_fast(
            false,
            {
                let owner = owner.to_string();
                move |c| crate::sqlite_fast::outbox_sending(c, id, &owner, now, hold_until)
            },
            self.shared_outbox_sending(id, owner, now, hold_until),
        )
        .await
    }

    async fn fast_outbox_sent(
        &self,
        id: i64,
        provider_message_id: Option<&str>,
        now: Timestamp,
    ) -> Result<()> {
        self.write_fast(
            false,
            {
                let provider_id = provider_message_id.map(str::to_string);
                move |c| crate::sqlite_fast::outbox_sent(c, &[id], provider_id.as_deref(), now)
            },
            self.shared_outbox_sent(id, provider_message_id, now),
        )
        .await
    }

    async fn fast_outbox_sent_many(&self, ids: &[i64], now: Timestamp) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        self.write_fast(
            false,
            {
                let ids = ids.to_vec();
                move |c| crate::sqlite_fast::outbox_sent(c, &ids, None, now)
            },
            self.shared_outbox_sent_many(ids, now),
        )
        .await
    }
}

/// A database file (with its WAL and shared-memory companions) removed on drop.
#[derive(Debug)]
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let mut name = self.0.clone().into_os_string();
            name.push(suffix);
            let _ = std::fs::remove_file(PathBuf::from(name));
        }
    }
}

/// A queued write whose outcome never came (its group was dropped unfinished).
fn write_lost() -> StoreError {
    StoreError::Database(sqlx::Error::Io(std::io::Error::other(
        "the write was dropped before its group committed",
    )))
}

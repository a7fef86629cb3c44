//! The embedded store: one SQLite file in WAL mode, the default for a single business
//! or a demo. SQLite has one writer at a time, so writes go through a pool of exactly
//! one connection and start with `BEGIN IMMEDIATE` (a writer waits in the pool queue,
//! never on SQLite's lock, so concurrent tasks do not see "database is locked");
//! reads use a separate pool and, thanks to WAL, never wait for the writer.

use crate::{Result, StoreError};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// How long SQLite itself waits for a lock held by another process.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a task waits for a pooled connection (the writer queue) before failing.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(60);
/// Read connections (WAL lets them run beside the writer).
const READERS: u32 = 4;

/// The [`crate::Store`] on a SQLite file. Cloning shares the pools.
#[derive(Clone, Debug)]
pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
    /// For [`SqliteStore::new_test`]: the file to remove when the last clone is dropped.
    _temp: Option<Arc<TempFile>>,
}

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
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true)
            // The default page cache (2 MB) turns a busy store's reads into syscalls;
            // memory-mapped reads and a larger cache keep hot pages in process.
            .pragma("cache_size", "-32768")
            .pragma("mmap_size", "268435456")
            .pragma("temp_store", "memory");
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options.clone())
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&writer).await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(READERS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await?;
        tracing::debug!(path = %path.display(), "sqlite store open");
        Ok(SqliteStore {
            writer,
            reader,
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
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        Ok(SqliteStore {
            writer: pool.clone(),
            reader: pool,
            _temp: None,
        })
    }

    /// A fresh database in a new file under the system temp folder, removed when the
    /// store (and every clone) is dropped. Same pools as [`SqliteStore::open`].
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

    /// The pool for reads.
    fn writer(&self) -> &SqlitePool {
        &self.writer
    }

    fn reader(&self) -> &SqlitePool {
        &self.reader
    }

    /// A write transaction: the single writer connection, `BEGIN IMMEDIATE` so the write
    /// lock is taken up front (never upgraded half-way, which could fail as busy).
    async fn write_tx(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>> {
        Ok(self.writer.begin_with("BEGIN IMMEDIATE").await?)
    }
}

crate::sql::impl_sql_store!(
    SqliteStore,
    sqlx::Sqlite,
    "sqlite",
    lock_row = "",
    lock_conv = "",
    lock_contact = "",
    claim_conv = "",
    claim_rows = "",
);

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

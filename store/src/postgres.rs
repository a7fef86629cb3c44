//! The PostgreSQL store, for many gateway replicas sharing one database. Claims lock
//! rows with `FOR NO KEY UPDATE SKIP LOCKED`, so concurrent workers take different
//! conversations and outbox rows without waiting on each other. A store can live in its
//! own schema ([`PostgresStore::connect_in_schema`]); tests get a fresh schema each
//! ([`PostgresStore::new_test`]) and so run in parallel on one database.

use crate::{Result, StoreError};
use sqlx::Connection as _;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use std::str::FromStr;
use std::time::Duration;

/// Connections per store.
const MAX_CONNECTIONS: u32 = 16;
/// Connections per test store (many test stores share one server).
const TEST_CONNECTIONS: u32 = 8;
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(30);

/// Where [`PostgresStore::new_test`] connects unless `KOPRU_TEST_POSTGRES_URL` says otherwise.
pub const DEFAULT_TEST_URL: &str = "postgres://root@127.0.0.1:5432/test";

/// The [`crate::Store`] on PostgreSQL. Cloning shares the pool.
#[derive(Clone, Debug)]
pub struct PostgresStore {
    pool: PgPool,
    schema: Option<String>,
}

impl PostgresStore {
    /// Connects to `url` (tables in the default schema) and runs the migrations.
    pub async fn connect(url: &str) -> Result<Self> {
        let options = PgConnectOptions::from_str(url)?;
        Self::open(options, None, MAX_CONNECTIONS).await
    }

    /// Connects to `url` with every table in `schema` (created if missing) and runs the
    /// migrations there. `schema` is lowercase letters, digits and `_`.
    pub async fn connect_in_schema(url: &str, schema: &str) -> Result<Self> {
        let options = PgConnectOptions::from_str(url)?;
        Self::open(options, Some(schema), MAX_CONNECTIONS).await
    }

    /// A fresh, uniquely named schema (`kopru_test_…`) on the test database
    /// (`KOPRU_TEST_POSTGRES_URL`, or [`DEFAULT_TEST_URL`]); drop it with
    /// [`PostgresStore::drop_schema`] when done, or leave it.
    pub async fn new_test() -> Result<Self> {
        let url = std::env::var("KOPRU_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| DEFAULT_TEST_URL.to_string());
        let schema = format!("kopru_test_{}", uuid::Uuid::new_v4().simple());
        let options = PgConnectOptions::from_str(&url)?;
        Self::open(options, Some(&schema), TEST_CONNECTIONS).await
    }

    /// The schema this store lives in, when not the default.
    pub fn schema(&self) -> Option<&str> {
        self.schema.as_deref()
    }

    /// Drops this store's own schema with everything in it, and closes the pool. Does
    /// nothing to the data of a store in the default schema.
    pub async fn drop_schema(self) -> Result<()> {
        if let Some(schema) = &self.schema {
            sqlx::query(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
                .execute(&self.pool)
                .await?;
        }
        self.pool.close().await;
        Ok(())
    }

    async fn open(
        options: PgConnectOptions,
        schema: Option<&str>,
        connections: u32,
    ) -> Result<Self> {
        let options = match schema {
            Some(schema) => {
                if schema.is_empty()
                    || !schema
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
                {
                    return Err(StoreError::Database(sqlx::Error::Configuration(
                        format!("schema name {schema:?}: use lowercase letters, digits and _")
                            .into(),
                    )));
                }
                let mut conn = PgConnection::connect_with(&options).await?;
                sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\""))
                    .execute(&mut conn)
                    .await?;
                conn.close().await?;
                options.options([("search_path", schema)])
            }
            None => options,
        };
        let pool = PgPoolOptions::new()
            .max_connections(connections)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        Ok(PostgresStore {
            pool,
            schema: schema.map(str::to_string),
        })
    }

    async fn write_conn(&self) -> Result<sqlx::pool::PoolConnection<sqlx::Postgres>> {
        Ok(self.pool.acquire().await?)
    }

    async fn read_conn(&self) -> Result<sqlx::pool::PoolConnection<sqlx::Postgres>> {
        Ok(self.pool.acquire().await?)
    }

    async fn write_tx(&self) -> Result<sqlx::Transaction<'static, sqlx::Postgres>> {
        Ok(self.pool.begin().await?)
    }
}

crate::sql::impl_sql_store!(
    PostgresStore,
    sqlx::Postgres,
    "postgres",
    tx = sqlx::Transaction<'static, sqlx::Postgres>,
    accept_inbound = shared_accept_inbound,
    commit_turn = shared_commit_turn,
    outbox_sent = shared_outbox_sent,
    claim_conversation = shared_claim_conversation,
    pending_inbox = shared_pending_inbox,
    conversation = shared_conversation,
    messages = shared_messages,
    claim_outbox = shared_claim_outbox,
    outbox_sending = shared_outbox_sending,
    outbox_sent_many = shared_outbox_sent_many,
    // NO KEY UPDATE: the row is ours, but inserts referencing it (their foreign-key
    // check takes KEY SHARE) are not blocked, so timers firing or messages arriving
    // do not wait on, or deadlock with, a turn being committed.
    lock_row = " FOR NO KEY UPDATE",
    lock_conv = " FOR NO KEY UPDATE OF c",
    lock_contact = " FOR NO KEY UPDATE OF k",
    claim_conv = " FOR NO KEY UPDATE OF c SKIP LOCKED",
    claim_rows = " FOR NO KEY UPDATE SKIP LOCKED",
);

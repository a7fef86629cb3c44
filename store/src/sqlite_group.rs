//! Group commit for the rusqlite writer: writes wait in a queue for the writer's thread
//! of their own, which runs every queued write in one transaction, each in a savepoint of
//! its own, then commits once and hands each caller its own outcome.
//!
//! Why: a commit writes every page it changed to the WAL (and the checkpoint writes them
//! again). A message changes the same few pages of each table and index as the message
//! before it, so fifty writes in one commit write those pages once, not fifty times: at
//! a few hundred messages a second, separate commits wrote over 100 MB/s. Under light
//! load nothing waits and a write commits alone. On a thread of its own, the writer never
//! holds up a runtime thread (a webhook's answer, a socket) while it writes.

use crate::{Result, StoreError};
use rusqlite::Connection;
use std::collections::VecDeque;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// Writes run in one commit at most.
const MAX_GROUP: usize = 64;
/// After this long a group takes no more writes and commits.
const GROUP_TIME: Duration = Duration::from_millis(2);

/// A write queued for the next group commit.
pub(crate) trait Job: Send {
    /// Runs the write inside the group's transaction, undone alone if it fails.
    fn run(&mut self, c: &Connection);
    /// Hands the caller its outcome: the write's own, unless the group failed.
    fn finish(self: Box<Self>, group: std::result::Result<(), &str>);
}

/// A caller's write and where its outcome goes.
struct Pending<T, F> {
    write: Option<F>,
    outcome: Option<Result<T>>,
    reply: oneshot::Sender<Result<T>>,
}

impl<T, F> Job for Pending<T, F>
where
    T: Send,
    F: FnOnce(&Connection) -> Result<T> + Send,
{
    fn run(&mut self, c: &Connection) {
        // A caller that stopped waiting (a cancelled task) wrote nothing yet: skip it.
        let Some(write) = self.write.take().filter(|_| !self.reply.is_closed()) else {
            return;
        };
        self.outcome = Some(in_savepoint(c, write));
    }

    fn finish(self: Box<Self>, group: std::result::Result<(), &str>) {
        let outcome = match (self.outcome, group) {
            // Its own failure was undone already and says more than the group's.
            (Some(Err(e)), _) => Err(e),
            (Some(Ok(value)), Ok(())) => Ok(value),
            (_, Err(why)) => Err(group_failed(why)),
            (None, Ok(())) => return,
        };
        let _ = self.reply.send(outcome);
    }
}

fn group_failed(why: &str) -> StoreError {
    StoreError::Database(sqlx::Error::Io(std::io::Error::other(format!(
        "group commit: {why}"
    ))))
}

fn in_savepoint<T>(c: &Connection, write: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
    let run = |sql: &str| -> Result<()> {
        c.prepare_cached(sql)
            .and_then(|mut statement| statement.execute([]))
            .map(|_| ())
            .map_err(crate::sqlite_fast::db)
    };
    run("SAVEPOINT job")?;
    let outcome = write(c);
    if outcome.is_err() {
        run("ROLLBACK TO job")?;
    }
    run("RELEASE job")?;
    outcome
}

/// The writes waiting for the writer: urgent ones (a customer message's accept, which
/// the webhook's answer waits for) go in before the rest.
#[derive(Default)]
pub(crate) struct Queue {
    jobs: std::sync::Mutex<Waiting>,
    /// Signalled when a write is queued or the queue is closed.
    ready: std::sync::Condvar,
}

#[derive(Default)]
struct Waiting {
    urgent: VecDeque<Box<dyn Job>>,
    other: VecDeque<Box<dyn Job>>,
    /// The store is gone: the writer's thread ends.
    closed: bool,
}

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queue").finish_non_exhaustive()
    }
}

impl Queue {
    /// Queues `write`; the receiver gets its outcome once a group with it has committed.
    pub(crate) fn push<T, F>(&self, urgent: bool, write: F) -> oneshot::Receiver<Result<T>>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let (reply, outcome) = oneshot::channel();
        let job = Box::new(Pending {
            write: Some(write),
            outcome: None,
            reply,
        });
        let mut waiting = self.lock();
        match urgent {
            true => waiting.urgent.push_back(job),
            false => waiting.other.push_back(job),
        }
        drop(waiting);
        self.ready.notify_one();
        outcome
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Waiting> {
        self.jobs
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Blocks the writer's thread until a write is queued (`true`) or the queue is
    /// closed (`false`).
    pub(crate) fn wait(&self) -> bool {
        let mut waiting = self.lock();
        while waiting.urgent.is_empty() && waiting.other.is_empty() && !waiting.closed {
            waiting = self
                .ready
                .wait(waiting)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
        !waiting.closed
    }

    /// Ends the writer's thread (the store's last handle is gone, so no one waits).
    pub(crate) fn close(&self) {
        self.lock().closed = true;
        self.ready.notify_all();
    }

    /// The next write: an urgent one if any.
    fn pop(&self) -> Option<Box<dyn Job>> {
        let mut waiting = self.lock();
        waiting
            .urgent
            .pop_front()
            .or_else(|| waiting.other.pop_front())
    }

    /// Runs queued writes in one transaction on `c`, which the caller (the writer's
    /// thread) holds as the writer, and hands out their outcomes after the commit. Writes that arrive while
    /// the group runs join it, until it has run for [`GROUP_TIME`] (an accept waits for
    /// the group in progress, so a group stays short) or holds [`MAX_GROUP`] writes.
    pub(crate) fn run(&self, c: &Connection) {
        let Some(first) = self.pop() else {
            return;
        };
        if !c.is_autocommit() {
            // Left open by a group that panicked: nothing of it was committed.
            let _ = c.execute_batch("ROLLBACK");
        }
        if let Err(e) = c.execute_batch("BEGIN IMMEDIATE") {
            first.finish(Err(&e.to_string()));
            return;
        }
        let started = Instant::now();
        let mut group = Vec::new();
        let mut committed = Ok(());
        let mut next = Some(first);
        while let Some(mut job) = next {
            // Some errors (a full disk, an I/O error) end SQLite's transaction: what ran
            // before is gone, so nothing more runs and no one is told it was written.
            if c.is_autocommit() {
                committed = Err("the transaction ended on an error".to_string());
                group.push(job);
                break;
            }
            job.run(c);
            group.push(job);
            next = match group.len() < MAX_GROUP && started.elapsed() < GROUP_TIME {
                true => self.pop(),
                false => None,
            };
        }
        if committed.is_ok() && c.is_autocommit() {
            committed = Err("the transaction ended on an error".to_string());
        }
        if committed.is_ok() {
            committed = c.execute_batch("COMMIT").map_err(|e| e.to_string());
        }
        if committed.is_err() && !c.is_autocommit() {
            // Nothing of the group was written; leave the connection usable.
            let _ = c.execute_batch("ROLLBACK");
        }
        for job in group {
            job.finish(committed.as_ref().map(|_| ()).map_err(String::as_str));
        }
    }
}

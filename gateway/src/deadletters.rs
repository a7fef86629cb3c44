//! `kopru deadletters list|redrive`: webhook bodies that were correctly signed (or
//! carried the right Telegram secret token) but could not be parsed are kept whole in
//! the store's dead-letter table (`crate::webhooks`). After a fix, `redrive` runs each
//! stored body through the same code as the live webhook
//! ([`crate::webhooks::process_meta_body`], [`crate::webhooks::process_telegram_body`]):
//! messages go into the inbox (deduplicated on the provider's id, so re-driving twice
//! is harmless) and statuses are recorded. The signature is **not** checked again: it
//! was verified when the body arrived, before it was kept.
//!
//! The command works on the configuration's store (the SQLite file in `data_dir`, or
//! PostgreSQL). It only ingests: a running `kopru serve` on the same store answers the
//! messages (its workers poll the inbox, or wake at once through Redis); without one
//! they are answered when the server next starts.

use crate::config::Config;
use crate::runtime::Runtime;
use crate::webhooks::{Handled, Processed};
use anyhow::{Context, bail};
use serde::Serialize;
use std::path::PathBuf;
use store::DeadLetter;

/// `kopru deadletters …`.
#[derive(Debug, clap::Subcommand)]
pub enum DeadLettersCommand {
    /// List the dead letters not re-driven yet (with --all, every one).
    List(ListArgs),
    /// Re-process dead letters through the webhook code and mark those that now parse
    /// as re-driven; the others stay and are reported.
    Redrive(RedriveArgs),
}

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// A TOML configuration file (whose store to read); without it the bundled demo.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Include the dead letters already re-driven.
    #[arg(long)]
    pub all: bool,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct RedriveArgs {
    /// A TOML configuration file (whose store to use); without it the bundled demo.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Re-drive every dead letter not re-driven yet.
    #[arg(long, conflicts_with = "ids")]
    pub all: bool,
    /// The dead letters to re-drive (ids from `kopru deadletters list`); one already
    /// re-driven is re-driven again (harmless: messages are deduplicated).
    #[arg(value_name = "ID", required_unless_present = "all")]
    pub ids: Vec<i64>,
}

/// Runs `kopru deadletters …`.
pub async fn run(command: DeadLettersCommand) -> anyhow::Result<()> {
    match command {
        DeadLettersCommand::List(args) => list(args).await,
        DeadLettersCommand::Redrive(args) => redrive(args).await,
    }
}

/// Every dead letter, however many (`LIMIT` takes a number; this is "no limit").
const ALL: u32 = u32::MAX;

/// One dead letter as `list --json` prints it (the body itself is left out).
#[derive(Debug, Serialize)]
pub struct Listed {
    pub id: i64,
    pub source: String,
    pub tenant: Option<String>,
    pub reason: String,
    /// The body's size in bytes.
    pub size: usize,
    pub received_at: jiff::Timestamp,
    pub redriven_at: Option<jiff::Timestamp>,
}

impl From<&DeadLetter> for Listed {
    fn from(d: &DeadLetter) -> Self {
        Listed {
            id: d.id,
            source: d.source.clone(),
            tenant: d.tenant.clone(),
            reason: d.reason.clone(),
            size: d.body.len(),
            received_at: d.received_at,
            redriven_at: d.redriven_at,
        }
    }
}

async fn runtime(config: Option<PathBuf>) -> anyhow::Result<std::sync::Arc<Runtime>> {
    let (config, source) = Config::load(config.as_deref(), std::env::vars())?;
    // Not exclusive: a server may be running on the same store.
    Runtime::build(config, source, false)
        .await
        .context("opening the store")
}

async fn list(args: ListArgs) -> anyhow::Result<()> {
    let rt = runtime(args.config).await?;
    let letters = rt.store.dead_letters(ALL, args.all).await?;
    let listed: Vec<Listed> = letters.iter().map(Listed::from).collect();
    if args.json {
        println!(
            "{}",
            serde_json::to_string(&serde_json::json!({ "dead_letters": listed }))?
        );
    } else {
        print!("{}", table(&listed, args.all));
    }
    Ok(())
}

/// The readable form of `list`.
fn table(letters: &[Listed], all: bool) -> String {
    if letters.is_empty() {
        return if all {
            "no dead letters\n".into()
        } else {
            "no dead letters waiting (--all shows re-driven ones)\n".into()
        };
    }
    let mut rows = vec![vec![
        "id".to_string(),
        "source".into(),
        "tenant".into(),
        "size".into(),
        "received_at".into(),
    ]];
    if all {
        rows[0].push("redriven_at".into());
    }
    rows[0].push("reason".into());
    for l in letters {
        let mut row = vec![
            l.id.to_string(),
            l.source.clone(),
            l.tenant.clone().unwrap_or_else(|| "-".into()),
            l.size.to_string(),
            l.received_at.strftime("%Y-%m-%d %H:%M:%S").to_string(),
        ];
        if all {
            row.push(
                l.redriven_at
                    .map(|t| t.strftime("%Y-%m-%d %H:%M:%S").to_string())
                    .unwrap_or_else(|| "-".into()),
            );
        }
        row.push(one_line(&l.reason, 100));
        rows.push(row);
    }
    let cols = rows[0].len();
    let widths: Vec<usize> = (0..cols)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for r in rows {
        let line: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(c, cell)| {
                if c + 1 == cols {
                    cell.clone()
                } else {
                    format!("{cell:<w$}", w = widths[c])
                }
            })
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

fn one_line(s: &str, max: usize) -> String {
    let flat: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if flat.chars().count() <= max {
        flat
    } else {
        let mut cut: String = flat.chars().take(max - 1).collect();
        cut.push('…');
        cut
    }
}

/// What re-driving one dead letter came to.
#[derive(Debug, PartialEq, Eq)]
pub enum Redriven {
    /// It parsed and its events were handled; it is marked re-driven.
    Done(Handled),
    /// Still not processable: it stays a dead letter.
    Stays(String),
}

/// Re-drives one dead letter through the live webhook code, without checking its
/// signature again (it was verified on arrival), and marks it re-driven when its body
/// now parses. `Err` only when storage failed.
pub async fn redrive_one(rt: &Runtime, letter: &DeadLetter) -> anyhow::Result<Redriven> {
    let processed = match letter.source.as_str() {
        "meta" => crate::webhooks::process_meta_body(rt, &letter.body).await?,
        "telegram" => {
            let Some(tenant) = letter.tenant.as_deref() else {
                return Ok(Redriven::Stays(
                    "a Telegram dead letter without a tenant".into(),
                ));
            };
            if rt
                .tenant(tenant)
                .is_none_or(|t| t.config.telegram.is_none())
            {
                return Ok(Redriven::Stays(format!(
                    "tenant {tenant} is not configured for Telegram"
                )));
            }
            crate::webhooks::process_telegram_body(rt, tenant, &letter.body).await?
        }
        other => return Ok(Redriven::Stays(format!("unknown source {other:?}"))),
    };
    match processed {
        Processed::Handled(h) => {
            rt.store
                .mark_redriven(letter.id, jiff::Timestamp::now())
                .await?;
            Ok(Redriven::Done(h))
        }
        Processed::Unparseable(reason) => Ok(Redriven::Stays(reason)),
    }
}

async fn redrive(args: RedriveArgs) -> anyhow::Result<()> {
    let rt = runtime(args.config).await?;
    let (letters, missing): (Vec<DeadLetter>, Vec<i64>) = if args.all {
        (rt.store.dead_letters(ALL, false).await?, Vec::new())
    } else {
        let every = rt.store.dead_letters(ALL, true).await?;
        let mut wanted = args.ids.clone();
        wanted.sort_unstable();
        wanted.dedup();
        let found: Vec<DeadLetter> = every
            .into_iter()
            .filter(|d| wanted.contains(&d.id))
            .collect();
        let missing = wanted
            .into_iter()
            .filter(|id| !found.iter().any(|d| d.id == *id))
            .collect();
        (found, missing)
    };
    let mut stayed = Vec::new();
    let mut done = 0usize;
    for id in &missing {
        println!("dead letter {id}: no such dead letter");
    }
    for letter in &letters {
        match redrive_one(&rt, letter)
            .await
            .with_context(|| format!("dead letter {}", letter.id))?
        {
            Redriven::Done(h) => {
                done += 1;
                println!(
                    "dead letter {} ({}): re-driven: {} new message(s), {} duplicate(s), {} status(es), {} stale, {} other",
                    letter.id,
                    letter.source,
                    h.messages,
                    h.duplicates,
                    h.statuses,
                    h.stale,
                    h.other
                );
            }
            Redriven::Stays(reason) => {
                println!(
                    "dead letter {} ({}): still not processed: {}",
                    letter.id,
                    letter.source,
                    one_line(&reason, 200)
                );
                stayed.push(letter.id);
            }
        }
    }
    if letters.is_empty() && missing.is_empty() {
        println!("no dead letters to re-drive");
    }
    if !stayed.is_empty() || !missing.is_empty() {
        let mut parts = Vec::new();
        if !stayed.is_empty() {
            parts.push(format!("still not processed: {}", ids(&stayed)));
        }
        if !missing.is_empty() {
            parts.push(format!("unknown: {}", ids(&missing)));
        }
        bail!(
            "{done} of {} dead letter(s) re-driven ({})",
            letters.len() + missing.len(),
            parts.join("; ")
        );
    }
    Ok(())
}

fn ids(ids: &[i64]) -> String {
    ids.iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn telegram_letters_are_redriven_once_and_unprocessable_ones_stay() {
        let dir = tempfile::tempdir().unwrap();
        let env = [(
            "KOPRU_SERVER__DATA_DIR".to_string(),
            dir.path().display().to_string(),
        )];
        let (config, source) = Config::load(None, env).unwrap();
        let rt = Runtime::build(config, source, false).await.unwrap();
        let letter = |id: i64, tenant: Option<&str>, body: &str| DeadLetter {
            id,
            source: "telegram".into(),
            tenant: tenant.map(str::to_string),
            reason: "test".into(),
            body: body.as_bytes().to_vec(),
            headers: serde_json::json!({}),
            received_at: jiff::Timestamp::now(),
            redriven_at: None,
        };
        let update = r#"{"update_id": 42, "message": {"message_id": 1, "from": {"id": 7, "is_bot": false, "first_name": "Ali"}, "chat": {"id": 7, "type": "private"}, "text": "merhaba"}}"#;
        let new = store::NewDeadLetter {
            source: "telegram".into(),
            tenant: Some("demo-dental".into()),
            reason: "test".into(),
            body: update.as_bytes().to_vec(),
            headers: serde_json::json!({}),
            received_at: jiff::Timestamp::now(),
        };
        let id = rt.store.add_dead_letter(&new).await.unwrap();
        let stored = &rt.store.dead_letters(10, false).await.unwrap()[0];
        let Redriven::Done(h) = redrive_one(&rt, stored).await.unwrap() else {
            panic!("not re-driven")
        };
        assert_eq!((h.messages, h.duplicates), (1, 0));
        assert!(rt.store.dead_letters(10, false).await.unwrap().is_empty());
        let again = &rt.store.dead_letters(10, true).await.unwrap()[0];
        assert_eq!(again.id, id);
        assert!(again.redriven_at.is_some());
        let Redriven::Done(h) = redrive_one(&rt, again).await.unwrap() else {
            panic!("not re-driven")
        };
        assert_eq!((h.messages, h.duplicates), (0, 1), "deduplicated");

        for (tenant, body) in [
            (None, update),
            (Some("demo-nobody"), update),
            (Some("demo-dental"), r#"{"message": {}}"#),
        ] {
            let r = redrive_one(&rt, &letter(999, tenant, body)).await.unwrap();
            assert!(matches!(r, Redriven::Stays(_)), "{tenant:?} {body}: {r:?}");
        }
        let r = redrive_one(
            &rt,
            &DeadLetter {
                source: "carrier-pigeon".into(),
                ..letter(998, None, "{}")
            },
        )
        .await
        .unwrap();
        assert!(matches!(r, Redriven::Stays(ref m) if m.contains("unknown source")));
    }

    #[test]
    fn the_table_names_its_columns_and_flattens_reasons() {
        let l = Listed {
            id: 7,
            source: "meta".into(),
            tenant: None,
            reason: "line one\nline two".into(),
            size: 12,
            received_at: jiff::Timestamp::UNIX_EPOCH,
            redriven_at: None,
        };
        let t = table(std::slice::from_ref(&l), false);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 2, "{t}");
        assert!(
            lines[0].starts_with("id") && lines[0].ends_with("reason"),
            "{t}"
        );
        assert!(lines[1].contains("line one line two"), "{t}");
        assert!(
            table(&[l], true)
                .lines()
                .next()
                .unwrap()
                .contains("redriven_at")
        );
        assert!(table(&[], false).contains("no dead letters"));
    }
}

//! `easel store migrate`: copies a SQLite job store (jobs, published notes, batches) into
//! the PostgreSQL store that replicas share. Safe to run again: what is already there is
//! neither copied twice nor overwritten.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use clap::Subcommand;
use secrecy::{ExposeSecret, SecretString};

use crate::app::JOB_STORE_FILE;
use crate::config::Config;
use crate::jobs::{JobFilter, JobStore, PgStore, SqliteStore, StoreError};

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Copy a SQLite job store (jobs, notes, batches) into PostgreSQL; running it again copies only what is new.
    Migrate(MigrateArgs),
}

#[derive(Debug, clap::Args)]
pub struct MigrateArgs {
    /// The SQLite job store to copy (default: jobs.db in the data dir).
    #[arg(long, value_name = "PATH")]
    from: Option<PathBuf>,
    /// The PostgreSQL database to copy into (default: jobs.database_url / EASEL_DATABASE_URL;
    /// prefer the variable: a password on the command line is visible to other users).
    #[arg(long, value_name = "URL")]
    to: Option<String>,
}

/// Jobs read and written per round: memory stays bounded whatever the store's size.
const PAGE: usize = 500;

pub async fn run(config: &Config, command: Command) -> anyhow::Result<ExitCode> {
    let Command::Migrate(args) = command;
    let (from, from_default) = match args.from {
        Some(path) => (path, false),
        None => (config.data_dir.join(JOB_STORE_FILE), true),
    };
    let (url, to_flag) = match (args.to, &config.jobs.database_url) {
        (Some(url), _) => (SecretString::from(url), "--to"),
        (None, Some(url)) => (url.clone(), "jobs.database_url (EASEL_DATABASE_URL)"),
        (None, None) => anyhow::bail!(
            "no PostgreSQL database to copy into: give --to postgres://USER@HOST:PORT/DB, or set EASEL_DATABASE_URL (jobs.database_url in the configuration file)"
        ),
    };
    // Checked here, before either store is opened, so that the error names the setting
    // that gave the URL. The parser's messages name the part at fault, never its value.
    if let Err(e) = url.expose_secret().parse::<postgres::Config>() {
        anyhow::bail!(
            "{to_flag} is not a PostgreSQL URL ({e}); write it as postgres://USER:PASSWORD@HOST:PORT/DATABASE (with ?sslmode=require for TLS)"
        );
    }
    // The stores are synchronous (SQLite; PostgreSQL on its own threads): off the runtime.
    let summary = tokio::task::spawn_blocking(move || migrate(&from, from_default, &url, to_flag))
        .await
        .context("the migration stopped unexpectedly")??;
    println!("{}", summary.line);
    if !summary.refused.is_empty() {
        for r in &summary.refused {
            eprintln!("not copied: {r}");
        }
        anyhow::bail!(
            "{} record(s) were not copied (listed above): the database refused them, and copied everything else. Correct or remove them in the SQLite store and run the command again; it copies only what is missing",
            summary.refused.len()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// What one run copied.
#[derive(Debug, Default)]
struct Copied {
    jobs: u64,
    jobs_there: u64,
    notes: u64,
    batches: u64,
    /// Records the target refused (while reachable): which, and why.
    refused: Vec<String>,
}

/// The summary line, and what was not copied.
struct Summary {
    line: String,
    refused: Vec<String>,
}

fn migrate(
    from: &Path,
    from_default: bool,
    url: &SecretString,
    to_flag: &str,
) -> anyhow::Result<Summary> {
    let source = SqliteStore::open_existing(from).map_err(|e| {
        if from_default {
            anyhow::anyhow!(
                "--from (default: jobs.db in the data dir): {e}. Give --from the jobs.db to copy, or set EASEL_DATA_DIR to the data dir that holds it"
            )
        } else {
            anyhow::anyhow!("--from: {e}. Give --from the jobs.db of the easel data dir to copy")
        }
    })?;
    // The store's errors name it without the password; this says which setting gave it.
    let target =
        PgStore::open(url.expose_secret()).map_err(|e| anyhow::anyhow!("{to_flag}: {e}"))?;
    let shown = target.shown_url();
    let started = Instant::now();
    let copied = copy(&source, &target)
        .map_err(|e| anyhow::anyhow!("copying from {} to {shown}: {e}. Nothing copied is lost; run the command again to copy the rest", from.display()))?;
    eprintln!("done in {:.2} s", started.elapsed().as_secs_f64());
    let line = format!(
        "copied {} jobs ({} already there), {} notes, {} batches from {} to {shown}",
        copied.jobs,
        copied.jobs_there,
        copied.notes,
        copied.batches,
        from.display()
    );
    Ok(Summary {
        line,
        refused: copied.refused,
    })
}

/// The outcome of writing one record: a refusal of that record alone (the database answers
/// pings) is noted and the copy goes on; an unreachable database stops it.
fn one<T>(
    to: &dyn JobStore,
    what: impl FnOnce() -> String,
    written: Result<T, StoreError>,
    refused: &mut Vec<String>,
) -> Result<Option<T>, StoreError> {
    match written {
        Ok(v) => Ok(Some(v)),
        Err(e) => {
            to.ping()?;
            refused.push(format!("{}: {e}", what()));
            Ok(None)
        }
    }
}

/// Copies every job (any status, newest first, a page at a time), then the notes and
/// batches the target does not have. Nothing in the target is overwritten: a record there
/// may be newer than its copy here (a replica ran it since the last run). A record the
/// target refuses (text PostgreSQL cannot hold, such as a NUL in a key) does not keep the
/// others from being copied.
fn copy(from: &dyn JobStore, to: &dyn JobStore) -> Result<Copied, StoreError> {
    let mut copied = Copied::default();
    let mut before = None;
    loop {
        let page = from.list(&JobFilter {
            before: before.take(),
            limit: PAGE,
            ..JobFilter::default()
        })?;
        for job in &page {
            let what = || format!("job {}", job.id);
            match one(to, what, to.import_job(job), &mut copied.refused)? {
                Some(true) => copied.jobs += 1,
                Some(false) => copied.jobs_there += 1,
                None => {}
            }
        }
        eprintln!(
            "jobs: {} read ({} copied, {} already there)",
            copied.jobs + copied.jobs_there,
            copied.jobs,
            copied.jobs_there
        );
        match page.last() {
            Some(last) if page.len() == PAGE => {
                before = Some((last.created_at_ms, last.id.clone()));
            }
            _ => break,
        }
    }
    for note in from.list_notes(usize::MAX)? {
        if to.get_note(&note.id)?.is_none() {
            let what = || format!("note {}", note.id);
            if one(to, what, to.record_note(&note), &mut copied.refused)?.is_some() {
                copied.notes += 1;
            }
        }
    }
    for batch in from.list_batches()? {
        if to.get_batch(&batch.id)?.is_none() {
            let what = || format!("batch {}", batch.id);
            if one(to, what, to.put_batch(&batch), &mut copied.refused)?.is_some() {
                copied.batches += 1;
            }
        }
    }
    eprintln!(
        "notes: {} copied; batches: {} copied",
        copied.notes, copied.batches
    );
    Ok(copied)
}

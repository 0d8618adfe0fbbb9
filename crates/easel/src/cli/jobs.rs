//! `easel jobs list|show|wait|cancel|prune`: the job store from the command line.

use std::process::ExitCode;
use std::time::Duration;

use clap::Subcommand;

use super::progress::Display;
use crate::app::Storage;
use crate::config::Config;
use crate::gallery::THUMBNAILS_DIR;
use crate::jobs::{Cancelled, JobFilter, JobStatus, Jobs};
use crate::outputs::Thumbnails;
use crate::service::JobReport;
use crate::since::parse_since;

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Recent jobs, newest first.
    List {
        /// queued, running, succeeded, failed or cancelled.
        #[arg(long, value_parser = parse_status)]
        status: Option<JobStatus>,
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// A time (2026-11-21T08:00:00Z) or an age (2h, 7d).
        #[arg(long)]
        since: Option<String>,
    },
    /// One job in full.
    Show { job_id: String },
    /// Wait for a job (resuming it here if no other easel runs it) and print its files.
    Wait {
        job_id: String,
        /// Give up waiting after this long (the job keeps running).
        #[arg(long, default_value = "1h", value_parser = humantime::parse_duration)]
        timeout: Duration,
    },
    /// Cancel a job.
    Cancel { job_id: String },
    /// Delete finished jobs older than an age from the store. Image files are never deleted.
    Prune {
        #[arg(long, value_parser = humantime::parse_duration)]
        older_than: Duration,
    },
}

fn parse_status(s: &str) -> Result<JobStatus, String> {
    serde_json::from_value(serde_json::Value::String(s.to_string()))
        .map_err(|_| format!("{s:?} is not one of queued, running, succeeded, failed, cancelled"))
}

fn exit_for(status: JobStatus) -> ExitCode {
    match status {
        JobStatus::Succeeded => ExitCode::SUCCESS,
        _ => ExitCode::FAILURE,
    }
}

pub async fn run(config: &Config, command: Command) -> anyhow::Result<ExitCode> {
    let jobs = crate::app::build(config, Storage::Durable)?.jobs;
    match command {
        Command::List {
            status,
            limit,
            since,
        } => {
            let since_ms = since
                .as_deref()
                .map(|s| parse_since("--since", s))
                .transpose()?
                .unwrap_or(0);
            let list = jobs.list(&JobFilter {
                status,
                since_ms,
                limit,
                ..JobFilter::default()
            })?;
            for j in &list {
                let prompt: String = j.request.prompt.chars().take(50).collect();
                println!(
                    "{}  {:<9}  {:<24}  {} file(s)  {}",
                    j.id,
                    j.status.as_str(),
                    j.request.describe_model(),
                    j.images.len(),
                    prompt
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Show { job_id } => match jobs.get(&job_id)? {
            Some(job) => {
                println!("{}", JobReport::new(&job).text());
                Ok(ExitCode::SUCCESS)
            }
            None => anyhow::bail!("no job {job_id:?}; `easel jobs list` shows job ids"),
        },
        Command::Wait { job_id, timeout } => wait(jobs, &job_id, timeout).await,
        Command::Cancel { job_id } => {
            match jobs.cancel(&job_id).await? {
                Cancelled::NotFound => {
                    anyhow::bail!("no job {job_id:?}; `easel jobs list` shows job ids")
                }
                Cancelled::AlreadyFinished(s) => {
                    println!("job {job_id} had already finished ({})", s.as_str())
                }
                Cancelled::Marked(note) => println!("job {job_id}: {note}"),
                Cancelled::Stopping => {}
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Prune { older_than } => {
            let n = jobs.prune(older_than)?;
            // The gallery's thumbnails of those jobs go too (they are served by job id).
            let thumbs = Thumbnails::new(config.data_dir.join(THUMBNAILS_DIR));
            let swept = thumbs.sweep(|id| !matches!(jobs.get(id), Ok(None)));
            println!(
                "removed {n} finished job(s) older than {} and {swept} gallery thumbnail(s); image files were kept",
                humantime::format_duration(older_than)
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Follows a job that may be run by another easel process (read from the store) or by
/// nobody (resumed here once its lease runs out).
async fn wait(jobs: Jobs, job_id: &str, timeout: Duration) -> anyhow::Result<ExitCode> {
    jobs.start_background(true);
    let mut display = Display::new();
    let waited = tokio::select! {
        w = jobs.wait(job_id, timeout, |j| display.show(j)) => w?,
        _ = tokio::signal::ctrl_c() => { display.finish(); return Ok(ExitCode::from(130)); }
    };
    display.finish();
    let Some(job) = waited else {
        anyhow::bail!("no job {job_id:?}; `easel jobs list` shows job ids");
    };
    for image in &job.images {
        println!("{}", image.path.display());
    }
    if !job.status.is_terminal() {
        eprintln!(
            "job {job_id} is still {}; it keeps running",
            job.status.as_str()
        );
        return Ok(ExitCode::FAILURE);
    }
    if let Some(e) = &job.error {
        eprintln!("error: {e}");
    }
    Ok(exit_for(job.status))
}

//! `easel batch FILE`: the prototype's scenario from the command line — a prompt file in,
//! one job per line, a summary out.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::app::Storage;
use crate::batch::{self, Line, LineStatus};
use crate::config::Config;
use crate::intake::Face;
use crate::service::batch_line_input;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Prompt file: text (one prompt a line; blank lines and # comments skipped) or .jsonl.
    file: std::path::PathBuf,
    /// Names the batch: the same file run again with the same key submits nothing new.
    #[arg(long)]
    key: Option<String>,
    /// Lines running at once.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Backend for every line (default from configuration).
    #[arg(long)]
    backend: Option<String>,
    /// Model for every line.
    #[arg(long)]
    model: Option<String>,
    /// WIDTHxHEIGHT for every line.
    #[arg(long)]
    size: Option<String>,
    /// Images per line.
    #[arg(long)]
    count: Option<u32>,
    /// Folder relative to the output root.
    #[arg(long, value_name = "DIR")]
    out: Option<String>,
}

pub async fn run(config: &Config, args: Args) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(&args.file)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", args.file.display()))?;
    let (lines, bad) = batch::parse(&text, batch::is_json_lines(&args.file.to_string_lossy()));
    let mut defaults = Map::new();
    for (k, v) in [
        ("backend", args.backend.map(Value::from)),
        ("model", args.model.map(Value::from)),
        ("size", args.size.map(Value::from)),
        ("count", args.count.map(|c| json!(c))),
        ("output_dir", args.out.map(Value::from)),
    ] {
        if let Some(v) = v {
            defaults.insert(k.into(), v);
        }
    }
    let app = crate::app::build(config, Storage::Durable)?;
    flags_fit(&defaults, &app.jobs)?;
    app.jobs.start_background(false);
    let jobs = app.jobs.clone();
    let shared = defaults.clone();
    let build: batch::run::BuildJob = Arc::new(move |line: &Line| {
        // The lines' keys are generate_image's, and so are the defaults' (the flags below
        // fill them in), so errors name them that way.
        batch_line_input(&shared, line)?.into_job(&jobs, Face::Mcp)
    });
    let key = args
        .key
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    let total = lines.len() + bad.len();
    eprintln!("batch {key}: {total} line(s) from {}", args.file.display());
    let mut state = batch::start(
        app.jobs.clone(),
        key,
        lines,
        bad,
        &defaults,
        args.concurrency,
        build,
    )
    .state;
    let mut reported = std::collections::BTreeSet::new();
    loop {
        let s = state.borrow_and_update().clone();
        for l in s
            .lines
            .iter()
            .filter(|l| !matches!(l.status, LineStatus::Pending | LineStatus::Running))
        {
            if reported.insert(l.line) {
                let what = match l.status {
                    LineStatus::Succeeded => format!("ok {}", l.files.join(" ")),
                    _ => format!("FAILED {}", l.error.as_deref().unwrap_or("?")),
                };
                eprintln!("[{}/{total}] line {}: {what}", reported.len(), l.line);
            }
        }
        if s.done {
            let ok = s.count(LineStatus::Succeeded);
            for l in s.lines.iter().filter(|l| l.status == LineStatus::Succeeded) {
                for f in &l.files {
                    println!("{f}");
                }
            }
            eprintln!(
                "batch {}: {ok} of {total} line(s) succeeded, {} failed",
                s.batch_key,
                total - ok
            );
            return Ok(match (ok, total - ok) {
                (_, 0) => ExitCode::SUCCESS,
                (0, _) => ExitCode::FAILURE,
                _ => ExitCode::from(2),
            });
        }
        tokio::select! {
            changed = state.changed() => if changed.is_err() { anyhow::bail!("the batch stopped unexpectedly"); },
            _ = tokio::signal::ctrl_c() => { eprintln!("interrupted; jobs already submitted keep their place in the store"); return Ok(ExitCode::from(130)); }
            _ = tokio::time::sleep(Duration::from_secs(3600)) => {}
        }
    }
}

/// The flags checked once, before any line runs, and refused by their own names (`--out`,
/// `--size`, …): a bad flag would otherwise fail every line, each naming generate_image's
/// parameter. The lines' own keys are checked as each line runs, by the names the file uses.
fn flags_fit(defaults: &Map<String, Value>, jobs: &crate::jobs::Jobs) -> anyhow::Result<()> {
    if let Some(Value::String(dir)) = defaults.get("output_dir") {
        crate::outputs::validate_relative_dir(dir)
            .map_err(|e| anyhow::anyhow!(Face::Cli.output_error(&e)))?;
    }
    let probe = Line {
        number: 0,
        prompt: "the flags alone".into(),
        overrides: Map::new(),
    };
    batch_line_input(defaults, &probe)
        .map_err(anyhow::Error::msg)?
        .into_job(jobs, Face::Cli)
        .map_err(anyhow::Error::msg)?;
    Ok(())
}

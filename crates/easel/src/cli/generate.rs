//! `easel generate "prompt"`: the same job as the MCP tool, for people.

use std::process::ExitCode;
use std::time::Duration;

use super::progress::Display;
use crate::app::Storage;
use crate::config::Config;
use crate::intake::{Face, JobInput, WaitLimits};
use crate::jobs::JobStatus;
use crate::outputs::OutputFormat;
use crate::request::{DEFAULT_COUNT, DEFAULT_SIZE};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// What to draw.
    prompt: String,
    /// What to keep out of the image.
    #[arg(long)]
    negative: Option<String>,
    /// Backend name (default from configuration).
    #[arg(long)]
    backend: Option<String>,
    /// Model id (default: the backend's, e.g. Qwen/Qwen-Image).
    #[arg(long)]
    model: Option<String>,
    /// WIDTHxHEIGHT.
    #[arg(long, default_value = DEFAULT_SIZE)]
    size: String,
    /// 0-2147483647; random when omitted.
    #[arg(long)]
    seed: Option<u64>,
    /// Sampling steps, 1-100.
    #[arg(long)]
    steps: Option<u32>,
    /// Guidance, 1.5-20.
    #[arg(long)]
    guidance: Option<f64>,
    /// ComfyUI workflow name (see `easel workflows`).
    #[arg(long)]
    workflow: Option<String>,
    /// A workflow parameter, NAME=VALUE (VALUE read as JSON when it parses, else as text); repeatable.
    #[arg(long = "param", value_name = "NAME=VALUE")]
    param: Vec<String>,
    /// Images to make, 1-8.
    #[arg(long, default_value_t = DEFAULT_COUNT)]
    count: u32,
    /// Folder relative to the output root.
    #[arg(long, value_name = "DIR")]
    out: Option<String>,
    /// File name stem.
    #[arg(long)]
    filename: Option<String>,
    /// original, png, jpeg or webp.
    #[arg(long, default_value = "original", value_parser = parse_format)]
    format: OutputFormat,
}

/// `--param name=value` pairs; values are JSON when they parse (numbers, true), else text.
fn parse_params(pairs: &[String]) -> anyhow::Result<serde_json::Map<String, serde_json::Value>> {
    let mut params = serde_json::Map::new();
    for pair in pairs {
        let Some((name, value)) = pair.split_once('=') else {
            anyhow::bail!("--param {pair:?}: expected NAME=VALUE, e.g. --param steps=30");
        };
        let value = serde_json::from_str(value)
            .unwrap_or_else(|_| serde_json::Value::String(value.to_string()));
        params.insert(name.trim().to_string(), value);
    }
    Ok(params)
}

fn parse_format(s: &str) -> Result<OutputFormat, String> {
    serde_json::from_value(serde_json::Value::String(s.to_string()))
        .map_err(|_| format!("{s:?} is not one of original, png, jpeg, webp"))
}

pub async fn run(config: &Config, args: Args) -> anyhow::Result<ExitCode> {
    let jobs = crate::app::build(config, Storage::Durable)?.jobs;
    jobs.start_background(false);
    // The same builder as the MCP tool, so both refuse and default alike; refusals name
    // this command's flags.
    let input = JobInput {
        negative_prompt: args.negative,
        backend: args.backend,
        model: args.model,
        size: Some(args.size),
        seed: args.seed,
        steps: args.steps,
        guidance: args.guidance,
        count: Some(args.count),
        workflow: args.workflow,
        params: parse_params(&args.param)?,
        output_dir: args.out,
        filename: args.filename,
        format: args.format,
        ..JobInput::new(args.prompt)
    };
    // This command waits for the job itself (below), so the call's wait budget is unused.
    let job = input
        .submit(&jobs, WaitLimits::default(), Face::Cli)
        .map_err(|e| anyhow::anyhow!(e))?
        .submitted
        .job;
    let mut display = Display::new();
    // The backend's own time-out bounds the job; this only has to outlast it.
    let waited = tokio::select! {
        w = jobs.wait(&job.id, Duration::from_secs(24 * 3600), |j| display.show(j)) => w?,
        _ = tokio::signal::ctrl_c() => {
            let _ = jobs.cancel(&job.id).await;
            display.finish();
            eprintln!("interrupted; job {} cancelled", job.id);
            return Ok(ExitCode::from(130));
        }
    };
    display.finish();
    let Some(job) = waited else {
        anyhow::bail!("job {} vanished", job.id);
    };
    for image in &job.images {
        println!("{}", image.path.display());
    }
    for f in &job.failures {
        eprintln!("error: image {} failed: {}", f.index + 1, f.error);
    }
    match job.status {
        JobStatus::Succeeded if job.failures.is_empty() => Ok(ExitCode::SUCCESS),
        JobStatus::Succeeded => Ok(ExitCode::from(2)),
        _ => {
            let why = job
                .error
                .map_or_else(|| "unknown error".to_string(), |e| e.to_string());
            eprintln!("error: {why}");
            Ok(ExitCode::FAILURE)
        }
    }
}

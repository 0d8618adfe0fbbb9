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

/// The `easel generate …` line that asks for `job` again (same seed), shell-quoted for a
/// POSIX shell; the flags are this command's, spelled by [`Face::Cli`]. What the command
/// cannot express (LoRAs, edit sources) follows as a `#` comment, so the line still runs.
pub fn equivalent_command(job: &crate::jobs::Job) -> String {
    use crate::intake::Field;
    let r = &job.request;
    let flag = |f: Field| Face::Cli.spell(f);
    // A value that starts with `-` would be read as a flag (a prompt "--count=9" would ask
    // for nine images): such a prompt goes last, after `--`, and such a value is attached to
    // its flag with `=`.
    let prompt_is_flag_like = r.prompt.starts_with('-');
    let mut words: Vec<String> = vec!["easel".into(), "generate".into()];
    if !prompt_is_flag_like {
        words.push(shell_quote(&r.prompt));
    }
    let mut add = |f: Field, value: String| {
        if value.starts_with('-') {
            words.push(format!("{}={}", flag(f), shell_quote(&value)));
        } else {
            words.push(flag(f).to_string());
            words.push(shell_quote(&value));
        }
    };
    if let Some(n) = &r.negative_prompt {
        add(Field::NegativePrompt, n.clone());
    }
    add(Field::Backend, job.backend.clone());
    if let Some(m) = &r.model {
        add(Field::Model, m.clone());
    }
    add(Field::Size, r.size.to_string());
    add(Field::Seed, r.seed.to_string());
    if let Some(s) = r.steps {
        add(Field::Steps, s.to_string());
    }
    if let Some(g) = r.guidance {
        add(Field::Guidance, g.to_string());
    }
    if let Some(w) = &r.workflow {
        add(Field::Workflow, w.clone());
    }
    for (name, value) in &r.params {
        // Text as it is; anything else as JSON, which --param reads back.
        let value = value
            .as_str()
            .map_or_else(|| value.to_string(), str::to_string);
        add(Field::Params, format!("{name}={value}"));
    }
    add(Field::Count, r.count.to_string());
    if let Some(dir) = &job.output.dir {
        add(Field::OutputDir, dir.clone());
    }
    if let Some(stem) = &job.output.stem {
        add(Field::Filename, stem.clone());
    }
    if job.output.format != OutputFormat::Original
        && let Ok(serde_json::Value::String(format)) = serde_json::to_value(job.output.format)
    {
        add(Field::Format, format);
    }
    if prompt_is_flag_like {
        words.push("--".into());
        words.push(shell_quote(&r.prompt));
    }
    let mut line = words.join(" ");
    let mut missing = Vec::new();
    if r.loras.is_some() {
        missing.push("LoRAs".to_string());
    }
    if r.is_edit() {
        missing.push("the edit's source images (use edit_image)".to_string());
    }
    if !missing.is_empty() {
        line.push_str(&format!("  # not expressible here: {}", missing.join(", ")));
    }
    line
}

/// `text` as one word for a POSIX shell: bare when it has only safe characters, else in
/// single quotes (a quote inside written as `'\''`).
pub fn shell_quote(text: &str) -> String {
    let safe = !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-./:=@%+,".contains(&b));
    if safe {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    fn words(line: &str) -> Vec<String> {
        // A small POSIX word splitter for the quoting shell_quote produces.
        let mut out = Vec::new();
        let mut cur = String::new();
        let mut in_word = false;
        let mut chars = line.chars();
        while let Some(c) = chars.next() {
            match c {
                '\'' => {
                    in_word = true;
                    for q in chars.by_ref() {
                        if q == '\'' {
                            break;
                        }
                        cur.push(q);
                    }
                }
                '\\' => {
                    in_word = true;
                    cur.extend(chars.next());
                }
                ' ' if in_word => {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
                ' ' => {}
                c => {
                    in_word = true;
                    cur.push(c);
                }
            }
        }
        if in_word {
            out.push(cur);
        }
        out
    }

    #[test]
    fn the_command_parses_back_into_the_same_request() {
        let job: crate::jobs::Job = serde_json::from_value(serde_json::json!({
            "id": "j1", "backend": "comfyui",
            "request": {"prompt": "a cat's \"dream\"; rm -rf $HOME", "negative_prompt": "blur",
                        "model": "flux", "size": {"width": 1664, "height": 928}, "seed": 42,
                        "count": 2, "steps": 30, "guidance": 3.5, "workflow": "txt2img",
                        "params": {"sampler": "euler a", "cfg": 7}},
            "output": {"dir": "cats/2026", "stem": "cat", "format": "png"},
            "status": "succeeded", "progress": {"fraction": 1.0, "message": "done"},
            "ticket": null, "images": [], "failures": [], "error": null,
            "idempotency_key": null, "created_at_ms": 1, "updated_at_ms": 1, "finished_at_ms": 2
        }))
        .expect("job");
        let line = equivalent_command(&job);
        let w = words(&line);
        assert_eq!(&w[..2], ["easel", "generate"], "{line}");
        let cli =
            Cli::try_parse_from(std::iter::once("easel".to_string()).chain(w[2..].iter().cloned()))
                .unwrap_or_else(|e| panic!("{line}: {e}"));
        let a = cli.args;
        assert_eq!(a.prompt, job.request.prompt);
        assert_eq!(a.negative.as_deref(), Some("blur"));
        assert_eq!(
            (a.backend.as_deref(), a.model.as_deref()),
            (Some("comfyui"), Some("flux"))
        );
        assert_eq!(
            (a.size.as_str(), a.seed, a.steps, a.count),
            ("1664x928", Some(42), Some(30), 2)
        );
        assert_eq!(a.guidance, Some(3.5));
        assert_eq!(a.workflow.as_deref(), Some("txt2img"));
        assert_eq!(parse_params(&a.param).expect("params"), job.request.params);
        assert_eq!(
            (a.out.as_deref(), a.filename.as_deref()),
            (Some("cats/2026"), Some("cat"))
        );
        assert_eq!(a.format, OutputFormat::Png);
    }

    #[test]
    fn values_that_look_like_flags_stay_values() {
        let job: crate::jobs::Job = serde_json::from_value(serde_json::json!({
            "id": "j2", "backend": "modelscope",
            "request": {"prompt": "--count=9 --help", "negative_prompt": "-blurry",
                        "size": {"width": 64, "height": 64}, "seed": 1, "count": 1},
            "output": {"dir": "-out", "stem": null, "format": "original"},
            "status": "succeeded", "progress": {"fraction": 1.0, "message": "done"},
            "ticket": null, "images": [], "failures": [], "error": null,
            "idempotency_key": null, "created_at_ms": 1, "updated_at_ms": 1, "finished_at_ms": 2
        }))
        .expect("job");
        let line = equivalent_command(&job);
        let w = words(&line);
        let cli =
            Cli::try_parse_from(std::iter::once("easel".to_string()).chain(w[2..].iter().cloned()))
                .unwrap_or_else(|e| panic!("{line}: {e}"));
        let a = cli.args;
        assert_eq!(a.prompt, "--count=9 --help", "{line}");
        assert_eq!(a.count, 1, "{line}");
        assert_eq!(a.negative.as_deref(), Some("-blurry"), "{line}");
        assert_eq!(a.out.as_deref(), Some("-out"), "{line}");
    }

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("plain-word_1.png"), "plain-word_1.png");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        assert_eq!(shell_quote("$HOME"), "'$HOME'");
    }
}

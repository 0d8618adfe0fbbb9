//! `easel-bench`: measures a release `easel serve` the way MCP clients use it, against the
//! in-repo simulators, and prints one JSON line per figure plus a Markdown table.
//!
//! ```sh
//! cargo build --locked --profile dist -p easel && cargo run --release -p easel-bench [-- --quick]
//! ```
//!
//! Everything runs on loopback: the simulators live in this process, easel is a child
//! process spoken to over stdio by rmcp's client. Every loop is bounded and every call has
//! a time limit, so the program always ends by itself. See `docs/PERFORMANCE.md`.

mod comfy_watch;
mod gallery;
mod http;
mod pgdb;
mod procfs;
mod replicas;
mod report;
mod sections;
mod server;
mod store_ops;
mod surface;
mod tasks;
mod wakeup;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::bail;

use report::Figure;

/// Command-line options.
#[derive(Clone, Debug, Default)]
pub struct Opts {
    /// Fewer repetitions: a smoke run of every section in well under a minute.
    pub quick: bool,
    /// The easel binary (default: `easel` beside this program).
    pub easel: Option<PathBuf>,
    /// Only these sections (default: all).
    pub only: Option<Vec<String>>,
    /// Extra environment for every easel launch (`--env K=V`), for experiments such as
    /// attributing start-up time; the published figures use none.
    pub env: Vec<(String, String)>,
    /// A PostgreSQL cluster to make fresh databases on (`--database-url`, else
    /// `EASEL_BENCH_DATABASE_URL`); without one the PostgreSQL figures are skipped.
    pub database_url: Option<String>,
}

const SECTIONS: [&str; 12] = [
    "surface",
    "cold",
    "modelscope",
    "comfyui",
    "concurrency",
    "cpu",
    "comfy_pool",
    "tasks",
    "gallery",
    "store_ops",
    "wakeup",
    "replicas",
];

const USAGE: &str =
    "usage: easel-bench [--quick] [--easel PATH] [--only SECTION[,SECTION…]] [--env K=V]…
                   [--database-url URL]

Measures easel as installed (build it first: cargo build --locked --profile dist -p easel;
without that build, the release easel beside this program) against the
in-repo ModelScope and ComfyUI simulators. Sections: surface (tools/list bytes and
approximate tokens), cold, modelscope, comfyui, concurrency, cpu, comfy_pool (30 jobs of 1 s
on 1, 2 and 3 ComfyUI servers), tasks (tasks/get over a store of 10,000 jobs), gallery (the
gallery's index, page weight, cached thumbnails and event lag over 10,000 jobs), store_ops
(job store operations per second, SQLite and PostgreSQL), wakeup (cross-replica wake-up
latency of get_job, PostgreSQL and shared SQLite), replicas (256 jobs of 1 s through 2
`serve --http --stateless` replicas against 1). Prints one JSON line per figure, then a
Markdown table. --env adds an environment variable to every easel launch (for experiments;
the published figures use none). --database-url (else EASEL_BENCH_DATABASE_URL) names a
PostgreSQL cluster whose user may create databases (a throwaway one: each measurement
creates a fresh database there and drops it afterwards); without it the PostgreSQL figures
are skipped.";

fn parse_args(args: impl Iterator<Item = String>) -> anyhow::Result<Option<Opts>> {
    let mut opts = Opts::default();
    let mut args = args.peekable();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => opts.quick = true,
            "--easel" => match args.next() {
                Some(p) => opts.easel = Some(PathBuf::from(p)),
                None => bail!("--easel needs a path\n\n{USAGE}"),
            },
            "--only" => {
                let Some(list) = args.next() else {
                    bail!("--only needs a list of sections\n\n{USAGE}");
                };
                let names: Vec<String> = list.split(',').map(|s| s.trim().to_owned()).collect();
                if let Some(bad) = names.iter().find(|n| !SECTIONS.contains(&n.as_str())) {
                    bail!(
                        "unknown section {bad:?}; sections are {}",
                        SECTIONS.join(", ")
                    );
                }
                opts.only = Some(names);
            }
            "--env" => match args.next().as_deref().and_then(|kv| kv.split_once('=')) {
                Some((k, v)) if !k.is_empty() => opts.env.push((k.to_owned(), v.to_owned())),
                _ => bail!("--env needs NAME=VALUE\n\n{USAGE}"),
            },
            "--database-url" => match args.next() {
                Some(url) => opts.database_url = Some(url),
                None => bail!("--database-url needs a URL\n\n{USAGE}"),
            },
            // `cargo bench` passes this to every bench target; harmless here.
            "--bench" => {}
            "-h" | "--help" => return Ok(None),
            other => bail!("unknown argument {other:?}\n\n{USAGE}"),
        }
    }
    if opts.database_url.is_none() {
        opts.database_url = std::env::var(pgdb::ENV).ok().filter(|u| !u.is_empty());
    }
    Ok(Some(opts))
}

impl Opts {
    pub fn wants(&self, section: &str) -> bool {
        self.only
            .as_ref()
            .is_none_or(|only| only.iter().any(|s| s == section))
    }
}

fn main() -> ExitCode {
    let opts = match parse_args(std::env::args().skip(1)) {
        Ok(Some(opts)) => opts,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(opts)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(opts: Opts) -> anyhow::Result<()> {
    let easel = server::locate_easel(opts.easel.clone())?;
    let machine = sections::machine();
    server::set_extra_env(opts.env.clone());
    println!(
        "{}",
        serde_json::json!({"machine": machine, "easel": easel.display().to_string(), "quick": opts.quick, "extra_env": opts.env,
            "database": opts.database_url.as_deref().map(easel::jobs::shown_database_url)})
    );
    let started = std::time::Instant::now();
    let mut figures: Vec<Figure> = Vec::new();
    let mut emit = |f: Figure| {
        println!("{}", f.json());
        figures.push(f);
    };
    if opts.wants("surface") {
        surface::surface(&easel, &opts, &mut emit).await?;
    }
    if opts.wants("cold") {
        sections::cold_start(&easel, &opts, &mut emit).await?;
    }
    if opts.wants("modelscope") {
        sections::modelscope(&easel, &opts, &mut emit).await?;
    }
    if opts.wants("comfyui") {
        sections::comfyui(&easel, &opts, &mut emit).await?;
    }
    if opts.wants("concurrency") {
        sections::concurrency(&easel, &opts, &mut emit).await?;
    }
    if opts.wants("cpu") {
        sections::cpu(&easel, &opts, &mut emit).await?;
    }
    if opts.wants("comfy_pool") {
        sections::comfy_pool(&easel, &opts, &mut emit).await?;
    }
    if opts.wants("tasks") {
        tasks::tasks(&easel, &opts, &mut emit).await?;
    }
    if opts.wants("gallery") {
        gallery::gallery(&easel, &opts, &mut emit).await?;
    }
    if opts.wants("store_ops") {
        store_ops::store_ops(&opts, &mut emit).await?;
    }
    if opts.wants("wakeup") {
        wakeup::wakeup(&easel, &opts, &mut emit).await?;
    }
    if opts.wants("replicas") {
        replicas::replicas(&easel, &opts, &mut emit).await?;
    }
    println!();
    println!(
        "Machine: {} ({} cores, {} RAM). Run took {:.0} s{}.",
        machine["cpu"].as_str().unwrap_or("?"),
        machine["nproc"],
        machine["memory"].as_str().unwrap_or("?"),
        started.elapsed().as_secs_f64(),
        if opts.quick { ", --quick" } else { "" }
    );
    println!();
    print!("{}", report::table(&figures));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> anyhow::Result<Option<Opts>> {
        parse_args(args.iter().map(|s| (*s).to_owned()))
    }

    #[test]
    fn arguments() {
        let o = parse(&["--quick", "--only", "cold,cpu"])
            .expect("ok")
            .expect("opts");
        assert!(o.quick);
        assert!(o.wants("cold") && o.wants("cpu") && !o.wants("comfyui"));
        assert!(parse(&[]).expect("ok").expect("opts").wants("comfyui"));
        assert!(parse(&["--only", "nope"]).is_err());
        assert!(parse(&["--frobnicate"]).is_err());
        assert!(parse(&["--help"]).expect("ok").is_none());
        let o = parse(&["--easel", "/x/easel", "--env", "A=b=c"])
            .expect("ok")
            .expect("opts");
        assert_eq!(o.easel, Some(PathBuf::from("/x/easel")));
        assert_eq!(o.env, vec![("A".to_owned(), "b=c".to_owned())]);
        assert!(parse(&["--env", "novalue"]).is_err());
        let o = parse(&["--database-url", "postgres://p@h/db", "--only", "wakeup"])
            .expect("ok")
            .expect("opts");
        assert_eq!(o.database_url.as_deref(), Some("postgres://p@h/db"));
        assert!(o.wants("wakeup") && !o.wants("store_ops"));
        assert!(parse(&["--database-url"]).is_err());
    }
}

//! The command line: `easel serve`, `easel gallery`, `easel generate`, `easel config`,
//! `easel demo`, `easel store migrate`.

mod batch;
mod config_cmd;
mod demo;
mod doctor;
mod gallery_cmd;
mod generate;
mod jobs;
mod progress;
mod publish;
mod serve_cmd;
mod store_cmd;
mod tools_cmd;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub use generate::{equivalent_command, shell_quote};

use crate::config::Config;

#[derive(Debug, Parser)]
#[command(
    name = "easel",
    version,
    about = "Make images from MCP clients and the command line (ModelScope, ComfyUI, OpenAI-compatible)."
)]
pub struct Cli {
    /// Configuration file (default: the platform config dir, e.g. ~/.config/easel/easel.toml).
    #[arg(long, global = true, env = "EASEL_CONFIG", value_name = "PATH")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve MCP to one client over stdio (what MCP clients launch), or over HTTP with --http.
    Serve(serve_cmd::Args),
    /// Open the gallery of every job in the browser (loopback only, on this machine's store).
    Gallery(gallery_cmd::Args),
    /// Generate images and print where they were saved.
    Generate(Box<generate::Args>),
    /// Generate from a prompt file, one job per line, and print every saved path.
    Batch(batch::Args),
    /// Inspect, wait for, cancel and prune jobs.
    #[command(subcommand)]
    Jobs(jobs::Command),
    /// Manage the job store: copy a SQLite store into PostgreSQL (migrate).
    #[command(subcommand)]
    Store(store_cmd::Command),
    /// Check every backend: reachable, credentials, ComfyUI version, queue, workflows' nodes and models.
    Doctor,
    /// List ComfyUI workflows and their parameters.
    Workflows,
    /// Print the effective configuration, where each value came from, secrets redacted.
    Config,
    /// Run a real generate_image through the MCP server against a local ModelScope simulator (offline).
    Demo(demo::Args),
    /// Publish saved images as a note (Xiaohongshu, webhook or draft folder).
    Publish(Box<publish::Args>),
    /// Check each publisher: reachable, logged in (--login fetches a QR code to scan).
    Publishers(publish::StatusArgs),
    /// List the MCP tools as clients see them; --markdown prints the whole reference.
    Tools(tools_cmd::Args),
}

/// Parses the command line, runs the command, and turns errors into a message and exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let level = match cli.command {
        Command::Serve(_) => "easel=info",
        _ => "easel=warn",
    };
    crate::logging::init(level);
    crate::logging::install_tls_provider();
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
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    // The tool definitions need no configuration: a broken file must not hide them.
    if let Command::Tools(args) = &cli.command {
        return Ok(tools_cmd::run(args));
    }
    let config = Config::load(cli.config.as_deref())?;
    match cli.command {
        Command::Serve(args) => serve_cmd::run(&config, args).await,
        Command::Gallery(args) => gallery_cmd::run(&config, args).await,
        Command::Generate(args) => generate::run(&config, *args).await,
        Command::Jobs(command) => jobs::run(&config, command).await,
        Command::Store(command) => store_cmd::run(&config, command).await,
        Command::Batch(args) => batch::run(&config, args).await,
        Command::Doctor => doctor::doctor(&config).await,
        Command::Workflows => doctor::workflows(&config),
        Command::Config => {
            config_cmd::print(&config);
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo(args) => demo::run(config, args).await,
        Command::Publish(args) => publish::publish(&config, *args).await,
        Command::Publishers(args) => publish::status(&config, args).await,
        Command::Tools(args) => Ok(tools_cmd::run(&args)),
    }
}

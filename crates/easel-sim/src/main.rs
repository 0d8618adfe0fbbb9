//! `easel-sim`: runs a simulator as its own process, for benchmarks and manual testing.
//!
//! ```text
//! easel-sim modelscope [--addr 127.0.0.1:0] [--latency-ms N] [--in-progress-polls N] [--failure-rate F]
//! easel-sim comfyui [--addr 127.0.0.1:0] [--step-latency-ms N] [--node-latency-ms N] [--no-previews] …
//! easel-sim openai [--addr 127.0.0.1:0] [--latency-ms N] [--mode openai|siliconflow|relay]
//! easel-sim xhs [--addr 127.0.0.1:0] [--token T] [--logged-out]
//! ```
//!
//! Prints exactly one line, `<service> <base_url>` (`modelscope`, `comfyui`, `openai` or
//! `xhs`), once the server is listening, then serves until interrupted (ctrl-c or
//! SIGTERM). A parent process reads that line to learn the port.

use std::io::Write as _;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand, ValueEnum};
use easel_sim::{
    ComfyConfig, ComfySim, ModelScopeConfig, ModelScopeSim, OpenAiConfig, OpenAiSim, ProviderMode,
    XhsConfig, XhsSim,
};

#[derive(Parser, Debug)]
#[command(
    name = "easel-sim",
    version,
    about = "Simulators of the services easel talks to"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve the ModelScope image-generation API.
    Modelscope(ModelScopeArgs),
    /// Serve a local ComfyUI server's HTTP and WebSocket API.
    Comfyui(ComfyArgs),
    /// Serve OpenAI's image API (or SiliconFlow's, or a relay's).
    Openai(OpenAiArgs),
    /// Serve xiaohongshu-mcp's REST API.
    Xhs(XhsArgs),
}

#[derive(Args, Debug)]
struct OpenAiArgs {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:0")]
    addr: SocketAddr,
    /// Milliseconds before answering a generation or edit.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Which provider to imitate.
    #[arg(long, value_enum, default_value_t = Mode::Openai)]
    mode: Mode,
}

/// `--mode` values.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum Mode {
    Openai,
    Siliconflow,
    Relay,
}

#[derive(Args, Debug)]
struct XhsArgs {
    /// Address to listen on; port 0 picks a free port (the real service uses 18060).
    #[arg(long, default_value = "127.0.0.1:0")]
    addr: SocketAddr,
    /// Bearer token required on /api/v1/* (like `-token`).
    #[arg(long)]
    token: Option<String>,
    /// Start logged out (a QR login is needed).
    #[arg(long)]
    logged_out: bool,
}

#[derive(Args, Debug)]
struct ComfyArgs {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:0")]
    addr: SocketAddr,
    /// Milliseconds per sampler step.
    #[arg(long, default_value_t = 0)]
    step_latency_ms: u64,
    /// Milliseconds per executed node.
    #[arg(long, default_value_t = 0)]
    node_latency_ms: u64,
    /// Send no JPEG latent previews after sampler progress events.
    #[arg(long)]
    no_previews: bool,
    /// Checkpoint file names offered by CheckpointLoaderSimple (repeat the flag); the
    /// default list when absent.
    #[arg(long = "checkpoint")]
    checkpoints: Vec<String>,
    /// Node id that fails with an execution error whenever it runs.
    #[arg(long)]
    fail_node: Option<String>,
    /// Answer WebSocket upgrades with 503, so clients must poll /history.
    #[arg(long)]
    refuse_ws: bool,
    /// Accept cross-origin browser requests (like `--enable-cors-header`).
    #[arg(long)]
    no_origin_guard: bool,
}

#[derive(Args, Debug)]
struct ModelScopeArgs {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:0")]
    addr: SocketAddr,
    /// Milliseconds a task stays in progress after its submit.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// In-progress poll answers before a task's terminal one.
    #[arg(long, default_value_t = 2)]
    in_progress_polls: u32,
    /// Fraction of tasks that end FAILED (0.0 to 1.0).
    #[arg(long, default_value_t = 0.0, value_parser = fraction)]
    failure_rate: f64,
    /// Accepted submits per token before 429.
    #[arg(long, default_value_t = 2000)]
    daily_limit_per_token: u32,
    /// Accepted submits per token and model before 429.
    #[arg(long, default_value_t = 500)]
    daily_limit_per_model: u32,
}

fn fraction(text: &str) -> Result<f64, String> {
    let value: f64 = text.parse().map_err(|e| format!("{e}"))?;
    if (0.0..=1.0).contains(&value) {
        Ok(value)
    } else {
        Err(format!("{value} is not between 0.0 and 1.0"))
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Modelscope(args) => modelscope(args).await,
        Command::Comfyui(args) => comfyui(args).await,
        Command::Openai(args) => openai(args).await,
        Command::Xhs(args) => xhs(args).await,
    }
}

async fn openai(args: OpenAiArgs) -> anyhow::Result<()> {
    let config = OpenAiConfig {
        mode: match args.mode {
            Mode::Openai => ProviderMode::OpenAi,
            Mode::Siliconflow => ProviderMode::SiliconFlow,
            Mode::Relay => ProviderMode::Relay,
        },
        latency: Duration::from_millis(args.latency_ms),
        ..OpenAiConfig::default()
    };
    let sim = OpenAiSim::start_on(args.addr, config).await?;
    announce("openai", &sim.base_url())?;
    interrupted().await?;
    sim.shutdown();
    Ok(())
}

async fn xhs(args: XhsArgs) -> anyhow::Result<()> {
    let config = XhsConfig {
        token: args.token,
        logged_in: !args.logged_out,
        ..XhsConfig::default()
    };
    let sim = XhsSim::start_on(args.addr, config).await?;
    announce("xhs", &sim.base_url())?;
    interrupted().await?;
    sim.shutdown();
    Ok(())
}

async fn comfyui(args: ComfyArgs) -> anyhow::Result<()> {
    let defaults = ComfyConfig::default();
    let config = ComfyConfig {
        step_latency: Duration::from_millis(args.step_latency_ms),
        node_latency: Duration::from_millis(args.node_latency_ms),
        previews: !args.no_previews,
        checkpoints: if args.checkpoints.is_empty() {
            defaults.checkpoints.clone()
        } else {
            args.checkpoints
        },
        fail_node: args.fail_node,
        refuse_ws: args.refuse_ws,
        origin_guard: !args.no_origin_guard,
        ..defaults
    };
    let sim = ComfySim::start_on(args.addr, config).await?;
    announce("comfyui", &sim.base_url())?;
    interrupted().await?;
    sim.shutdown();
    Ok(())
}

/// Prints the one line a parent process waits for.
fn announce(service: &str, base_url: &str) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{service} {base_url}").context("writing the base URL")?;
    stdout.flush().context("flushing stdout")
}

async fn modelscope(args: ModelScopeArgs) -> anyhow::Result<()> {
    let config = ModelScopeConfig {
        latency: Duration::from_millis(args.latency_ms),
        in_progress_polls: args.in_progress_polls,
        failure_rate: args.failure_rate,
        daily_limit_per_token: args.daily_limit_per_token,
        daily_limit_per_model: args.daily_limit_per_model,
        // Nobody can read the log of a separate process; keep memory flat.
        record_requests: false,
        ..ModelScopeConfig::default()
    };
    let sim = ModelScopeSim::start_on(args.addr, config).await?;
    announce("modelscope", &sim.base_url())?;
    interrupted().await?;
    sim.shutdown();
    Ok(())
}

/// Resolves on ctrl-c, or on SIGTERM where there is one.
async fn interrupted() -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).context("listening for SIGTERM")?;
        tokio::select! {
            result = tokio::signal::ctrl_c() => result.context("listening for ctrl-c"),
            _ = term.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c()
            .await
            .context("listening for ctrl-c")
    }
}

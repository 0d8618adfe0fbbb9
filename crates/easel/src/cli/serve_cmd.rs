//! `easel serve`: MCP over stdio (the default, what MCP clients launch) or over HTTP.

use std::net::SocketAddr;
use std::process::ExitCode;

use crate::app::Storage;
use crate::config::Config;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Serve over HTTP instead of stdio: Streamable HTTP at /mcp, legacy SSE at /sse, health
    /// at /healthz, the gallery at /. ADDR defaults to http.bind (127.0.0.1:8765); any non-loopback address
    /// needs EASEL_HTTP_TOKEN.
    #[arg(long, value_name = "ADDR", num_args = 0..=1)]
    http: Option<Option<SocketAddr>>,
    /// With --http: no sessions; each request stands alone and simple answers are plain JSON.
    #[arg(long, requires = "http")]
    stateless: bool,
}

pub async fn run(config: &Config, args: Args) -> anyhow::Result<ExitCode> {
    let Some(bind) = args.http else {
        let app = crate::app::build(config, Storage::Durable)?;
        app.jobs.start_background(true);
        crate::serve::stdio(app.server(config)).await?;
        return Ok(ExitCode::SUCCESS);
    };
    let mut settings = config.http.clone();
    if let Some(bind) = bind {
        settings.bind = bind;
    }
    settings.stateless |= args.stateless;
    // Refuse an exposed, tokenless bind before opening the job store or resuming jobs.
    crate::serve::http::check_exposure(&settings, config)?;
    let app = crate::app::build(config, Storage::Durable)?;
    app.jobs.start_background(true);
    let server = app.server(config);
    let gallery = crate::gallery::GalleryOptions::from_config(
        config,
        app.publishers.clone(),
        super::generate::equivalent_command,
    );
    crate::serve::http::run(config, settings, server, app.jobs, gallery).await?;
    Ok(ExitCode::SUCCESS)
}

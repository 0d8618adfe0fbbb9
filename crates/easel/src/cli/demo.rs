//! `easel demo`: the whole flow, offline. A local ModelScope simulator stands in for the real
//! service; everything else (MCP server, client, jobs, downloads, files) is the real thing.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use easel_sim::{ModelScopeConfig, ModelScopeSim};
use rmcp::model::{
    CallToolRequestParams, ClientRequest, NumberOrString, ProgressNotificationParam, ProgressToken,
    RequestMetaObject, ServerResult,
};
use rmcp::service::{NotificationContext, RoleClient};
use rmcp::{ClientHandler, ServiceExt};
use secrecy::SecretString;
use serde_json::json;

use crate::config::Config;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Output root for the demo's images (default: the configured output root).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Prompt to draw.
    #[arg(long, default_value = "a lighthouse on a cliff at dawn, watercolor")]
    prompt: String,
    /// Images to make.
    #[arg(long, default_value_t = 2)]
    count: u32,
}

/// Prints progress notifications as they arrive, like an MCP client would show them.
struct ShowProgress;

impl ClientHandler for ShowProgress {
    async fn on_progress(&self, p: ProgressNotificationParam, _: NotificationContext<RoleClient>) {
        println!(
            "  progress {:>5.1}% {}",
            p.progress,
            p.message.unwrap_or_default()
        );
    }
}

pub async fn run(mut config: Config, args: Args) -> anyhow::Result<ExitCode> {
    println!("easel demo: this is a SIMULATION. A ModelScope simulator runs on this machine;");
    println!(
        "no request leaves it and no real model runs. The MCP server, jobs, downloads and files are real.\n"
    );
    let sim = ModelScopeSim::start(ModelScopeConfig {
        latency: Duration::from_millis(1500),
        ..ModelScopeConfig::default()
    })
    .await?;
    println!("ModelScope simulator listening at {}", sim.base_url());

    config.modelscope.base_url = sim.base_url();
    config.modelscope.token = Some(SecretString::from("ms-demo-token"));
    config.default_backend = "modelscope".into();
    if let Some(out) = args.out {
        config.output_dir = out;
    }
    let app = crate::app::build(&config, crate::app::Storage::Ephemeral)?;
    let root = app.jobs.outputs().path().to_path_buf();
    let server = app.server(&config);

    let (server_io, client_io) = tokio::io::duplex(1 << 16);
    tokio::spawn(async move {
        match server.serve(server_io).await {
            Ok(running) => {
                let _ = running.waiting().await;
            }
            Err(e) => tracing::error!(error = %e, "demo server failed to start"),
        }
    });
    let client = ShowProgress.serve(client_io).await?;
    let tools: Vec<String> = client
        .list_all_tools()
        .await?
        .into_iter()
        .map(|t| t.name.to_string())
        .collect();
    println!("MCP server offers tools: {}\n", tools.join(", "));

    let args_json = json!({
        "prompt": args.prompt,
        "count": args.count,
        "size": "1024x1024",
        "output_dir": "easel-demo",
    });
    println!("calling generate_image {args_json}");
    let mut params = CallToolRequestParams::new("generate_image");
    params.arguments = args_json.as_object().cloned();
    params.meta = Some(RequestMetaObject::with_progress_token(ProgressToken(
        NumberOrString::String("demo".into()),
    )));
    let response = client
        .send_request(ClientRequest::CallToolRequest(rmcp::model::Request::new(
            params,
        )))
        .await?;
    let ServerResult::CallToolResult(result) = response else {
        anyhow::bail!("unexpected answer to tools/call: {response:?}");
    };
    println!();
    for block in &result.content {
        if let Some(text) = block.as_text() {
            println!("{}", text.text);
        }
    }
    let images = result
        .content
        .iter()
        .filter(|b| b.as_image().is_some())
        .count();
    let links = result
        .content
        .iter()
        .filter(|b| b.as_resource_link().is_some())
        .count();
    println!(
        "\n(result: {images} inline thumbnail(s), {links} resource link(s), structured content included)"
    );
    println!("output root: {}", root.display());
    let _ = client.cancel().await;
    sim.shutdown();
    if result.is_error == Some(true) {
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

//! `easel demo`: the whole flow, offline. A local ModelScope simulator stands in for the real
//! service; everything else (MCP server, client, jobs, downloads, files) is the real thing.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use easel_sim::{ModelScopeConfig, ModelScopeSim, XhsConfig, XhsSim};
use rmcp::model::{
    CallToolRequestParams, ClientCapabilities, ClientConfig, ClientRequest, ElicitRequestParams,
    ElicitResult, ElicitationAction, Implementation, NumberOrString, ProgressNotificationParam,
    ProgressToken, RequestMetaObject, ServerResult,
};
use rmcp::service::{NotificationContext, RequestContext, RoleClient};
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
    /// Also run the prototype's whole scenario: a prompt file through generate_batch, then a
    /// Xiaohongshu note published to a simulated xiaohongshu-mcp.
    #[arg(long)]
    scenario: bool,
}

/// Prints progress notifications as they arrive, like an MCP client would show them, and
/// shows easel's confirmation forms (publishing, large paid generations) the way a client
/// with elicitation does. The person who ran `easel demo` asked for the whole flow, so the
/// demo answers yes for them, saying so.
struct ShowProgress;

impl ClientHandler for ShowProgress {
    fn get_info(&self) -> ClientConfig {
        ClientConfig::new(
            ClientCapabilities::builder().enable_elicitation().build(),
            Implementation::new("easel-demo", env!("CARGO_PKG_VERSION")),
        )
    }

    async fn create_elicitation(
        &self,
        request: ElicitRequestParams,
        _: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, rmcp::ErrorData> {
        // easel only asks yes/no forms; anything else is not the demo's to accept.
        let ElicitRequestParams::FormElicitationParams { message, .. } = request else {
            return Ok(ElicitResult::new(ElicitationAction::Decline));
        };
        println!(
            "\n  easel asks the user:\n    {}",
            message.replace('\n', "\n    ")
        );
        println!("  (demo: answering yes)");
        let mut yes = ElicitResult::new(ElicitationAction::Accept);
        yes.content = Some(json!({"confirm": true}));
        Ok(yes)
    }

    async fn on_progress(&self, p: ProgressNotificationParam, _: NotificationContext<RoleClient>) {
        let at = match p.total {
            Some(total) if total != 100.0 => format!("{:>3.0}/{total}", p.progress.floor()),
            _ => format!("{:>5.1}%", p.progress),
        };
        println!("  progress {at} {}", p.message.unwrap_or_default());
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
    let xhs = if args.scenario {
        let xhs = XhsSim::start(XhsConfig {
            logged_in: false,
            ..XhsConfig::default()
        })
        .await?;
        println!(
            "xiaohongshu-mcp simulator listening at {} (logged out)",
            xhs.base_url()
        );
        config
            .publishing
            .publishers
            .push(crate::config::PublisherSettings {
                name: "xiaohongshu".into(),
                target: crate::config::PublisherTarget::Xiaohongshu {
                    url: xhs.base_url(),
                    token_env: None,
                    token: None,
                    timeout: Duration::from_secs(60),
                    status_timeout: Duration::from_secs(30),
                },
            });
        config.publishing.default_publisher = Some("xiaohongshu".into());
        Some(xhs)
    } else {
        None
    };
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
    if let Some(xhs) = &xhs {
        scenario(&client, &root, xhs).await?;
    }
    let _ = client.cancel().await;
    sim.shutdown();
    if result.is_error == Some(true) {
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// Calls a tool with a progress token and prints its text.
async fn show(
    client: &rmcp::service::RunningService<RoleClient, ShowProgress>,
    tool: &str,
    args: serde_json::Value,
) -> anyhow::Result<rmcp::model::CallToolResult> {
    println!("\ncalling {tool} {args}");
    let mut params = CallToolRequestParams::new(tool.to_string());
    params.arguments = args.as_object().cloned();
    params.meta = Some(RequestMetaObject::with_progress_token(ProgressToken(
        NumberOrString::String(format!("demo-{tool}").into()),
    )));
    let response = client
        .send_request(ClientRequest::CallToolRequest(rmcp::model::Request::new(
            params,
        )))
        .await?;
    let ServerResult::CallToolResult(result) = response else {
        anyhow::bail!("unexpected answer to tools/call: {response:?}");
    };
    for block in &result.content {
        if let Some(text) = block.as_text() {
            println!("{}", text.text);
        }
    }
    Ok(result)
}

/// The prototype's story: prompts from a file → images → a published note.
async fn scenario(
    client: &rmcp::service::RunningService<RoleClient, ShowProgress>,
    root: &std::path::Path,
    xhs: &XhsSim,
) -> anyhow::Result<()> {
    println!("\n=== scenario: prompt file -> images -> Xiaohongshu note (all simulated) ===");
    let file = root.join("easel-demo").join("prompts.txt");
    std::fs::create_dir_all(file.parent().unwrap_or(root))?;
    std::fs::write(
        &file,
        "# one prompt a line\na cup of coffee on a wooden table, morning light\na cozy cafe interior, watercolor\nlatte art close-up\n",
    )?;
    println!("wrote {}", file.display());
    let batch = show(
        client,
        "generate_batch",
        json!({"file": "easel-demo/prompts.txt", "batch_key": "demo-cafe", "defaults": {"size": "768x768", "output_dir": "easel-demo/cafe"}, "wait_seconds": 60}),
    )
    .await?;
    let files: Vec<String> = batch
        .structured_content
        .as_ref()
        .and_then(|s| s.get("lines"))
        .and_then(|l| l.as_array())
        .into_iter()
        .flatten()
        .flat_map(|l| {
            l.get("files")
                .and_then(|f| f.as_array())
                .cloned()
                .unwrap_or_default()
        })
        .filter_map(|f| f.as_str().map(str::to_string))
        .collect();
    show(client, "publisher_status", json!({})).await?;
    println!("(simulating the QR scan in the phone app)");
    xhs.scan();
    show(client, "publisher_status", json!({})).await?;
    show(
        client,
        "publish_note",
        json!({"title": "秋天的第一杯咖啡", "content": "今天去了一家新开的咖啡店，拿铁拉花很好看。", "images": files, "tags": ["咖啡", "探店"]}),
    )
    .await?;
    println!(
        "\nthe simulated xiaohongshu-mcp received {} note(s)",
        xhs.published().len()
    );
    Ok(())
}

//! Serving MCP over stdio, the default transport.

use rmcp::ServiceExt;

use crate::service::EaselServer;

/// Serves one client on stdin/stdout until it disconnects.
pub async fn stdio(server: EaselServer) -> anyhow::Result<()> {
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        "easel serving MCP on stdio"
    );
    let running = server.serve(rmcp::transport::stdio()).await?;
    let reason = running.waiting().await?;
    tracing::info!(?reason, "MCP client disconnected");
    Ok(())
}

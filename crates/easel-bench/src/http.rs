//! easel over HTTP: `easel serve --http 127.0.0.1:0 [ARGS…]` as a child process, plain
//! HTTP/1.1 requests from this process (one connection per request, so each time includes a
//! loopback connect: an upper bound of the server's time), and MCP tool calls over
//! sessionless (`--stateless`) Streamable HTTP, which answers each POST with plain JSON.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context as _, bail};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

use crate::server::Sandbox;

/// `easel serve --http 127.0.0.1:0` plus `args`, and the address it announced. The child is
/// killed when dropped.
pub async fn start(
    easel: &Path,
    sandbox: &Sandbox,
    args: &[&str],
    env: &[(&str, String)],
) -> anyhow::Result<(Child, String)> {
    let mut cmd = Command::new(easel);
    cmd.arg("--config")
        .arg(sandbox.config())
        .args(["serve", "--http", "127.0.0.1:0"])
        .args(args)
        .env_clear()
        .envs(sandbox.env(env))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    let mut child = cmd
        .spawn()
        .with_context(|| format!("starting {}", easel.display()))?;
    let stdout = child.stdout.take().context("stdout")?;
    let line = tokio::time::timeout(
        Duration::from_secs(60),
        BufReader::new(stdout).lines().next_line(),
    )
    .await
    .context("easel did not announce its address in time")??
    .context("easel closed stdout")?;
    let addr = line
        .strip_prefix("easel http://")
        .with_context(|| format!("unexpected first line {line:?}"))?
        .to_owned();
    Ok((child, addr))
}

/// One HTTP/1.1 request; the status, the headers (lowercased) and the body.
pub async fn request(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> anyhow::Result<(u16, String, Vec<u8>)> {
    let mut stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() || method == "POST" {
        req.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    req.push_str("\r\n");
    req.push_str(body);
    stream.write_all(req.as_bytes()).await?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await?;
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .context("no end of headers")?;
    let head = String::from_utf8_lossy(&answer[..split]).to_lowercase();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Ok((status, head, answer[split + 4..].to_vec()))
}

/// `tools/call` of `tool` on a `--stateless` easel at `addr` (no session, no `initialize`:
/// each request stands alone, as a load balancer may send it to any replica); the result's
/// `structuredContent`. A tool error or a JSON-RPC error is an error here.
pub async fn call_tool(addr: &str, tool: &str, arguments: Value) -> anyhow::Result<Value> {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {"name": tool, "arguments": arguments}})
    .to_string();
    let (status, head, answer) = request(
        addr,
        "POST",
        "/mcp",
        &[
            ("content-type", "application/json"),
            ("accept", "application/json, text/event-stream"),
            ("mcp-protocol-version", "2025-06-18"),
        ],
        &body,
    )
    .await
    .with_context(|| format!("POST /mcp ({tool}) to {addr}"))?;
    if status != 200 {
        bail!(
            "{tool} on {addr}: HTTP {status}: {}",
            String::from_utf8_lossy(&answer)
        );
    }
    if head.contains("transfer-encoding: chunked") {
        bail!("{tool} on {addr}: a chunked answer; --stateless answers plain JSON");
    }
    let answer: Value = serde_json::from_slice(&answer)
        .with_context(|| format!("{tool} on {addr}: the answer is not JSON"))?;
    let result = &answer["result"];
    if result.is_null() || result["isError"] == json!(true) {
        bail!("{tool} on {addr} failed: {answer}");
    }
    Ok(result["structuredContent"].clone())
}

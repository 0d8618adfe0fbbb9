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

/// One HTTP/1.1 request; the status, the headers (lowercased) and the body (a chunked one
/// decoded).
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
    let body = &answer[split + 4..];
    let body = if head.contains("transfer-encoding: chunked") {
        dechunk(body)?
    } else {
        body.to_vec()
    };
    Ok((status, head, body))
}

/// The payload of a `Transfer-Encoding: chunked` body (sizes in hex, each chunk followed by
/// CRLF, a zero-size chunk last).
fn dechunk(mut body: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(body.len());
    loop {
        let line_end = body
            .windows(2)
            .position(|w| w == b"\r\n")
            .context("a chunk size line without CRLF")?;
        let line = std::str::from_utf8(&body[..line_end]).context("a chunk size")?;
        let hex = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(hex, 16).with_context(|| format!("chunk size {hex:?}"))?;
        body = &body[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        if body.len() < size + 2 {
            bail!("a chunk of {size} bytes is cut short");
        }
        out.extend_from_slice(&body[..size]);
        body = &body[size + 2..];
    }
}

/// `tools/call` of `tool` on a `--stateless` easel at `addr` (no session, no `initialize`:
/// each request stands alone, as a load balancer may send it to any replica); the result's
/// `structuredContent`. A tool error or a JSON-RPC error is an error here.
pub async fn call_tool(addr: &str, tool: &str, arguments: Value) -> anyhow::Result<Value> {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {"name": tool, "arguments": arguments}})
    .to_string();
    let (status, _, answer) = request(
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
    let answer: Value = serde_json::from_slice(&answer)
        .with_context(|| format!("{tool} on {addr}: the answer is not JSON"))?;
    let result = &answer["result"];
    if result.is_null() || result["isError"] == json!(true) {
        bail!("{tool} on {addr} failed: {answer}");
    }
    Ok(result["structuredContent"].clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_bodies_are_decoded() {
        let body = b"5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\n\r\n";
        assert_eq!(dechunk(body).expect("decoded"), b"hello, world");
        assert!(dechunk(b"5\r\nhel").is_err());
        assert!(dechunk(b"zz\r\n").is_err());
    }
}

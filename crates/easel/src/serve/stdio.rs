//! Serving MCP over stdio, the default transport: one JSON-RPC message per line.
//!
//! rmcp's own stdio transport would answer malformed lines wrongly (see
//! [`jsonrpc`](super::jsonrpc)), so lines are read and checked here and rmcp is served
//! over a pair of channels; rmcp's answers and the rejections share one writer, so lines
//! never interleave.

use futures::channel::mpsc;
use futures::{SinkExt, StreamExt};
use rmcp::ServiceExt;
use rmcp::model::{ClientJsonRpcMessage, ServerJsonRpcMessage};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};

use super::jsonrpc::{Checked, check};
use crate::service::EaselServer;

/// Longest line accepted, as rmcp's stdio transport: big enough for base64 input images.
const MAX_LINE: usize = 16 * 1024 * 1024;
/// Messages buffered per direction before the sender waits.
const CHANNEL: usize = 64;

/// Serves one client on stdin/stdout until it disconnects.
pub async fn stdio(server: EaselServer) -> anyhow::Result<()> {
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        "easel serving MCP on stdio"
    );
    let (to_server, from_client) = mpsc::channel::<ClientJsonRpcMessage>(CHANNEL);
    let (to_client, from_server) = mpsc::channel::<ServerJsonRpcMessage>(CHANNEL);
    let (rejections, rejected) = mpsc::channel::<Value>(CHANNEL);
    let writer = tokio::spawn(write_lines(tokio::io::stdout(), from_server, rejected));
    let reader = tokio::spawn(read_lines(tokio::io::stdin(), to_server, rejections));
    let served = match server.serve((to_client, from_client)).await {
        Ok(running) => running.waiting().await.map_err(anyhow::Error::from),
        Err(e) => Err(e.into()),
    };
    // The reader may be blocked on stdin; its senders must go for the writer to finish.
    reader.abort();
    let _ = writer.await;
    let reason = served?;
    tracing::info!(?reason, "MCP client disconnected");
    Ok(())
}

/// Reads lines until EOF, passing well-formed messages to rmcp and error answers to the
/// writer.
async fn read_lines<R: AsyncRead + Unpin>(
    input: R,
    mut to_server: mpsc::Sender<ClientJsonRpcMessage>,
    mut rejections: mpsc::Sender<Value>,
) {
    let mut input = BufReader::new(input);
    let mut line = Vec::new();
    loop {
        line.clear();
        match read_line(&mut input, &mut line).await {
            Ok(Line::Eof) => return,
            Ok(Line::Complete) => {}
            Ok(Line::TooLong) => {
                tracing::error!(
                    max_bytes = MAX_LINE,
                    "discarded an incoming message longer than the line limit"
                );
                continue;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot read stdin; ending the session");
                return;
            }
        }
        let text = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&line);
        if text.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match check(text) {
            Checked::Message(message) => {
                if to_server.send(*message).await.is_err() {
                    return;
                }
            }
            Checked::Rejected(rejection) if rejection.answerable => {
                tracing::debug!(error = %rejection.error.message, "answered a malformed JSON-RPC message");
                if rejections.send(rejection.to_json()).await.is_err() {
                    return;
                }
            }
            Checked::Rejected(rejection) => {
                tracing::warn!(error = %rejection.error.message, "ignored a malformed notification or response");
            }
        }
    }
}

enum Line {
    Complete,
    TooLong,
    Eof,
}

/// One line into `line` (without its end), refusing to buffer more than [`MAX_LINE`].
async fn read_line<R: AsyncRead + Unpin>(
    input: &mut BufReader<R>,
    line: &mut Vec<u8>,
) -> std::io::Result<Line> {
    let limit = u64::try_from(MAX_LINE).unwrap_or(u64::MAX);
    let n = (&mut *input)
        .take(limit + 1)
        .read_until(b'\n', line)
        .await?;
    if n == 0 {
        return Ok(Line::Eof);
    }
    if line.last() == Some(&b'\n') {
        line.pop();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        return Ok(Line::Complete);
    }
    if line.len() <= MAX_LINE {
        // The last line, without a newline before EOF.
        return Ok(Line::Complete);
    }
    // Too long: skip the rest of the line without keeping it.
    let mut rest = Vec::new();
    loop {
        rest.clear();
        let n = (&mut *input)
            .take(64 * 1024)
            .read_until(b'\n', &mut rest)
            .await?;
        if n == 0 || rest.last() == Some(&b'\n') {
            return Ok(Line::TooLong);
        }
    }
}

/// Writes rmcp's messages and the rejections, one line each, until both sources end.
async fn write_lines<W: AsyncWrite + Unpin>(
    mut output: W,
    from_server: mpsc::Receiver<ServerJsonRpcMessage>,
    rejected: mpsc::Receiver<Value>,
) {
    let from_server = from_server.map(|m| serde_json::to_vec(&m));
    let rejected = rejected.map(|v| serde_json::to_vec(&v));
    let mut lines = futures::stream::select(from_server, rejected);
    while let Some(line) = lines.next().await {
        let mut line = match line {
            Ok(line) => line,
            Err(e) => {
                tracing::error!(error = %e, "could not serialize an outgoing message");
                continue;
            }
        };
        line.push(b'\n');
        if output.write_all(&line).await.is_err() || output.flush().await.is_err() {
            tracing::info!("stdout closed; ending the session");
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn lines_are_split_trimmed_and_bounded() {
        let long = vec![b'x'; MAX_LINE + 10];
        let mut input = b"one\r\n\ntwo\n".to_vec();
        input.extend_from_slice(&long);
        input.extend_from_slice(b"\nlast");
        let mut reader = BufReader::new(&input[..]);
        let mut line = Vec::new();
        let mut seen = Vec::new();
        loop {
            line.clear();
            match read_line(&mut reader, &mut line).await.expect("read") {
                Line::Eof => break,
                Line::TooLong => seen.push("<too long>".to_string()),
                Line::Complete => seen.push(String::from_utf8_lossy(&line).into_owned()),
            }
        }
        assert_eq!(seen, ["one", "", "two", "<too long>", "last"]);
    }
}

//! Connections that never send a request cannot starve easel: they are closed after the
//! header timeout, kept-alive ones after the idle timeout, and past the connection cap
//! (fitted below the file limit) they are refused at once, so /healthz answers and a
//! generation still saves its image.

use std::time::Duration;

use easel_sim::{ModelScopeConfig, ModelScopeSim};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::support::*;
use crate::common::{gen_args, test_env};

/// Upper bound for anything below to happen; only reached when the behaviour is broken.
const PATIENCE: Duration = Duration::from_secs(30);

fn addr(base: &str) -> String {
    base.trim_start_matches("http://").to_string()
}

/// Connections that connect and then say nothing.
async fn silent(base: &str, n: usize) -> Vec<TcpStream> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(TcpStream::connect(addr(base)).await.expect("connect"));
    }
    out
}

/// Waits until the server closes `stream` (EOF or reset), returning what it sent first.
async fn closed_by_server(stream: &mut TcpStream) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout(PATIENCE, stream.read(&mut buf))
            .await
            .expect("the server closes the connection in time")
        {
            Ok(0) | Err(_) => return String::from_utf8_lossy(&got).into_owned(),
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
}

/// Sends `GET path` on a kept-alive connection and reads exactly one response: its status.
async fn get_on(stream: &mut TcpStream, path: &str) -> u16 {
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = tokio::time::timeout(PATIENCE, stream.read(&mut buf))
            .await
            .expect("a response in time")
            .expect("read");
        assert!(n > 0, "closed before the response ended");
        got.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&got).into_owned();
        let Some(end) = text.find("\r\n\r\n") else {
            continue;
        };
        let length: usize = text[..end]
            .lines()
            .find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("content-length:")
                    .map(|v| v.trim().parse().expect("length"))
            })
            .expect("content-length");
        if got.len() >= end + 4 + length {
            return text[9..12].parse().expect("status");
        }
    }
}

/// One `GET path` on a fresh connection: the status and body, or `None` when no answer
/// comes within a few seconds (a server that cannot accept).
async fn get_fresh(base: &str, path: &str) -> Option<(u16, String)> {
    let attempt = async {
        let mut stream = TcpStream::connect(addr(base)).await.ok()?;
        let request =
            format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut got = Vec::new();
        let _ = stream.read_to_end(&mut got).await;
        let text = String::from_utf8_lossy(&got).into_owned();
        let status = text.get(9..12)?.parse().ok()?;
        Some((status, text))
    };
    tokio::time::timeout(Duration::from_secs(5), attempt)
        .await
        .ok()
        .flatten()
}

#[tokio::test]
async fn silent_connections_close_after_the_header_timeout_kept_alive_ones_stay() {
    let s = Served::start(
        ModelScopeConfig::default(),
        &[("EASEL_HTTP_HEADER_TIMEOUT_SECS", "1")],
    )
    .await;
    let mut kept = TcpStream::connect(addr(&s.base)).await.expect("connect");
    assert_eq!(get_on(&mut kept, "/healthz").await, 200);

    let mut idle = silent(&s.base, 20).await;
    for stream in &mut idle {
        let said = closed_by_server(stream).await;
        assert!(said.is_empty(), "a silent connection was answered: {said}");
    }
    // Its header clock starts only with the next request: the kept-alive connection has
    // been idle longer than the header timeout and is still served.
    assert_eq!(get_on(&mut kept, "/healthz").await, 200);
    assert_eq!(s.health().await["status"], "ok");
}

#[tokio::test]
async fn a_kept_alive_connection_closes_after_the_idle_timeout() {
    let s = Served::start(
        ModelScopeConfig::default(),
        &[
            ("EASEL_HTTP_IDLE_TIMEOUT_SECS", "1"),
            ("EASEL_HTTP_HEADER_TIMEOUT_SECS", "600"),
        ],
    )
    .await;
    let mut kept = TcpStream::connect(addr(&s.base)).await.expect("connect");
    assert_eq!(get_on(&mut kept, "/healthz").await, 200);
    assert_eq!(closed_by_server(&mut kept).await, "");
}

/// The attack from issue 16: more silent connections than the process has descriptors.
/// With a file limit of 128, easel raises its soft limit to the hard one, caps connections
/// at 64, refuses the rest with 503, answers /healthz, and a generation started while the
/// cap is full saves its image.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_flood_past_the_file_limit_leaves_healthz_and_saving_working() {
    use rustix::process::{Resource, Rlimit, setrlimit};

    let sim = ModelScopeSim::start(ModelScopeConfig::default())
        .await
        .expect("sim");
    let dir = tempfile::tempdir().expect("dir");
    let out = dir.path().join("out");
    // The flood must stay open for the whole test, whatever the machine's speed.
    let env = test_env(
        &sim,
        &out,
        &[
            ("EASEL_HTTP_HEADER_TIMEOUT_SECS", "600"),
            ("EASEL_HTTP_STATELESS", "true"),
        ],
    );
    let mut cmd = spawn_cmd(dir.path(), &env, &["--http", "127.0.0.1:0"]);
    // SAFETY: setrlimit is a single system call, safe between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            setrlimit(
                Resource::Nofile,
                Rlimit {
                    current: Some(64),
                    maximum: Some(128),
                },
            )
            .map_err(std::io::Error::from)
        });
    }
    let easel = Spawned::from_cmd(cmd).await;

    // A client connected before the flood keeps its kept-alive connection (a slot) and
    // sends one request at a time on it. Stateless serving answers each with plain JSON.
    let client = http();
    let mcp = format!("{}/mcp", easel.base);
    let warm = client.get(format!("{}/healthz", easel.base)).send().await;
    assert_eq!(warm.expect("healthz").status(), 200);

    let mut flood = silent(&easel.base, 200).await;
    let (status, answer) = eventually(30, "/healthz to report the cap", || async {
        get_fresh(&easel.base, "/healthz")
            .await
            .filter(|(status, _)| *status == 503)
    })
    .await;
    assert_eq!(status, 503);
    assert!(answer.contains("maximum of 64 connections"), "{answer}");
    assert!(answer.contains("http.max_connections"), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("retry-after: 5"),
        "{answer}"
    );

    // Generating and saving while the cap is full: descriptors were kept for it.
    let done: serde_json::Value = client
        .post(&mcp)
        .header("accept", ACCEPT_BOTH)
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": "generate_image", "arguments": gen_args(json!({"wait_seconds": 60}))}}))
        .send()
        .await
        .expect("tools/call on the kept-alive connection")
        .json()
        .await
        .expect("json");
    let d = &done["result"]["structuredContent"];
    assert_eq!(d["status"], "succeeded", "{done}");
    let path = d["files"][0]["path"].as_str().expect("path");
    assert!(std::path::Path::new(path).exists());

    // Past the cap, connections were answered 503 and closed at once.
    let mut refused = 0;
    for stream in flood.iter_mut().rev().take(100) {
        if closed_now(stream).await {
            refused += 1;
        }
    }
    assert!(refused > 0, "no connection past the cap was refused");

    // Once the flood goes, /healthz is 200 again.
    drop(flood);
    eventually(30, "/healthz to answer 200", || async {
        get_fresh(&easel.base, "/healthz")
            .await
            .filter(|(status, _)| *status == 200)
    })
    .await;

    let (exit, _, stderr) = easel.terminate(10).await;
    assert!(exit.success(), "{stderr}");
    assert!(stderr.contains("max_connections=64"), "{stderr}");
    assert!(stderr.contains("file_limit=128"), "{stderr}");
    assert!(stderr.contains("raised_from=64"), "{stderr}");
}

/// Whether the server has already answered and closed `stream` (without waiting).
async fn closed_now(stream: &mut TcpStream) -> bool {
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        match stream.try_read(&mut buf) {
            Ok(0) => return String::from_utf8_lossy(&got).contains(" 503 "),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                // Data may still be arriving; a refused connection was closed long ago.
                if got.is_empty() {
                    return false;
                }
                stream.readable().await.expect("readable");
            }
            Err(_) => return false,
        }
    }
}

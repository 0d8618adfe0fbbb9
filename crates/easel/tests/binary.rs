//! The real binary: `easel serve` over stdio through rmcp's child-process transport, and
//! `easel demo` end to end.

use std::process::Stdio;

use crate::common::*;
use easel_sim::{ModelScopeConfig, ModelScopeSim};
use rmcp::ServiceExt;
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
use serde_json::json;
use tokio::process::Command;

#[tokio::test]
async fn serve_over_stdio_generates_through_a_spawned_process() {
    let sim = ModelScopeSim::start(ModelScopeConfig::default())
        .await
        .expect("sim");
    let dir = tempfile::tempdir().expect("dir");
    let out = dir.path().join("out");
    let env = test_env(&sim, &out, &[]);
    let cfg = dir.path().join("easel.toml");
    std::fs::write(&cfg, "").expect("cfg");
    let (transport, _stderr) = TokioChildProcess::builder(Command::new(BIN).configure(|c| {
        c.arg("--config").arg(&cfg).arg("serve").env_clear();
        c.envs(&env);
        c.env("EASEL_LOG", "easel=debug");
    }))
    .stderr(Stdio::null())
    .spawn()
    .expect("spawn easel");
    let client = ().serve(transport).await.expect("initialize");
    let info = client.peer_info().expect("server info");
    assert_eq!(
        info.server_info.as_ref().expect("implementation").name,
        "easel"
    );
    let tools: Vec<String> = client
        .list_all_tools()
        .await
        .expect("tools")
        .into_iter()
        .map(|t| t.name.to_string())
        .collect();
    assert!(
        tools.contains(&"generate_image".to_string()) && tools.contains(&"get_job".to_string()),
        "{tools:?}"
    );
    let r = call(&client, "generate_image", gen_args(json!({}))).await;
    assert!(!is_error(&r), "{}", text(&r));
    let path = structured(&r)["files"][0]["path"]
        .as_str()
        .expect("p")
        .to_string();
    assert!(std::path::Path::new(&path).starts_with(out.canonicalize().expect("canon")));
    client.cancel().await.expect("close");
}

#[tokio::test]
async fn demo_runs_offline_and_leaves_real_pngs() {
    let dir = tempfile::tempdir().expect("dir");
    let cfg = dir.path().join("easel.toml");
    std::fs::write(&cfg, "").expect("cfg");
    let out = dir.path().join("pictures");
    let output = Command::new(BIN)
        .args(["--config"])
        .arg(&cfg)
        .args(["demo", "--out"])
        .arg(&out)
        .env_remove("MODELSCOPE_SDK_TOKEN")
        .output()
        .await
        .expect("run demo");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("SIMULATION"), "{stdout}");
    assert!(stdout.contains("progress"), "{stdout}");
    let pngs: Vec<_> = std::fs::read_dir(out.join("easel-demo"))
        .expect("demo dir")
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(pngs.len(), 2, "{pngs:?}");
    for p in pngs {
        let img = image::open(&p).expect("a real image");
        assert_eq!((img.width(), img.height()), (1024, 1024));
        assert!(
            stdout.contains(p.to_str().expect("utf8")),
            "path not printed: {}",
            p.display()
        );
    }
}

#[tokio::test]
async fn demo_scenario_publishes_a_note_offline() {
    let dir = tempfile::tempdir().expect("dir");
    let cfg = dir.path().join("easel.toml");
    std::fs::write(&cfg, "").expect("cfg");
    let output = Command::new(BIN)
        .arg("--config")
        .arg(&cfg)
        .args(["demo", "--scenario", "--count", "1", "--out"])
        .arg(dir.path().join("pictures"))
        .output()
        .await
        .expect("run demo");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("3 of 3 line(s) succeeded"), "{stdout}");
    assert!(
        stdout.contains("QR") && stdout.contains("Published:"),
        "{stdout}"
    );
    assert!(stdout.contains("received 1 note(s)"), "{stdout}");
    // Publishing asks first, as a client with forms shows it.
    assert!(
        stdout.contains("easel asks the user") && stdout.contains("秋天的第一杯咖啡"),
        "{stdout}"
    );
}

#[tokio::test]
async fn config_command_redacts_secrets_and_names_sources() {
    let dir = tempfile::tempdir().expect("dir");
    let cfg = dir.path().join("easel.toml");
    std::fs::write(&cfg, "[modelscope]\npoll_max_ms = 3000\n").expect("cfg");
    let output = Command::new(BIN)
        .arg("--config")
        .arg(&cfg)
        .arg("config")
        .env("MODELSCOPE_SDK_TOKEN", "ms-very-secret")
        .output()
        .await
        .expect("run");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success());
    assert!(!stdout.contains("ms-very-secret"), "{stdout}");
    assert!(stdout.contains("env MODELSCOPE_SDK_TOKEN"), "{stdout}");
    assert!(
        stdout.contains("poll_max_ms") && stdout.contains("file "),
        "{stdout}"
    );

    std::fs::write(&cfg, "[modelscope]\ntokn = \"x\"\n").expect("cfg");
    let bad = Command::new(BIN)
        .arg("--config")
        .arg(&cfg)
        .arg("config")
        .output()
        .await
        .expect("run");
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("tokn"));
}

#[tokio::test]
async fn generate_command_prints_paths_and_fails_clearly() {
    let sim = ModelScopeSim::start(ModelScopeConfig::default())
        .await
        .expect("sim");
    let dir = tempfile::tempdir().expect("dir");
    let out = dir.path().join("out");
    let env = test_env(&sim, &out, &[]);
    let cfg = dir.path().join("easel.toml");
    std::fs::write(&cfg, "").expect("cfg");
    let ok = Command::new(BIN)
        .arg("--config")
        .arg(&cfg)
        .args([
            "generate",
            "a red kite",
            "--size",
            "128x128",
            "--count",
            "2",
        ])
        .env_clear()
        .envs(&env)
        .output()
        .await
        .expect("run");
    let stdout = String::from_utf8_lossy(&ok.stdout);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert!(lines.iter().all(|l| std::path::Path::new(l).exists()));

    let bad = Command::new(BIN)
        .arg("--config")
        .arg(&cfg)
        .args(["generate", "a red kite", "--steps", "500"])
        .env_clear()
        .envs(&env)
        .output()
        .await
        .expect("run");
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("steps: 500 is outside 1..=100"));
}

/// `easel generate` refuses a request naming its own flags, not the MCP parameters they
/// stand for: `--out`, not `output_dir`.
#[tokio::test]
async fn generate_command_names_its_flags_when_refusing() {
    let sim = ModelScopeSim::start(ModelScopeConfig::default())
        .await
        .expect("sim");
    let dir = tempfile::tempdir().expect("dir");
    let env = test_env(&sim, &dir.path().join("out"), &[]);
    let cfg = dir.path().join("easel.toml");
    std::fs::write(&cfg, "").expect("cfg");
    // easel generate, and easel batch's flags (checked before any line runs).
    let prompts = dir.path().join("prompts.txt");
    std::fs::write(&prompts, "a red kite\na blue kite\n").expect("prompts");
    let generate: Vec<String> = vec!["generate".into(), "a red kite".into()];
    let batch: Vec<String> = vec!["batch".into(), prompts.display().to_string()];
    for command in [generate, batch] {
        for (flags, named) in [
            (["--out", "../x"], "--out \"../x\" leaves the output root"),
            (["--size", "big"], "--size: \"big\" is not WIDTHxHEIGHT"),
        ] {
            let bad = Command::new(BIN)
                .arg("--config")
                .arg(&cfg)
                .args(&command)
                .args(flags)
                .env_clear()
                .envs(&env)
                .output()
                .await
                .expect("run");
            let stderr = String::from_utf8_lossy(&bad.stderr);
            assert!(!bad.status.success(), "{command:?} {flags:?}: {stderr}");
            assert!(stderr.contains(named), "{command:?}: {stderr}");
            assert!(!stderr.contains("output_dir"), "{command:?}: {stderr}");
        }
    }
    assert_eq!(
        sim.submissions(),
        0,
        "nothing is sent for a refused request"
    );
}

/// Raw lines on stdio: text that is not JSON gets -32700 with `"id": null`, a request with
/// a readable id and bad params gets -32602 with that id, and the session goes on.
#[tokio::test]
async fn serve_over_stdio_answers_malformed_lines_with_their_id_and_code() {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

    let sim = ModelScopeSim::start(ModelScopeConfig::default())
        .await
        .expect("sim");
    let dir = tempfile::tempdir().expect("dir");
    let env = test_env(&sim, &dir.path().join("out"), &[]);
    let cfg = dir.path().join("easel.toml");
    std::fs::write(&cfg, "").expect("cfg");
    let mut child = Command::new(BIN)
        .arg("--config")
        .arg(&cfg)
        .arg("serve")
        .env_clear()
        .envs(&env)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn easel");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut exchange = async move |line: &str, answered: bool| -> serde_json::Value {
        stdin
            .write_all(format!("{line}\n").as_bytes())
            .await
            .expect("write");
        if !answered {
            return serde_json::Value::Null;
        }
        let answer = tokio::time::timeout(std::time::Duration::from_secs(30), stdout.next_line())
            .await
            .unwrap_or_else(|_| panic!("no answer to {line}"))
            .expect("read")
            .expect("a line");
        serde_json::from_str(&answer).expect("json")
    };

    let v = exchange("this is not json", true).await;
    assert_eq!(v["error"]["code"], -32700, "{v}");
    assert!(
        v.as_object().expect("object").contains_key("id") && v["id"].is_null(),
        "{v}"
    );

    let v = exchange(
        r#"{"jsonrpc":"2.0","id":2,"method":"initialize","params":5}"#,
        true,
    )
    .await;
    assert_eq!(
        (v["id"].clone(), v["error"]["code"].clone()),
        (json!(2), json!(-32602)),
        "{v}"
    );

    let init = json!({"jsonrpc": "2.0", "id": 3, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "raw", "version": "0"}}});
    let v = exchange(&init.to_string(), true).await;
    assert_eq!(v["id"], 3, "{v}");
    assert_eq!(v["result"]["serverInfo"]["name"], "easel", "{v}");
    exchange(
        r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
        false,
    )
    .await;

    let v = exchange(
        r#"{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"arguments":{}}}"#,
        true,
    )
    .await;
    assert_eq!(
        (v["id"].clone(), v["error"]["code"].clone()),
        (json!(4), json!(-32602)),
        "{v}"
    );
    let v = exchange(r#"{"jsonrpc":"2.0","id":5,"method":"tools/list"}"#, true).await;
    assert_eq!(v["id"], 5, "{v}");
    assert!(v["result"]["tools"].is_array(), "{v}");

    drop(exchange);
    let status = tokio::time::timeout(std::time::Duration::from_secs(30), child.wait())
        .await
        .expect("easel exits when stdin closes")
        .expect("wait");
    assert!(status.success(), "{status:?}");
}

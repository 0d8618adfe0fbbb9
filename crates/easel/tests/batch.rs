//! Batches through a real MCP client and the CLI: bad lines never stop good ones, and the
//! same batch key never pays twice.

use tokio::process::Command;

use crate::common::*;
use easel_sim::{ModelScopeConfig, ModelScopeSim};
use serde_json::json;

const FILE: &str = r#"# ten lines: eight good, two bad
{"prompt": "a red kite over dunes", "size": "128x128"}
{"prompt": "a blue kite over the sea"}
"a green kite in a storm"
{"prompt": "a yellow kite at dawn", "seed": 7}
{"prompt": "a kite shaped like a fish"}
{"prompt": "a kite festival", "count": 2}
this line is not json
{"prompt": "a paper kite", "steps": 500}
{"prompt": "a kite in the snow", "filename": "snow-kite"}
{"prompt": "a kite at night"}
"#;

#[tokio::test]
async fn a_prompt_file_with_bad_lines_runs_the_good_ones_and_reruns_pay_nothing() {
    let h = start(ModelScopeConfig::default(), &[]).await;
    std::fs::create_dir_all(h.out()).expect("out");
    std::fs::write(h.out().join("prompts.jsonl"), FILE).expect("file");
    let args = json!({"file": "prompts.jsonl", "defaults": {"size": "64x64", "output_dir": "kites"}, "batch_key": "kites-1", "concurrency": 3, "wait_seconds": 60});
    let r = h.call("generate_batch", args.clone()).await;
    assert!(!is_error(&r), "{}", text(&r));
    let s = structured(&r);
    assert_eq!(
        (
            s["total"].clone(),
            s["succeeded"].clone(),
            s["failed"].clone(),
            s["done"].clone()
        ),
        (json!(10), json!(8), json!(2), json!(true)),
        "{}",
        text(&r)
    );
    let lines = s["lines"].as_array().expect("lines").clone();
    let failed: Vec<_> = lines.iter().filter(|l| l["status"] == "failed").collect();
    assert_eq!(
        failed
            .iter()
            .map(|l| l["line"].as_u64().expect("n"))
            .collect::<Vec<_>>(),
        vec![8, 9]
    );
    assert!(
        failed[0]["error"]
            .as_str()
            .expect("e")
            .contains("not valid JSON"),
        "{:?}",
        failed[0]
    );
    assert!(
        failed[1]["error"].as_str().expect("e").contains("steps"),
        "{:?}",
        failed[1]
    );
    let festival = lines.iter().find(|l| l["line"] == 7).expect("line 7");
    assert_eq!(
        festival["files"].as_array().expect("files").len(),
        2,
        "per-line count"
    );
    assert!(lines.iter().any(|l| {
        l["files"][0]
            .as_str()
            .is_some_and(|f| f.ends_with("kites/snow-kite.png"))
    }));
    let submitted = h.sim.submissions();
    assert_eq!(submitted, 9, "8 lines, one of them with 2 images");
    assert_eq!(h.files().len(), 9 + 1, "images plus the prompt file");
    let seen = h.recorder.seen();
    assert!(
        seen.iter().any(|p| p
            .message
            .as_deref()
            .is_some_and(|m| m.contains("of 10 line(s) finished"))),
        "{seen:?}"
    );

    // The same batch again: nothing new is submitted or written.
    let again = h.call("generate_batch", args).await;
    let s2 = structured(&again);
    assert_eq!(s2["succeeded"], 8);
    assert_eq!(h.sim.submissions(), submitted, "re-run paid again");
    assert!(
        s2["lines"]
            .as_array()
            .expect("l")
            .iter()
            .filter(|l| l["status"] == "succeeded")
            .all(|l| l["reused"] == true)
    );
    assert_eq!(h.files().len(), 10);
}

#[tokio::test]
async fn a_list_of_prompts_and_clear_refusals() {
    let h = start(ModelScopeConfig::default(), &[]).await;
    let r = h.call("generate_batch", json!({"prompts": ["a cat", {"prompt": "a dog", "size": "96x96"}], "defaults": {"size": "64x64"}})).await;
    assert!(!is_error(&r), "{}", text(&r));
    assert_eq!(structured(&r)["succeeded"], 2);
    assert!(
        structured(&r)["batch_key"]
            .as_str()
            .is_some_and(|k| !k.is_empty())
    );
    for (args, field) in [
        (json!({}), "prompts/file"),
        (json!({"prompts": ["a"], "file": "x.txt"}), "prompts/file"),
        (json!({"file": "../outside.txt"}), "file"),
        (json!({"prompts": ["a"], "concurrency": 99}), "concurrency"),
    ] {
        let r = h.call("generate_batch", args.clone()).await;
        assert!(
            is_error(&r) && text(&r).starts_with(field),
            "{args}: {}",
            text(&r)
        );
    }
}

#[tokio::test]
async fn the_batch_command_prints_paths_and_a_summary() {
    let sim = ModelScopeSim::start(ModelScopeConfig::default())
        .await
        .expect("sim");
    let dir = tempfile::tempdir().expect("dir");
    let env = test_env(&sim, &dir.path().join("out"), &[]);
    let cfg = dir.path().join("easel.toml");
    std::fs::write(&cfg, "").expect("cfg");
    let file = dir.path().join("prompts.txt");
    std::fs::write(&file, "# kites\na red kite\n\na blue kite\n").expect("file");
    let run = || {
        Command::new(env!("CARGO_BIN_EXE_easel"))
            .arg("--config")
            .arg(&cfg)
            .args(["batch"])
            .arg(&file)
            .args(["--key", "k1", "--size", "64x64"])
            .env_clear()
            .envs(&env)
            .output()
    };
    let out = run().await.expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    assert_eq!(stdout.lines().count(), 2, "{stdout}");
    assert!(stderr.contains("2 of 2 line(s) succeeded"), "{stderr}");
    let again = run().await.expect("run");
    assert!(again.status.success());
    assert_eq!(sim.submissions(), 2, "the same key submits nothing new");
}

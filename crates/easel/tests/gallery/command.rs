//! `easel gallery`, the real binary: loopback only, prints the page's URL, and serves the
//! gallery on the configured store; a machine without a browser opener is no error.

use std::process::Stdio;
use std::time::Duration;

use easel_sim::{ModelScopeConfig, ModelScopeSim};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::common;

#[tokio::test]
async fn easel_gallery_serves_the_page_on_loopback_and_prints_its_url() {
    let sim = ModelScopeSim::start(ModelScopeConfig::default())
        .await
        .expect("sim");
    let dir = tempfile::tempdir().expect("dir");
    let mut env = common::test_env(&sim, &dir.path().join("out"), &[]);
    // No browser opener on PATH: opening fails, serving does not.
    let empty = dir.path().join("no-programs");
    std::fs::create_dir_all(&empty).expect("dir");
    env.insert("PATH".into(), empty.display().to_string());
    // A configured non-loopback bind is not used by this command.
    env.insert("EASEL_HTTP_BIND".into(), "0.0.0.0:0".into());
    let cfg = dir.path().join("easel.toml");
    std::fs::write(&cfg, "").expect("cfg");
    let mut child = tokio::process::Command::new(common::BIN)
        .arg("--config")
        .arg(&cfg)
        .args(["gallery", "--port", "0"])
        .env_clear()
        .envs(&env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let line = tokio::time::timeout(
        Duration::from_secs(30),
        BufReader::new(stdout).lines().next_line(),
    )
    .await
    .expect("the URL in time")
    .expect("read")
    .expect("a line");
    let url = line
        .strip_prefix("easel gallery ")
        .expect("`easel gallery URL`")
        .to_string();
    assert!(
        url.starts_with("http://127.0.0.1:") && url.ends_with('/'),
        "{url}"
    );

    let client = super::support::http();
    let page = client.get(&url).send().await.expect("page");
    assert_eq!(page.status(), 200);
    assert_eq!(
        page.headers()["content-security-policy"],
        easel::gallery::CSP
    );
    assert!(page.text().await.expect("html").contains("/gallery/app.js"));
    let jobs = client
        .get(format!("{url}gallery/api/jobs"))
        .send()
        .await
        .expect("api");
    assert_eq!(jobs.status(), 200);
    let health = client
        .get(format!("{url}healthz"))
        .send()
        .await
        .expect("health");
    assert_eq!(health.status(), 200, "the same app as serve --http");

    child.start_kill().expect("kill");
    let _ = child.wait().await;
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        use tokio::io::AsyncReadExt;
        let _ = e.read_to_string(&mut stderr).await;
    }
    assert!(stderr.contains("could not open a browser"), "{stderr}");
}

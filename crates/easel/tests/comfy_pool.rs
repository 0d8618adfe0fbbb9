//! Several ComfyUI servers as one backend, through a real MCP client against simulated
//! servers: jobs spread by expected wait and only to servers that have what the workflow
//! needs; a server killed mid-run (its job fails clearly, or is resubmitted when allowed;
//! new jobs avoid it; it rejoins when back); a refused submission retried elsewhere; pools
//! as backends.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::common::*;
use easel_sim::{ComfyConfig, ComfySim};
use futures::future::join_all;
use rmcp::model::CallToolResult;
use serde_json::{Value, json};

/// Upper bound of every wait on an observable condition; never a pass/fail timing.
const PATIENCE: Duration = Duration::from_secs(60);

/// `[[comfyui.servers]]` entries: (name, simulator URL, weight, pools).
fn servers_toml(servers: &[(&str, String, f64, &[&str])]) -> String {
    let mut out = String::new();
    for (name, url, weight, pools) in servers {
        let pools: Vec<String> = pools.iter().map(|p| format!("{p:?}")).collect();
        out.push_str(&format!(
            "[[comfyui.servers]]\nname = {name:?}\nurl = {url:?}\nweight = {weight:?}\npools = [{}]\n\n",
            pools.join(", ")
        ));
    }
    out
}

fn args(seed: u64, steps: u32) -> Value {
    json!({"prompt": "a lighthouse", "size": "64x64", "seed": seed, "steps": steps, "wait_seconds": 60})
}

/// The base URL of the server that made the result's first image (its `/view` URL).
fn made_on(r: &CallToolResult) -> String {
    let url = structured(r)["files"][0]["url"]
        .as_str()
        .unwrap_or_else(|| panic!("no file URL: {}", text(r)))
        .to_string();
    url.split("/view?").next().unwrap_or_default().to_string()
}

fn succeeded(r: &CallToolResult) -> bool {
    !is_error(r) && structured(r)["status"] == "succeeded"
}

/// The `comfyui` backend's report of server `name` (the tool checks every server live).
async fn server_report(e: &Easel, backend: &str, name: &str) -> Value {
    let r = e.call("backends", json!({})).await;
    let s = structured(&r);
    let b = s["backends"]
        .as_array()
        .expect("backends")
        .iter()
        .find(|b| b["name"] == backend)
        .cloned()
        .unwrap_or_else(|| panic!("no backend {backend}: {s}"));
    b["details"]["servers"]
        .as_array()
        .expect("servers")
        .iter()
        .find(|s| s["name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("no server {name}: {b}"))
}

/// Waits until a sampler step of the running job was reported.
async fn wait_for_a_step(e: &Easel) {
    let deadline = Instant::now() + PATIENCE;
    while !e
        .recorder
        .seen()
        .iter()
        .any(|p| p.message.as_deref().is_some_and(|m| m.contains("step")))
    {
        assert!(Instant::now() < deadline, "the job never started");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits until nothing listens on `addr` any more (the simulator's listener is closed).
async fn wait_refused(addr: SocketAddr) {
    let deadline = Instant::now() + PATIENCE;
    while tokio::net::TcpStream::connect(addr).await.is_ok() {
        assert!(
            Instant::now() < deadline,
            "{addr} still accepts connections"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Starts a simulator on the address a stopped one used.
async fn restart_on(addr: SocketAddr, config: ComfyConfig) -> ComfySim {
    let deadline = Instant::now() + PATIENCE;
    loop {
        match ComfySim::start_on(addr, config.clone()).await {
            Ok(sim) => return sim,
            Err(e) => {
                assert!(
                    Instant::now() < deadline,
                    "cannot listen on {addr} again: {e}"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

#[tokio::test]
async fn jobs_spread_by_expected_wait_and_never_to_a_server_missing_the_checkpoint() {
    let fast = ComfySim::start(ComfyConfig {
        step_latency: Duration::from_millis(5),
        ..Default::default()
    })
    .await
    .expect("sim");
    let slow = ComfySim::start(ComfyConfig {
        step_latency: Duration::from_millis(40),
        ..Default::default()
    })
    .await
    .expect("sim");
    // The default workflow (flux-dev) loads flux1-dev-fp8.safetensors, which this one lacks.
    let bare = ComfySim::start(ComfyConfig {
        checkpoints: vec!["v1-5-pruned-emaonly.safetensors".into()],
        ..Default::default()
    })
    .await
    .expect("sim");
    let e = start_easel(
        &servers_toml(&[
            ("gpu-fast", fast.base_url(), 1.0, &[]),
            ("gpu-slow", slow.base_url(), 1.0, &[]),
            ("gpu-bare", bare.base_url(), 1.0, &[]),
        ]),
        &[],
    )
    .await;

    // Two jobs at once: nothing is measured yet, so one goes to each able server.
    let warm = join_all((0..2).map(|i| e.call("generate_image", args(i, 20)))).await;
    assert!(
        warm.iter().all(succeeded),
        "{:?}",
        warm.iter().map(text).collect::<Vec<_>>()
    );
    let mut places: Vec<String> = warm.iter().map(made_on).collect();
    places.sort();
    let mut expected = vec![fast.base_url(), slow.base_url()];
    expected.sort();
    assert_eq!(
        places, expected,
        "one each on the two servers with the checkpoint"
    );

    // A burst: the fast server (a job in ~0.1 s) clears its queue 8 times sooner than the
    // slow one (~0.8 s), so it gets most of the burst.
    let burst = join_all((10..22).map(|i| e.call("generate_image", args(i, 20)))).await;
    assert!(
        burst.iter().all(succeeded),
        "{:?}",
        burst.iter().map(text).collect::<Vec<_>>()
    );
    let on = |sim: &ComfySim| {
        burst
            .iter()
            .filter(|r| made_on(r) == sim.base_url())
            .count()
    };
    let (on_fast, on_slow) = (on(&fast), on(&slow));
    assert_eq!(on_fast + on_slow, 12);
    assert!(
        on_fast >= 2 * on_slow && on_slow >= 1,
        "fast {on_fast}, slow {on_slow}"
    );
    assert_eq!(
        bare.prompts().len(),
        0,
        "never to the server without the checkpoint"
    );
    assert_eq!(fast.prompts().len(), on_fast + 1);
    assert_eq!(slow.prompts().len(), on_slow + 1);

    // What the pool knows shows in the backends tool.
    let (f, s, b) = (
        server_report(&e, "comfyui", "gpu-fast").await,
        server_report(&e, "comfyui", "gpu-slow").await,
        server_report(&e, "comfyui", "gpu-bare").await,
    );
    let mean = |v: &Value| v["mean_job_secs"].as_f64().expect("measured");
    assert!(mean(&f) < mean(&s), "fast {f}\nslow {s}");
    assert_eq!(f["health"]["state"], "up");
    assert_eq!(f["in_flight"], 0);
    assert!(f["capabilities"]["checkpoints"].as_u64() > b["capabilities"]["checkpoints"].as_u64());
    let flux = |v: &Value| {
        v["workflows"]
            .as_array()
            .expect("workflows")
            .iter()
            .find(|w| w["name"] == "flux-dev")
            .cloned()
            .expect("flux-dev")
    };
    assert_eq!(flux(&f)["ready"], true);
    assert_eq!(flux(&b)["ready"], false);
    assert!(
        flux(&b)["missing_models"]
            .to_string()
            .contains("flux1-dev-fp8")
    );

    // A file no server has: refused before anything is sent, naming each server.
    let posted = fast.prompts().len() + slow.prompts().len();
    let r = e
        .call(
            "generate_image",
            json!({"prompt": "x", "size": "64x64", "workflow": "sd-checkpoint", "model": "missing.safetensors"}),
        )
        .await;
    assert!(is_error(&r));
    let t = text(&r);
    eprintln!("no server has it: {t}");
    assert!(
        t.contains("checkpoint missing.safetensors is on no server of pool comfyui")
            && t.contains("gpu-fast")
            && t.contains("gpu-slow")
            && t.contains("gpu-bare")
            && t.contains("models/checkpoints"),
        "{t}"
    );
    assert_eq!(fast.prompts().len() + slow.prompts().len(), posted);
}

/// Three servers, the middle one preferred (weight 100) and slow, so the first job runs
/// there long enough to kill it mid-run.
async fn three_with_a_preferred_slow_one(
    extra_env: &[(&str, &str)],
) -> (ComfySim, ComfySim, ComfySim, ComfyConfig, Easel) {
    let a = ComfySim::start(ComfyConfig::default()).await.expect("sim");
    let slow = ComfyConfig {
        step_latency: Duration::from_millis(100),
        ..Default::default()
    };
    let b = ComfySim::start(slow.clone()).await.expect("sim");
    let c = ComfySim::start(ComfyConfig::default()).await.expect("sim");
    let mut env = vec![("EASEL_COMFYUI_LOST_AFTER_SECS", "1")];
    env.extend_from_slice(extra_env);
    let e = start_easel(
        &servers_toml(&[
            ("gpu-a", a.base_url(), 1.0, &[]),
            ("gpu-b", b.base_url(), 100.0, &[]),
            ("gpu-c", c.base_url(), 1.0, &[]),
        ]),
        &env,
    )
    .await;
    (a, b, c, slow, e)
}

#[tokio::test]
async fn a_server_killed_mid_run_fails_its_job_clearly_and_rejoins_when_back() {
    let (a, b, c, slow, e) = three_with_a_preferred_slow_one(&[]).await;
    let b_addr = b.addr();
    let running = e.call("generate_image", args(1, 60));
    let kill = async {
        wait_for_a_step(&e).await;
        assert_eq!(b.queue_len(), 1, "the job runs on gpu-b");
        b.shutdown();
    };
    let (r, ()) = tokio::join!(running, kill);
    assert!(is_error(&r), "{}", text(&r));
    let t = text(&r);
    eprintln!("lost job: {t}");
    assert!(
        t.contains("ComfyUI server gpu-b")
            && t.contains("stopped answering")
            && t.contains("lost")
            && t.contains("resubmit_lost"),
        "{t}"
    );
    let s = structured(&r);
    assert_eq!(s["error"]["kind"], "unreachable");
    assert_eq!(s["error"]["details"]["server"], "gpu-b");
    assert_eq!(a.prompts().len() + c.prompts().len(), 0, "not resubmitted");

    // New jobs avoid it, although it is the preferred server.
    for seed in 2..4 {
        let r = e.call("generate_image", args(seed, 2)).await;
        assert!(succeeded(&r), "{}", text(&r));
        assert_ne!(made_on(&r), format!("http://{b_addr}"));
    }
    assert_eq!(a.prompts().len() + c.prompts().len(), 2);
    let down = server_report(&e, "comfyui", "gpu-b").await;
    assert_eq!(down["health"]["state"], "down", "{down}");
    assert_eq!(down["reachable"], false);
    assert!(
        down["health"]["reason"]
            .as_str()
            .unwrap_or("")
            .contains("connection failed"),
        "{down}"
    );

    // Back on the same address: it answers the next check and takes jobs again.
    let b = restart_on(b_addr, slow).await;
    let deadline = Instant::now() + PATIENCE;
    loop {
        let report = server_report(&e, "comfyui", "gpu-b").await;
        if report["health"]["state"] == "up" {
            break;
        }
        assert!(Instant::now() < deadline, "gpu-b never rejoined: {report}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let r = e.call("generate_image", args(5, 2)).await;
    assert!(succeeded(&r), "{}", text(&r));
    assert_eq!(made_on(&r), b.base_url());
    assert_eq!(b.prompts().len(), 1);
}

#[tokio::test]
async fn with_resubmit_lost_a_job_lost_mid_run_is_submitted_to_another_server() {
    let (a, b, c, _, e) =
        three_with_a_preferred_slow_one(&[("EASEL_COMFYUI_RESUBMIT_LOST", "true")]).await;
    let b_url = b.base_url();
    let running = e.call("generate_image", args(1, 60));
    let kill = async {
        wait_for_a_step(&e).await;
        b.shutdown();
    };
    let (r, ()) = tokio::join!(running, kill);
    assert!(succeeded(&r), "{}", text(&r));
    let on = made_on(&r);
    assert!(
        on == a.base_url() || on == c.base_url(),
        "{on} (gpu-b was {b_url})"
    );
    assert_eq!(
        a.prompts().len() + c.prompts().len(),
        1,
        "submitted again once"
    );
    let again = a
        .prompts()
        .into_iter()
        .chain(c.prompts())
        .next()
        .expect("the second submission");
    assert_eq!(
        again["prompt"]
            .as_object()
            .expect("graph")
            .values()
            .find(|n| n["class_type"] == "KSampler")
            .expect("sampler")["inputs"]["seed"],
        1,
        "the same request"
    );
    let warnings = structured(&r)["warnings"].to_string();
    assert!(
        warnings.contains("submitted again") && warnings.contains("gpu-b"),
        "{warnings}"
    );
}

#[tokio::test]
async fn a_refused_submission_is_retried_on_another_server() {
    let a = ComfySim::start(ComfyConfig::default()).await.expect("sim");
    let b = ComfySim::start(ComfyConfig::default()).await.expect("sim");
    // No background checks during the test: only the submission can find gpu-a gone.
    let e = start_easel(
        &servers_toml(&[
            ("gpu-a", a.base_url(), 100.0, &[]),
            ("gpu-b", b.base_url(), 1.0, &[]),
        ]),
        &[("EASEL_COMFYUI_HEALTH_CHECK_SECS", "3600")],
    )
    .await;
    let r = e.call("generate_image", args(1, 2)).await;
    assert!(succeeded(&r), "{}", text(&r));
    assert_eq!(made_on(&r), a.base_url(), "the preferred server");

    let a_addr = a.addr();
    a.shutdown();
    wait_refused(a_addr).await;
    let r = e.call("generate_image", args(2, 2)).await;
    assert!(succeeded(&r), "{}", text(&r));
    assert_eq!(made_on(&r), b.base_url());
    assert_eq!(b.prompts().len(), 1);
    let answered = easel::clock::now_ms();
    // The submission took gpu-a out (before this check could have).
    let report = server_report(&e, "comfyui", "gpu-a").await;
    assert_eq!(report["health"]["state"], "down", "{report}");
    assert!(
        report["health"]["since_ms"].as_u64().expect("since") <= answered,
        "{report}"
    );

    // With every server gone, the error names each one and why.
    let b_addr = b.addr();
    b.shutdown();
    wait_refused(b_addr).await;
    let r = e.call("generate_image", args(3, 2)).await;
    assert!(is_error(&r));
    let t = text(&r);
    eprintln!("all down: {t}");
    assert!(
        t.contains("every ComfyUI server in pool comfyui is down")
            && t.contains("gpu-a is down since")
            && t.contains("gpu-b is down since")
            && t.contains("connection failed"),
        "{t}"
    );
    assert_eq!(structured(&r)["error"]["kind"], "unreachable");
}

#[tokio::test]
async fn a_pool_name_is_a_backend_over_its_servers() {
    // Jobs that take a moment, so that the four below overlap.
    let busy = ComfyConfig {
        step_latency: Duration::from_millis(20),
        ..Default::default()
    };
    let a = ComfySim::start(busy.clone()).await.expect("sim");
    let b = ComfySim::start(busy).await.expect("sim");
    let c = ComfySim::start(ComfyConfig::default()).await.expect("sim");
    let e = start_easel(
        &servers_toml(&[
            ("gpu-a", a.base_url(), 1.0, &["studio"]),
            ("gpu-b", b.base_url(), 1.0, &["studio"]),
            ("gpu-c", c.base_url(), 100.0, &[]),
        ]),
        &[],
    )
    .await;
    let mut studio = args(0, 2);
    studio["backend"] = json!("studio");
    let results = join_all((0..4).map(|i| {
        let mut a = studio.clone();
        a["seed"] = json!(i);
        e.call("generate_image", a)
    }))
    .await;
    assert!(results.iter().all(succeeded));
    assert!(results.iter().all(|r| structured(r)["backend"] == "studio"));
    assert_eq!(c.prompts().len(), 0, "gpu-c is not in pool studio");
    let (on_a, on_b) = (a.prompts().len(), b.prompts().len());
    assert!(
        on_a >= 1 && on_b >= 1 && on_a + on_b == 4,
        "spread over the pool: {on_a}, {on_b}"
    );
    // `comfyui` is every server; gpu-c's weight draws the job.
    let r = e.call("generate_image", args(9, 2)).await;
    assert_eq!(made_on(&r), c.base_url());

    let r = e.call("backends", json!({})).await;
    let s = structured(&r);
    let pool = s["backends"]
        .as_array()
        .expect("backends")
        .iter()
        .find(|b| b["name"] == "studio")
        .cloned()
        .expect("studio is a backend");
    let names: Vec<&str> = pool["details"]["servers"]
        .as_array()
        .expect("servers")
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(names, vec!["gpu-a", "gpu-b"]);
    assert!(text(&r).contains("server gpu-c"), "{}", text(&r));

    let r = e
        .call("generate_image", json!({"prompt": "x", "backend": "nope"}))
        .await;
    assert!(is_error(&r) && text(&r).contains("studio"), "{}", text(&r));
}

/// After a restart, a job is tracked from its stored ticket. A ticket stored before any
/// server accepted the prompt (easel stopped mid-submission) names no server: the prompt id
/// finds it. Tickets from before pools name the server by URL.
#[tokio::test]
async fn stored_tickets_find_their_server() {
    use easel::backend::{EventSink, Ticket};
    let a = ComfySim::start(ComfyConfig::default()).await.expect("sim");
    let b = ComfySim::start(ComfyConfig::default()).await.expect("sim");
    let e = start_easel(
        &servers_toml(&[
            ("gpu-a", a.base_url(), 1.0, &[]),
            ("gpu-b", b.base_url(), 1.0, &[]),
        ]),
        &[],
    )
    .await;
    let app = easel::app::build(&e.config, easel::app::Storage::Ephemeral).expect("app");
    let backend = app.jobs.backend(Some("comfyui")).expect("comfyui");
    let graph = json!({
        "1": {"class_type": "EmptyImage", "inputs": {"width": 8, "height": 8, "batch_size": 1, "color": 0}},
        "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "resumed"}},
    });
    let http = reqwest::Client::new();
    let ticket = |server: &str, id: &str| {
        Ticket(
            json!({"server": server, "prompt_id": id, "submitted_at_ms": easel::clock::now_ms(), "seed": 1}),
        )
    };
    for (server, expect) in [("", &b), (b.base_url().as_str(), &b), ("gpu-a", &a)] {
        let id = uuid::Uuid::new_v4().to_string();
        let posted = http
            .post(format!("{}/prompt", expect.base_url()))
            .json(&json!({"prompt": graph, "prompt_id": id, "client_id": "someone-else"}))
            .send()
            .await
            .expect("post");
        assert!(posted.status().is_success());
        let images = backend
            .track(&ticket(server, &id), &EventSink::ignore())
            .await
            .unwrap_or_else(|err| panic!("ticket server {server:?}: {err}"));
        let url = images[0].as_ref().expect("image").url.clone().expect("url");
        assert!(url.starts_with(&expect.base_url()), "{server:?}: {url}");
    }
    let err = backend
        .track(
            &ticket("", &uuid::Uuid::new_v4().to_string()),
            &EventSink::ignore(),
        )
        .await
        .expect_err("no server has it");
    assert!(
        err.message.contains("no server there knows prompt"),
        "{err}"
    );
    let err = backend
        .track(&ticket("gpu-x", "0"), &EventSink::ignore())
        .await
        .expect_err("unknown server");
    assert!(
        err.message
            .contains("\"gpu-x\", which is no longer configured"),
        "{err}"
    );
}

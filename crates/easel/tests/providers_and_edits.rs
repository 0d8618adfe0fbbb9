//! OpenAI-compatible providers and edit_image on every backend, through a real MCP client.

use std::collections::HashMap;
use std::path::Path;

use crate::common;
use crate::common::*;
use easel_sim::{
    ComfyConfig, ComfySim, ModelScopeConfig, ModelScopeSim, OpenAiConfig, OpenAiSim, ProviderMode,
};
use rmcp::service::{RoleClient, RunningService};
use serde_json::{Value, json};

struct World {
    openai: OpenAiSim,
    relay: OpenAiSim,
    modelscope: ModelScopeSim,
    comfy: ComfySim,
    _dir: tempfile::TempDir,
    client: RunningService<RoleClient, Recorder>,
    out: std::path::PathBuf,
}

/// easel with two providers (the default `openai`, and `relay` speaking through a gateway
/// that answers with URLs), ModelScope and ComfyUI, all simulated.
async fn world(openai: OpenAiConfig) -> World {
    easel::logging::install_tls_provider();
    let openai = OpenAiSim::start(openai).await.expect("openai sim");
    let relay = OpenAiSim::start(OpenAiConfig {
        mode: ProviderMode::Relay,
        ..Default::default()
    })
    .await
    .expect("relay");
    let modelscope = ModelScopeSim::start(ModelScopeConfig::default())
        .await
        .expect("ms");
    let comfy = ComfySim::start(ComfyConfig::default())
        .await
        .expect("comfy");
    let dir = tempfile::tempdir().expect("dir");
    let out = dir.path().join("out");
    let mut env: HashMap<String, String> = test_env(&modelscope, &out, &[]);
    env.extend(comfy_env(&comfy, dir.path(), &[]));
    env.insert("EASEL_DEFAULT_BACKEND".into(), "openai".into());
    env.insert("OPENAI_BASE_URL".into(), openai.base_url());
    env.insert("OPENAI_API_KEY".into(), "sk-test-openai".into());
    env.insert("RELAY_KEY".into(), "rk-test-relay".into());
    let toml = format!(
        "[providers.relay]\nbase_url = \"{}\"\napi_key_env = \"RELAY_KEY\"\ndefault_model = \"Qwen/Qwen-Image\"\n",
        relay.base_url()
    );
    std::fs::write(dir.path().join("easel.toml"), toml).expect("toml");
    let config = easel::config::Config::load_with(Some(&dir.path().join("easel.toml")), &|k| {
        env.get(k).cloned()
    })
    .expect("config");
    let (client, _) = common::serve(&config).await;
    World {
        openai,
        relay,
        modelscope,
        comfy,
        _dir: dir,
        client,
        out: config.output_dir,
    }
}

fn parts(req: &easel_sim::RecordedRequest) -> Vec<Value> {
    req.body
        .as_ref()
        .and_then(|b| b.get("parts"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

fn file_size(path: &str) -> (u32, u32) {
    let img = image::open(path).expect("image");
    (img.width(), img.height())
}

fn put_image(out: &Path, rel: &str, w: u32, h: u32) {
    let path = out.join(rel);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("dir");
    std::fs::write(path, easel_sim::picture::png(w, h, rel)).expect("write");
}

#[tokio::test]
async fn two_providers_base64_and_url_answers() {
    let w = world(OpenAiConfig::default()).await;
    let r = call(&w.client, "generate_image", json!({"prompt": "a fox", "model": "gpt-image-1", "size": "1024x1024", "params": {"quality": "low"}})).await;
    assert!(!is_error(&r), "{}", text(&r));
    let s = structured(&r);
    assert_eq!(s["backend"], "openai");
    let f = &s["files"][0];
    assert_eq!(file_size(f["path"].as_str().expect("p")), (1024, 1024));
    assert!(f["url"].is_null(), "base64 answers have no URL");
    assert!(f["usage"].is_object(), "usage reported: {f}");
    let sent = w
        .openai
        .requests()
        .into_iter()
        .find(|q| q.path.ends_with("/images/generations"))
        .expect("sent");
    let body = sent.body.expect("body");
    assert_eq!(body["quality"], "low");
    assert!(
        body.get("response_format").is_none(),
        "gpt-image models reject response_format"
    );
    assert_eq!(
        sent.headers
            .iter()
            .find(|(k, _)| k == "authorization")
            .map(|(_, v)| v.as_str()),
        Some("Bearer sk-test-openai")
    );

    let r = call(
        &w.client,
        "generate_image",
        json!({"prompt": "a fox", "backend": "relay", "size": "512x512", "count": 2}),
    )
    .await;
    assert!(!is_error(&r), "{}", text(&r));
    let s = structured(&r);
    assert_eq!(s["model"], "Qwen/Qwen-Image");
    let files = s["files"].as_array().expect("files");
    assert_eq!(files.len(), 2);
    assert!(
        files[0]["url"]
            .as_str()
            .expect("url answer")
            .starts_with("http://127.0.0.1")
    );
    assert_eq!(file_size(files[0]["path"].as_str().expect("p")), (512, 512));
    // The provider's key never goes to the image host.
    let downloads: Vec<_> = w
        .relay
        .requests()
        .into_iter()
        .filter(|q| q.method == "GET")
        .collect();
    assert!(!downloads.is_empty());
    assert!(
        downloads
            .iter()
            .all(|q| q.header("authorization").is_none())
    );

    let r = call(
        &w.client,
        "generate_image",
        json!({"prompt": "a fox", "model": "dall-e-3", "size": "1024x1024"}),
    )
    .await;
    assert!(!is_error(&r), "{}", text(&r));
    assert!(
        structured(&r)["files"][0]["revised_prompt"].is_string(),
        "{}",
        text(&r)
    );
}

#[tokio::test]
async fn provider_error_bodies_are_surfaced() {
    let w = world(OpenAiConfig {
        moderation_block: true,
        ..Default::default()
    })
    .await;
    let r = call(
        &w.client,
        "generate_image",
        json!({"prompt": "a fox", "model": "gpt-image-1", "size": "1024x1024"}),
    )
    .await;
    assert!(is_error(&r));
    let t = text(&r);
    assert!(
        t.contains("content-policy")
            && t.contains("moderation_blocked")
            && t.contains("safety system"),
        "{t}"
    );
    assert_eq!(
        structured(&r)["error"]["details"]["code"],
        "moderation_blocked"
    );

    w.openai.update(|c| {
        c.moderation_block = false;
        c.valid_keys = Some(vec!["sk-other".into()]);
    });
    let r = call(
        &w.client,
        "generate_image",
        json!({"prompt": "a fox", "model": "gpt-image-1", "size": "1024x1024"}),
    )
    .await;
    let t = text(&r);
    assert!(
        is_error(&r) && t.contains("401") && t.contains("OPENAI_API_KEY"),
        "{t}"
    );
    assert!(!t.contains("sk-test-openai"), "key leaked: {t}");
}

#[tokio::test]
async fn unsupported_fields_are_reported_not_dropped() {
    let w = world(OpenAiConfig::default()).await;
    let r = call(&w.client, "generate_image", json!({"prompt": "a fox", "model": "gpt-image-1", "size": "1024x1024", "negative_prompt": "blur", "steps": 30, "params": {"sharpness": 3}})).await;
    assert!(!is_error(&r), "{}", text(&r));
    let warnings = format!("{}", structured(&r)["warnings"]);
    assert!(
        warnings.contains("negative_prompt")
            && warnings.contains("steps")
            && warnings.contains("sharpness"),
        "{warnings}"
    );
}

#[tokio::test]
async fn openai_edit_sends_multipart_with_mask() {
    let w = world(OpenAiConfig::default()).await;
    put_image(&w.out, "src/cat.png", 256, 256);
    put_image(&w.out, "src/hat.png", 256, 256);
    put_image(&w.out, "src/mask.png", 256, 256);
    let r = call(
        &w.client,
        "edit_image",
        json!({"prompt": "put the hat on the cat", "images": ["src/cat.png", "src/hat.png"], "mask": "src/mask.png", "model": "gpt-image-1", "size": "1024x1024"}),
    )
    .await;
    assert!(!is_error(&r), "{}", text(&r));
    let s = structured(&r);
    assert_eq!(s["sources"], json!(["src/cat.png", "src/hat.png"]));
    assert!(
        text(&r).contains("Edited src/cat.png, src/hat.png"),
        "{}",
        text(&r)
    );
    let edit = w
        .openai
        .requests()
        .into_iter()
        .find(|q| q.path.ends_with("/images/edits"))
        .expect("edit sent");
    let names: Vec<String> = parts(&edit)
        .iter()
        .map(|p| p["name"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(
        names.iter().filter(|n| *n == "image[]").count(),
        2,
        "{names:?}"
    );
    assert!(
        names.contains(&"mask".to_string()) && names.contains(&"prompt".to_string()),
        "{names:?}"
    );
    let mask = parts(&edit)
        .into_iter()
        .find(|p| p["name"] == "mask")
        .expect("mask");
    assert_eq!(mask["content_type"], "image/png");
    assert_eq!(s["files"].as_array().expect("files").len(), 1);
}

#[tokio::test]
async fn modelscope_edit_uses_the_source_url_and_refuses_local_files() {
    let w = world(OpenAiConfig::default()).await;
    // An image ModelScope made keeps its URL, so it can be edited there.
    let made = call(
        &w.client,
        "generate_image",
        json!({"prompt": "a cat", "backend": "modelscope", "size": "256x256"}),
    )
    .await;
    assert!(!is_error(&made), "{}", text(&made));
    let uri = structured(&made)["files"][0]["uri"]
        .as_str()
        .expect("uri")
        .to_string();
    let remote = structured(&made)["files"][0]["url"]
        .as_str()
        .expect("url")
        .to_string();
    let r = call(
        &w.client,
        "edit_image",
        json!({"prompt": "give it a red scarf", "images": [uri], "backend": "modelscope"}),
    )
    .await;
    assert!(!is_error(&r), "{}", text(&r));
    assert_eq!(structured(&r)["model"], "Qwen/Qwen-Image-Edit-2509");
    let submit = w
        .modelscope
        .requests()
        .into_iter()
        .rfind(|q| q.method == "POST")
        .expect("submit");
    assert_eq!(submit.body.as_ref().expect("body")["image_url"], remote);

    let url = call(&w.client, "edit_image", json!({"prompt": "scarf", "images": ["https://example.com/cat.png"], "backend": "modelscope"})).await;
    let body = w
        .modelscope
        .requests()
        .into_iter()
        .rfind(|q| q.method == "POST")
        .expect("submit")
        .body
        .expect("b");
    assert_eq!(
        body["image_url"],
        "https://example.com/cat.png",
        "{}",
        text(&url)
    );

    put_image(&w.out, "local/cat.png", 64, 64);
    let before = w.modelscope.submissions();
    let local = call(
        &w.client,
        "edit_image",
        json!({"prompt": "scarf", "images": ["local/cat.png"], "backend": "modelscope"}),
    )
    .await;
    assert!(is_error(&local));
    let t = text(&local);
    assert!(t.contains("public URL") && t.contains("comfyui"), "{t}");
    assert_eq!(w.modelscope.submissions(), before, "nothing sent");
}

#[tokio::test]
async fn comfyui_edit_uploads_the_local_file() {
    let w = world(OpenAiConfig::default()).await;
    put_image(&w.out, "src/dog.png", 160, 128);
    let r = call(&w.client, "edit_image", json!({"prompt": "as a watercolor", "images": ["src/dog.png"], "backend": "comfyui", "size": "160x128"})).await;
    assert!(!is_error(&r), "{}", text(&r));
    assert_eq!(w.comfy.uploads().len(), 1);
    let graph = w.comfy.prompts().last().expect("prompt")["prompt"].clone();
    let load = nodes_of(&graph, "LoadImage");
    assert_eq!(
        load[0].1["inputs"]["image"].as_str(),
        Some(w.comfy.uploads()[0].as_str())
    );
    assert_eq!(
        file_size(structured(&r)["files"][0]["path"].as_str().expect("p")),
        (160, 128)
    );
}

#[tokio::test]
async fn sources_outside_the_roots_and_non_images_are_refused() {
    let w = world(OpenAiConfig::default()).await;
    let outside = tempfile::tempdir().expect("outside");
    std::fs::write(
        outside.path().join("x.png"),
        easel_sim::picture::png(8, 8, "x"),
    )
    .expect("w");
    std::fs::create_dir_all(w.out.join("docs")).expect("dir");
    std::fs::write(w.out.join("docs/notes.txt"), "not an image").expect("w");
    let cases = [
        json!({"prompt": "p", "images": [outside.path().join("x.png").display().to_string()]}),
        json!({"prompt": "p", "images": ["../../etc/passwd"]}),
        json!({"prompt": "p", "images": ["docs/notes.txt"]}),
        json!({"prompt": "p", "images": ["easel://jobs/nope/images/0"]}),
        json!({"prompt": "p", "images": []}),
    ];
    for args in cases {
        let r = call(&w.client, "edit_image", args.clone()).await;
        assert!(is_error(&r), "{args}: {}", text(&r));
        assert!(text(&r).contains("images"), "{args}: {}", text(&r));
    }
    assert!(
        w.openai
            .requests()
            .iter()
            .all(|q| !q.path.ends_with("/images/edits")),
        "nothing sent"
    );
}

/// A caller (or a prompt-injected model) must not learn anything about files outside the
/// output root and input folders: not their contents, not even whether they exist.
#[tokio::test]
async fn named_files_never_leak_their_contents() {
    let w = world(OpenAiConfig::default()).await;
    let outside = tempfile::tempdir().expect("outside");
    let secret = outside.path().join("id_ed25519");
    std::fs::write(
        &secret,
        "-----BEGIN OPENSSH PRIVATE KEY----- b3BlbnNzaC1rZXktdjEAAAA",
    )
    .expect("w");
    std::fs::create_dir_all(&w.out).expect("out");
    #[cfg(unix)]
    std::os::unix::fs::symlink(&secret, w.out.join("key.png")).expect("link");
    std::fs::write(w.out.join("inside.png"), "password = hunter2").expect("w");
    let secret_path = secret.display().to_string();
    let missing = outside.path().join("missing.png").display().to_string();
    let mut cases = vec![
        json!({"prompt": "p", "images": ["/etc/passwd"]}),
        json!({"prompt": "p", "images": [secret_path]}),
        json!({"prompt": "p", "images": ["inside.png"]}),
        json!({"prompt": "p", "images": ["inside.png"], "mask": secret_path}),
    ];
    if cfg!(unix) {
        cases.push(json!({"prompt": "p", "images": ["key.png"]}));
    }
    for args in &cases {
        let r = call(&w.client, "edit_image", args.clone()).await;
        let t = text(&r);
        assert!(is_error(&r), "{args}: {t}");
        for leak in ["root:x", "PRIVATE KEY", "b3BlbnNz", "hunter2"] {
            assert!(!t.contains(leak), "{args} leaked {leak}: {t}");
        }
    }
    // An existing file outside and a missing one answer alike: no existence oracle.
    let refusal = |path: &str| {
        let w = &w;
        let path = path.to_string();
        async move {
            let r = call(
                &w.client,
                "edit_image",
                json!({"prompt": "p", "images": [path.clone()]}),
            )
            .await;
            text(&r).replace(&path, "PATH")
        }
    };
    assert_eq!(refusal(&secret_path).await, refusal(&missing).await);
    // publish_note takes the same rule.
    let r = call(
        &w.client,
        "publish_note",
        json!({"title": "t", "content": "c", "images": ["/etc/passwd", "inside.png"]}),
    )
    .await;
    let t = text(&r);
    assert!(is_error(&r), "{t}");
    assert!(!t.contains("root:x") && !t.contains("hunter2"), "{t}");
    assert!(t.contains("outside the output root"), "{t}");
    assert!(
        w.openai
            .requests()
            .iter()
            .all(|q| !q.path.ends_with("/images/edits")),
        "nothing sent"
    );
}

/// `backends` checks each hosted API's key with a request that generates nothing, and tells
/// ok, unauthorized and unreachable apart instead of trusting a key that is merely set.
#[tokio::test]
async fn backends_check_keys_for_real() {
    let w = world(OpenAiConfig {
        valid_keys: Some(vec!["sk-someone-else".into()]),
        ..Default::default()
    })
    .await;
    let r = call(&w.client, "backends", json!({})).await;
    let s = structured(&r);
    let report = |name: &str| {
        s["backends"]
            .as_array()
            .expect("backends")
            .iter()
            .find(|b| b["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no backend {name}: {s}"))
    };
    let openai = report("openai");
    assert_eq!(openai["ready"], false, "{openai}");
    assert_eq!(
        openai["details"]["check"]["outcome"], "unauthorized",
        "{openai}"
    );
    assert!(
        openai["summary"]
            .as_str()
            .expect("summary")
            .contains("OPENAI_API_KEY"),
        "{openai}"
    );
    let relay = report("relay");
    assert_eq!(relay["details"]["check"]["outcome"], "ok", "{relay}");
    assert_eq!(relay["ready"], true, "{relay}");
    let modelscope = report("modelscope");
    assert_eq!(
        modelscope["details"]["check"]["outcome"], "ok",
        "{modelscope}"
    );
    assert_eq!(
        modelscope["details"]["check"]["http_status"], 404,
        "{modelscope}"
    );
    // The key itself is never shown.
    assert!(!s.to_string().contains("sk-test-openai"), "{s}");
    assert!(
        w.openai
            .requests()
            .iter()
            .all(|q| !q.path.contains("/images/"))
    );

    // A service that is gone is unreachable, not "ok".
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let dir = tempfile::tempdir().expect("dir");
    let env: HashMap<String, String> = [
        (
            "EASEL_OUTPUT_DIR",
            dir.path().join("out").display().to_string(),
        ),
        (
            "EASEL_DATA_DIR",
            dir.path().join("data").display().to_string(),
        ),
        ("MODELSCOPE_BASE_URL", format!("http://127.0.0.1:{port}/")),
        ("MODELSCOPE_SDK_TOKEN", "ms-token".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let config = common::config(dir.path(), &env);
    let (client, _) = common::serve(&config).await;
    let r = call(&client, "backends", json!({})).await;
    let s = structured(&r);
    let ms = s["backends"]
        .as_array()
        .expect("backends")
        .iter()
        .find(|b| b["name"] == "modelscope")
        .cloned()
        .expect("modelscope");
    assert_eq!(ms["details"]["check"]["outcome"], "unreachable", "{ms}");
    assert_eq!(ms["ready"], false, "{ms}");
}

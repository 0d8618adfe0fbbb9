//! Publishing notes through a real MCP client: the checks before sending, two xiaohongshu
//! accounts, the login QR code, unconfirmed and failed publishes, webhook bodies, draft
//! folders, images named by job id and URI, and the record of every publish.

use std::path::{Path, PathBuf};

use crate::common;
use crate::common::*;
use base64::Engine;
use easel_sim::{ModelScopeConfig, ModelScopeSim, WebhookSink, XhsConfig, XhsSim};
use rmcp::model::GetPromptRequestParams;
use rmcp::service::{RoleClient, RunningService};
use serde_json::{Value, json};

struct World {
    main: XhsSim,
    alt: XhsSim,
    hook: WebhookSink,
    _modelscope: ModelScopeSim,
    _dir: tempfile::TempDir,
    client: RunningService<RoleClient, Recorder>,
    out: PathBuf,
}

const MAIN_TOKEN: &str = "xhs-main-token";

/// easel with two xiaohongshu accounts (`main`, the default, behind a token, and `alt`),
/// a webhook `hook`, the built-in `draft`, and ModelScope to make images — all simulated.
async fn world(main: XhsConfig) -> World {
    world_with(main, "").await
}

/// [`world`] with extra keys for `[publishers.main]`.
async fn world_with(main: XhsConfig, main_keys: &str) -> World {
    easel::logging::install_tls_provider();
    let main = XhsSim::start(XhsConfig {
        token: Some(MAIN_TOKEN.into()),
        ..main
    })
    .await
    .expect("xhs main");
    let alt = XhsSim::start(XhsConfig {
        username: "小红".into(),
        ..XhsConfig::default()
    })
    .await
    .expect("xhs alt");
    let hook = WebhookSink::start(200).await.expect("webhook");
    let modelscope = ModelScopeSim::start(ModelScopeConfig::default())
        .await
        .expect("modelscope");
    let dir = tempfile::tempdir().expect("dir");
    let out = dir.path().join("out");
    let mut env = test_env(&modelscope, &out, &[]);
    env.insert("XHS_MAIN_TOKEN".into(), MAIN_TOKEN.into());
    let toml = format!(
        "default_publisher = \"main\"\n\
         [publishers.main]\nkind = \"xiaohongshu\"\nurl = \"{}\"\ntoken_env = \"XHS_MAIN_TOKEN\"\n{}\
         [publishers.alt]\nkind = \"xiaohongshu\"\nurl = \"{}\"\n\
         [publishers.hook]\nkind = \"webhook\"\nurl = \"{}\"\nheaders = {{ \"X-Api-Key\" = \"hook-key\" }}\n",
        main.base_url(),
        main_keys,
        alt.base_url(),
        hook.url()
    );
    let file = dir.path().join("easel.toml");
    std::fs::write(&file, toml).expect("toml");
    let config =
        easel::config::Config::load_with(Some(&file), &|k| env.get(k).cloned()).expect("config");
    let (client, _) = common::serve(&config).await;
    World {
        main,
        alt,
        hook,
        _modelscope: modelscope,
        _dir: dir,
        client,
        out: config.output_dir,
    }
}

impl World {
    async fn call(&self, tool: &str, args: Value) -> rmcp::model::CallToolResult {
        call(&self.client, tool, args).await
    }

    /// Generates `count` images; returns the job id and the saved paths.
    async fn images(&self, count: u32) -> (String, Vec<String>) {
        let r = self
            .call("generate_image", gen_args(json!({"count": count})))
            .await;
        assert!(!is_error(&r), "{}", text(&r));
        let s = structured(&r);
        let paths = s["files"]
            .as_array()
            .expect("files")
            .iter()
            .map(|f| f["path"].as_str().expect("path").to_string())
            .collect();
        (s["job_id"].as_str().expect("job").to_string(), paths)
    }

    fn publish_requests(&self, sim: &XhsSim) -> usize {
        sim.requests()
            .iter()
            .filter(|r| r.path == "/api/v1/publish")
            .count()
    }
}

fn note(extra: Value) -> Value {
    let mut base = json!({
        "title": "秋天的第一杯咖啡",
        "content": "今天去了一家新开的咖啡店，拿铁很香。",
        "images": [],
        "tags": ["#咖啡", "探店"],
    });
    if let (Some(b), Some(e)) = (base.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            b.insert(k.clone(), v.clone());
        }
    }
    base
}

/// The lines of a refusal that start with `- field:`.
fn problem_lines<'a>(t: &'a str, field: &str) -> Vec<&'a str> {
    let prefix = format!("- {field}:");
    t.lines().filter(|l| l.starts_with(&prefix)).collect()
}

#[tokio::test]
async fn each_violation_is_reported_before_anything_is_sent() {
    let w = world(XhsConfig::default()).await;
    let (_, paths) = w.images(1).await;
    let img = paths[0].clone();
    std::fs::write(w.out.join("fake.png"), b"<html>not an image</html>").expect("fake");
    let soon = humantime::format_rfc3339_seconds(
        std::time::SystemTime::now() + std::time::Duration::from_secs(600),
    )
    .to_string();
    let cases: Vec<(Value, &str, &str)> = vec![
        (
            json!({"title": "秋".repeat(23), "images": [img]}),
            "title",
            "measures 23 units",
        ),
        (
            json!({"content": "字".repeat(1001), "images": [img]}),
            "content",
            "1001 characters",
        ),
        (
            json!({"tags": (0..11).map(|i| format!("t{i}")).collect::<Vec<_>>(), "images": [img]}),
            "tags",
            "11 tags",
        ),
        (json!({"images": []}), "images", "at least 1"),
        (
            json!({"images": vec![img.clone(); 19]}),
            "images",
            "at most 18",
        ),
        (
            json!({"images": ["missing.png"]}),
            "images",
            "does not exist",
        ),
        (json!({"images": ["fake.png"]}), "images", "is not an image"),
        (
            json!({"images": [img], "schedule_at": "2030-01-01T10:00:00"}),
            "schedule_at",
            "offset",
        ),
        (
            json!({"images": [img], "schedule_at": soon}),
            "schedule_at",
            "less than 1 hour",
        ),
        (
            json!({"images": [img], "visibility": "everyone"}),
            "visibility",
            "not a visibility",
        ),
        (
            json!({"images": [img], "publisher": "nope"}),
            "publisher",
            "not configured",
        ),
    ];
    for (extra, field, says) in cases {
        let r = w.call("publish_note", note(extra.clone())).await;
        let t = text(&r);
        assert!(is_error(&r), "{extra}: {t}");
        assert!(t.starts_with("Nothing was sent"), "{t}");
        let lines = problem_lines(&t, field);
        assert_eq!(lines.len(), 1, "{field} in {t}");
        assert!(lines[0].contains(says), "{field}: {t}");
    }
    // Several at once: every one on its own line.
    let r = w
        .call(
            "publish_note",
            note(json!({
                "title": "a".repeat(41),
                "content": "",
                "images": ["missing.png", "fake.png"],
                "visibility": "everyone",
            })),
        )
        .await;
    let t = text(&r);
    assert!(t.contains("5 problem(s)"), "{t}");
    assert_eq!(problem_lines(&t, "title").len(), 1, "{t}");
    assert!(
        problem_lines(&t, "title")[0].contains("measures 21 units"),
        "{t}"
    );
    assert_eq!(problem_lines(&t, "content").len(), 1, "{t}");
    assert_eq!(problem_lines(&t, "images").len(), 2, "{t}");
    assert_eq!(problem_lines(&t, "visibility").len(), 1, "{t}");
    assert_eq!(w.publish_requests(&w.main), 0, "nothing may be sent");
    assert!(w.hook.received().is_empty());
    let notes = w.call("list_notes", json!({})).await;
    assert_eq!(
        structured(&notes)["notes"],
        json!([]),
        "refusals are not records"
    );
}

#[tokio::test]
async fn two_accounts_each_get_exactly_their_note() {
    let w = world(XhsConfig::default()).await;
    let (_, paths) = w.images(2).await;
    let a = w
        .call(
            "publish_note",
            note(json!({"title": "主账号的笔记", "images": [paths[0]], "visibility": "private"})),
        )
        .await;
    assert!(!is_error(&a), "{}", text(&a));
    let s = structured(&a);
    assert_eq!(s["outcome"], "published");
    assert_eq!(s["published"], true);
    assert_eq!(s["publisher"], "main");
    assert!(text(&a).starts_with("Published:"), "{}", text(&a));
    let b = w
        .call(
            "publish_note",
            note(json!({"publisher": "alt", "title": "第二个账号", "images": [paths[1]]})),
        )
        .await;
    assert!(!is_error(&b), "{}", text(&b));
    let main = w.main.published();
    let alt = w.alt.published();
    assert_eq!(main.len(), 1);
    assert_eq!(alt.len(), 1);
    assert_eq!(main[0]["title"], "主账号的笔记");
    assert_eq!(main[0]["visibility"], "仅自己可见");
    assert_eq!(main[0]["images"], json!([paths[0]]));
    assert_eq!(main[0]["tags_used"], json!(["咖啡", "探店"]));
    assert_eq!(alt[0]["title"], "第二个账号");
    assert_eq!(alt[0]["images"], json!([paths[1]]));
    // main's token went to main only.
    let publish = w
        .main
        .requests()
        .into_iter()
        .find(|r| r.path == "/api/v1/publish")
        .expect("publish request");
    assert_eq!(
        publish.header("authorization"),
        Some(format!("Bearer {MAIN_TOKEN}").as_str())
    );
    assert!(
        w.alt
            .requests()
            .iter()
            .all(|r| r.header("authorization").is_none())
    );
}

#[tokio::test]
async fn a_logged_out_account_gets_a_qr_code_and_then_logs_in() {
    let w = world(XhsConfig {
        logged_in: false,
        ..XhsConfig::default()
    })
    .await;
    let r = w
        .call("publisher_status", json!({"publisher": "main"}))
        .await;
    assert!(!is_error(&r), "{}", text(&r));
    let s = structured(&r);
    let status = &s["publishers"][0];
    assert_eq!(status["state"], "logged_out");
    assert_eq!(status["ready"], false);
    assert_eq!(status["qr"]["valid_seconds"], 240);
    let path = PathBuf::from(status["qr"]["path"].as_str().expect("qr path"));
    assert!(path.starts_with(&w.out) && path.is_file(), "{path:?}");
    assert!(
        path.to_string_lossy().contains("login/main-qr-"),
        "{path:?}"
    );
    assert!(text(&r).contains("within 240 s"), "{}", text(&r));
    let image = r
        .content
        .iter()
        .find_map(|c| c.as_image().cloned())
        .expect("inline QR image");
    assert_eq!(image.mime_type, "image/png");
    let png = base64::engine::general_purpose::STANDARD
        .decode(&image.data)
        .expect("base64");
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n"),
        "inline image is a PNG"
    );
    assert_eq!(png, std::fs::read(&path).expect("saved"), "same picture");

    // Publishing while logged out fails at once, without sending.
    let (_, paths) = w.images(1).await;
    let p = w
        .call("publish_note", note(json!({"images": [paths[0]]})))
        .await;
    assert!(is_error(&p));
    assert_eq!(structured(&p)["outcome"], "failed");
    assert!(text(&p).contains("logged out"), "{}", text(&p));
    assert_eq!(w.publish_requests(&w.main), 0);

    w.main.scan();
    let r = w
        .call(
            "publisher_status",
            json!({"publisher": "main", "login": false}),
        )
        .await;
    let status = &structured(&r)["publishers"][0];
    assert_eq!(status["state"], "logged_in", "{}", text(&r));
    assert_eq!(status["ready"], true);
    assert_eq!(status["username"], "小明");
    // Every publisher when none is named: the draft and the webhook are ready too.
    let all = w.call("publisher_status", json!({})).await;
    let list = structured(&all)["publishers"].clone();
    let states: Vec<(String, String)> = list
        .as_array()
        .expect("list")
        .iter()
        .map(|p| {
            (
                p["publisher"].as_str().unwrap_or("").to_string(),
                p["state"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert!(
        states.contains(&("draft".into(), "ready".into())),
        "{states:?}"
    );
    assert!(
        states.contains(&("hook".into(), "configured".into())),
        "{states:?}"
    );
}

#[tokio::test]
async fn an_answer_without_confirmation_is_unconfirmed_not_success() {
    let w = world(XhsConfig {
        answer_without_status: true,
        ..XhsConfig::default()
    })
    .await;
    let (_, paths) = w.images(1).await;
    let r = w
        .call("publish_note", note(json!({"images": [paths[0]]})))
        .await;
    let t = text(&r);
    assert!(is_error(&r), "unconfirmed is not success: {t}");
    let s = structured(&r);
    assert_eq!(s["outcome"], "unconfirmed");
    assert_eq!(s["published"], false);
    assert!(t.starts_with("UNCONFIRMED"), "{t}");
    assert!(
        t.contains("the service answered without confirming; check the account before retrying — publishing is not idempotent"),
        "{t}"
    );
    assert_eq!(
        s["answer"]["message"], "发布成功",
        "the answer is passed on"
    );
    assert_eq!(w.publish_requests(&w.main), 1, "never retried");
}

#[tokio::test]
async fn a_site_that_does_not_confirm_is_not_published_with_the_details() {
    let w = world(XhsConfig {
        unconfirmed: true,
        ..XhsConfig::default()
    })
    .await;
    let (_, paths) = w.images(1).await;
    let r = w
        .call("publish_note", note(json!({"images": [paths[0]]})))
        .await;
    let t = text(&r);
    assert!(is_error(&r));
    let s = structured(&r);
    assert_eq!(s["outcome"], "failed");
    assert_eq!(s["http_status"], 500);
    assert!(t.starts_with("NOT PUBLISHED"), "{t}");
    assert!(
        t.contains(
            "小红书发布失败: 发布未确认成功：点击发布后未跳转离开发布页（可能校验未过或被拦截）"
        ),
        "details verbatim: {t}"
    );
    assert!(t.contains("PUBLISH_FAILED"), "{t}");
    assert!(t.contains("the site did not confirm the publish"), "{t}");
    assert_eq!(w.publish_requests(&w.main), 1, "never retried");
}

#[tokio::test]
async fn no_answer_in_time_is_unknown_and_never_retried() {
    // The service keeps "typing" forever; easel gives up after the 1 s time-out.
    let w = world_with(
        XhsConfig {
            hang: true,
            ..XhsConfig::default()
        },
        "timeout_secs = 1\n",
    )
    .await;
    let (_, paths) = w.images(1).await;
    let r = w
        .call("publish_note", note(json!({"images": [paths[0]]})))
        .await;
    let t = text(&r);
    assert!(is_error(&r), "{t}");
    assert_eq!(structured(&r)["outcome"], "unknown");
    assert!(t.starts_with("UNKNOWN whether it was published"), "{t}");
    assert!(t.contains("publishing is not idempotent"), "{t}");
    assert_eq!(w.publish_requests(&w.main), 1, "never retried");
    let notes = w.call("list_notes", json!({})).await;
    assert_eq!(structured(&notes)["notes"][0]["outcome"], "unknown");
}

#[tokio::test]
async fn a_draft_folder_holds_copies_and_the_note() {
    let w = world(XhsConfig::default()).await;
    let (job, paths) = w.images(2).await;
    let r = w
        .call(
            "publish_note",
            note(json!({"publisher": "draft", "images": [job], "tags": ["#咖啡", "探店"]})),
        )
        .await;
    assert!(!is_error(&r), "{}", text(&r));
    let s = structured(&r);
    assert_eq!(s["outcome"], "published");
    let folder = PathBuf::from(s["location"].as_str().expect("folder"));
    assert!(folder.starts_with(w.out.join("drafts")), "{folder:?}");
    let name = folder
        .file_name()
        .expect("name")
        .to_string_lossy()
        .to_string();
    assert!(name.ends_with("-秋天的第一杯咖啡"), "{name}");
    for (i, src) in paths.iter().enumerate() {
        let copy = folder.join(format!("{:02}.png", i + 1));
        assert_eq!(
            std::fs::read(&copy).expect("copy"),
            std::fs::read(src).expect("source"),
            "{copy:?}"
        );
    }
    let md = std::fs::read_to_string(folder.join("note.md")).expect("note.md");
    assert!(
        md.starts_with("# 秋天的第一杯咖啡\n\n今天去了一家新开的咖啡店"),
        "{md}"
    );
    assert!(md.contains("#咖啡 #探店"), "{md}");
    assert!(
        md.contains("![](01.png)") && md.contains("![](02.png)"),
        "{md}"
    );
    let j: Value =
        serde_json::from_str(&std::fs::read_to_string(folder.join("note.json")).expect("json"))
            .expect("parses");
    assert_eq!(j["title"], "秋天的第一杯咖啡");
    assert_eq!(j["tags"], json!(["咖啡", "探店"]));
    assert_eq!(j["images"][1]["file"], "02.png");
    assert_eq!(j["images"][0]["original"], paths[0]);
    assert_eq!(j["publisher"], "draft");
    // A second draft of the same note never reuses the folder.
    let again = w
        .call(
            "publish_note",
            note(json!({"publisher": "draft", "images": [paths[0]]})),
        )
        .await;
    let other = structured(&again)["location"]
        .as_str()
        .expect("f")
        .to_string();
    assert_ne!(Path::new(&other), folder);
    assert_eq!(
        std::fs::read_dir(&folder).expect("ls").count(),
        4,
        "untouched"
    );
}

#[tokio::test]
async fn the_webhook_gets_the_prototype_body_with_images_by_job_and_uri() {
    let w = world(XhsConfig::default()).await;
    let (job, paths) = w.images(2).await;
    let uri = format!("easel://jobs/{job}/images/1");
    let relative = Path::new(&paths[0])
        .strip_prefix(&w.out)
        .expect("inside")
        .display()
        .to_string();
    let r = w
        .call(
            "publish_note",
            note(json!({"publisher": "hook", "images": [job, uri, relative]})),
        )
        .await;
    assert!(!is_error(&r), "{}", text(&r));
    // A webhook's path is often its secret (Slack, Discord, Feishu): only the origin shows.
    let whole = serde_json::to_string(&r).expect("json");
    assert!(
        !whole.contains("/create"),
        "the webhook path leaked: {whole}"
    );
    let s = structured(&r);
    assert_eq!(s["outcome"], "published");
    assert_eq!(s["http_status"], 200);
    assert_eq!(
        s["answer"]["success"], true,
        "the receiver's body is returned"
    );
    let got = w.hook.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].header("x-api-key"), Some("hook-key"));
    let body = got[0].body.clone().expect("json body");
    let keys: Vec<&str> = body
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys.len(), 4, "{body}");
    assert_eq!(body["title"], "秋天的第一杯咖啡");
    assert_eq!(body["desc"], "今天去了一家新开的咖啡店，拿铁很香。");
    assert_eq!(body["tags"], json!(["咖啡", "探店"]));
    assert_eq!(
        body["images"],
        json!([paths[0], paths[1], paths[1], paths[0]]),
        "job id → all its images, URI → one, relative path → absolute"
    );
    for p in body["images"].as_array().expect("images") {
        assert!(Path::new(p.as_str().expect("s")).is_absolute());
    }
}

#[tokio::test]
async fn every_publish_is_recorded_with_its_outcome() {
    let w = world(XhsConfig::default()).await;
    let (_, paths) = w.images(1).await;
    let ok = w
        .call("publish_note", note(json!({"images": [paths[0]]})))
        .await;
    assert!(!is_error(&ok), "{}", text(&ok));
    w.main.update(|c| c.answer_without_status = true);
    let unsure = w
        .call(
            "publish_note",
            note(json!({"title": "第二篇", "images": [paths[0]]})),
        )
        .await;
    assert!(is_error(&unsure));
    let r = w.call("list_notes", json!({"publisher": "main"})).await;
    let notes = structured(&r)["notes"].clone();
    let notes = notes.as_array().expect("notes");
    assert_eq!(notes.len(), 2, "{}", text(&r));
    // Newest first.
    assert_eq!(notes[0]["outcome"], "unconfirmed");
    assert_eq!(notes[0]["note"]["title"], "第二篇");
    assert_eq!(notes[1]["outcome"], "published");
    assert_eq!(notes[1]["publisher"], "main");
    assert_eq!(notes[1]["kind"], "xiaohongshu");
    assert_eq!(notes[1]["note"]["images"], json!([paths[0]]));
    assert_eq!(notes[1]["note"]["tags"], json!(["咖啡", "探店"]));
    assert_eq!(notes[1]["answer"]["data"]["status"], "发布完成");
    assert_eq!(
        structured(&ok)["record_id"],
        notes[1]["id"],
        "the report names its record"
    );
}

#[tokio::test]
async fn the_note_prompt_states_the_limits_and_the_images() {
    let w = world(XhsConfig::default()).await;
    let mut params = GetPromptRequestParams::new("xiaohongshu_note");
    params.arguments = json!({"topic": "秋天的咖啡", "images": "a.png, job-1", "tone": "温暖"})
        .as_object()
        .cloned();
    let p = w.client.get_prompt(params).await.expect("prompt");
    let said = serde_json::to_string(&p.messages).expect("json");
    for needle in [
        "秋天的咖啡",
        "温暖",
        "a.png, job-1",
        "20",
        "1000",
        "publish_note",
    ] {
        assert!(said.contains(needle), "{needle}: {said}");
    }
    let tools = w.client.list_all_tools().await.expect("tools");
    for name in ["publish_note", "publisher_status", "list_notes"] {
        assert!(tools.iter().any(|t| t.name == name), "{name}");
    }
    let publish = tools
        .iter()
        .find(|t| t.name == "publish_note")
        .expect("publish_note");
    assert_eq!(
        publish.input_schema.get("required"),
        Some(&json!(["title", "content", "images"]))
    );
    // Missing required fields are problems like any other, all listed at once.
    let r = w.call("publish_note", json!({"tags": ["a"]})).await;
    let t = text(&r);
    assert!(t.contains("3 problem(s)"), "{t}");
    for field in ["title", "content", "images"] {
        assert_eq!(problem_lines(&t, field).len(), 1, "{field}: {t}");
    }
}

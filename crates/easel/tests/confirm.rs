//! Asking before publishing or spending, through real rmcp clients: one that answers
//! elicitation forms (yes, no, dismiss, unticked, never), one that cannot (it must send
//! `confirm: true`), and a 2026-07-28 client answering input-required results (MRTR).
//! The simulators count what reached them: nothing may be published or submitted unless
//! the user said yes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::common::*;
use easel::config::Config;
use easel_sim::{ModelScopeConfig, ModelScopeSim, XhsConfig, XhsSim};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ClientCapabilities, ClientConfig,
    ElicitRequestParams, ElicitResult, ElicitationAction, Implementation, ProtocolVersion,
};
use rmcp::service::{
    ClientLifecycleMode, ClientServiceExt, RequestContext, RoleClient, RunningService,
};
use rmcp::{ClientHandler, ErrorData as McpError, ServiceExt};
use serde_json::{Value, json};

/// How the test user answers a confirmation form.
#[derive(Clone, Copy, Debug)]
enum Answer {
    Yes,
    No,
    Dismiss,
    /// Sends the form back without ticking the box.
    Unticked,
    /// Never answers (the server's time-out decides).
    Never,
}

/// A client that shows forms to a scripted user and remembers every question.
#[derive(Clone)]
struct User {
    answer: Arc<Mutex<Answer>>,
    asked: Arc<Mutex<Vec<String>>>,
}

impl User {
    fn new(answer: Answer) -> User {
        User {
            answer: Arc::new(Mutex::new(answer)),
            asked: Arc::default(),
        }
    }

    fn answers(&self, answer: Answer) {
        *self.answer.lock().expect("answer") = answer;
    }

    fn questions(&self) -> Vec<String> {
        self.asked.lock().expect("asked").clone()
    }
}

impl ClientHandler for User {
    fn get_info(&self) -> ClientConfig {
        ClientConfig::new(
            ClientCapabilities::builder().enable_elicitation().build(),
            Implementation::new("confirm-test", "1"),
        )
    }

    async fn create_elicitation(
        &self,
        request: ElicitRequestParams,
        _: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, McpError> {
        let ElicitRequestParams::FormElicitationParams {
            message,
            requested_schema,
            ..
        } = request
        else {
            panic!("easel asks through forms only");
        };
        // Never a secret through a form: the only field is the yes box.
        let schema = serde_json::to_value(&requested_schema).expect("schema");
        let fields: Vec<&String> = schema["properties"]
            .as_object()
            .expect("properties")
            .keys()
            .collect();
        assert_eq!(fields, ["confirm"], "{schema}");
        assert_eq!(schema["properties"]["confirm"]["type"], "boolean");
        self.asked.lock().expect("asked").push(message);
        let answer = *self.answer.lock().expect("answer");
        let mut result = ElicitResult::new(match answer {
            Answer::Yes | Answer::Unticked => ElicitationAction::Accept,
            Answer::No => ElicitationAction::Decline,
            Answer::Dismiss => ElicitationAction::Cancel,
            Answer::Never => std::future::pending().await,
        });
        result.content = match answer {
            Answer::Yes => Some(json!({"confirm": true})),
            Answer::Unticked => Some(json!({"confirm": false})),
            _ => None,
        };
        Ok(result)
    }
}

/// How the client connects.
#[derive(Clone, Copy, PartialEq)]
enum Era {
    /// `initialize`, a session: server-to-client requests work.
    Session,
    /// 2026-07-28 through `server/discover`: stateless, input-required results.
    Stateless,
}

async fn connect<H: ClientHandler>(
    config: &Config,
    handler: H,
    era: Era,
) -> RunningService<RoleClient, H> {
    let app = easel::app::build(config, easel::app::Storage::Durable).expect("app");
    app.jobs.start_background(true);
    let server = app.server(config);
    let (server_io, client_io) = tokio::io::duplex(1 << 16);
    tokio::spawn(async move {
        if let Ok(running) = server.serve(server_io).await {
            let _ = running.waiting().await;
        }
    });
    match era {
        Era::Session => handler.serve(client_io).await.expect("client"),
        Era::Stateless => handler
            .serve_with_lifecycle(
                client_io,
                ClientLifecycleMode::Discover {
                    preferred_versions: vec![ProtocolVersion::V_2026_07_28],
                },
            )
            .await
            .expect("client"),
    }
}

/// `call_tool` drives input-required rounds through the client's handler, as a real
/// 2026-07-28 client does.
async fn call_tool<H: ClientHandler>(
    client: &RunningService<RoleClient, H>,
    tool: &str,
    args: Value,
) -> CallToolResult {
    let mut params = CallToolRequestParams::new(tool.to_string());
    params.arguments = args.as_object().cloned();
    client.call_tool(params).await.expect("tools/call answered")
}

/// ModelScope (paid) and one Xiaohongshu account `main` (the default publisher), with
/// confirmation on (`extra` may change that).
struct World {
    modelscope: ModelScopeSim,
    xhs: XhsSim,
    _dir: tempfile::TempDir,
    config: Config,
}

async fn world(extra: &[(&str, &str)]) -> World {
    easel::logging::install_tls_provider();
    let modelscope = ModelScopeSim::start(ModelScopeConfig::default())
        .await
        .expect("modelscope");
    let xhs = XhsSim::start(XhsConfig::default()).await.expect("xhs");
    let dir = tempfile::tempdir().expect("dir");
    // Asking on (the shared harness turns it off); `extra` comes later and wins.
    let mut all = vec![("EASEL_CONFIRM", "true")];
    all.extend_from_slice(extra);
    let env: HashMap<String, String> = test_env(&modelscope, &dir.path().join("out"), &all);
    let file = dir.path().join("easel.toml");
    std::fs::write(
        &file,
        format!(
            "default_publisher = \"main\"\n[publishers.main]\nkind = \"xiaohongshu\"\nurl = \"{}\"\n",
            xhs.base_url()
        ),
    )
    .expect("toml");
    let config = Config::load_with(Some(&file), &|k| env.get(k).cloned()).expect("config");
    World {
        modelscope,
        xhs,
        _dir: dir,
        config,
    }
}

impl World {
    fn published(&self) -> usize {
        self.xhs.published().len()
    }

    /// One image to publish, made without asking (one paid image is under the threshold).
    async fn image<H: ClientHandler>(&self, client: &RunningService<RoleClient, H>) -> String {
        let r = call_tool(client, "generate_image", gen_args(json!({}))).await;
        assert!(!is_error(&r), "{}", text(&r));
        structured(&r)["files"][0]["path"]
            .as_str()
            .expect("path")
            .to_string()
    }
}

fn note(image: &str) -> Value {
    json!({
        "title": "秋天的第一杯咖啡",
        "content": "今天去了一家新开的咖啡店。",
        "images": [image],
        "visibility": "private",
    })
}

fn with_confirm(mut args: Value) -> Value {
    args["confirm"] = json!(true);
    args
}

#[tokio::test]
async fn a_user_who_says_yes_sees_the_note_and_it_is_published_once() {
    let w = world(&[]).await;
    let user = User::new(Answer::Yes);
    let client = connect(&w.config, user.clone(), Era::Session).await;
    let img = w.image(&client).await;
    assert!(user.questions().is_empty(), "one paid image asks nothing");
    let r = call_tool(&client, "publish_note", note(&img)).await;
    assert!(!is_error(&r), "{}", text(&r));
    assert_eq!(structured(&r)["outcome"], "published");
    assert_eq!(w.published(), 1);
    let asked = user.questions();
    assert_eq!(asked.len(), 1, "{asked:?}");
    for shown in [
        "秋天的第一杯咖啡",
        "images: 1",
        "\"main\"",
        "仅自己可见",
        "public",
    ] {
        assert!(asked[0].contains(shown), "{shown} not in {}", asked[0]);
    }
}

#[tokio::test]
async fn no_dismissed_unticked_or_unanswered_publishes_nothing() {
    let w = world(&[("EASEL_CONFIRM_TIMEOUT_SECS", "1")]).await;
    let user = User::new(Answer::Yes);
    let client = connect(&w.config, user.clone(), Era::Session).await;
    let img = w.image(&client).await;
    for (answer, says) in [
        (Answer::No, "the user declined"),
        (Answer::Dismiss, "dismissed"),
        (Answer::Unticked, "without ticking"),
        (Answer::Never, "did not answer the confirmation within 1 s"),
    ] {
        user.answers(answer);
        // The model's own confirm: true does not replace the user's answer.
        let r = call_tool(&client, "publish_note", with_confirm(note(&img))).await;
        let t = text(&r);
        assert!(is_error(&r), "{answer:?}: {t}");
        assert!(t.starts_with("NOT CONFIRMED"), "{t}");
        assert!(t.contains(says), "{answer:?}: {t}");
        assert!(t.contains("nothing was published"), "{t}");
    }
    assert_eq!(user.questions().len(), 4);
    assert_eq!(w.published(), 0);
    let notes = call_tool(&client, "list_notes", json!({})).await;
    assert_eq!(structured(&notes)["notes"], json!([]), "nothing recorded");
}

#[tokio::test]
async fn a_client_that_cannot_ask_needs_confirm_true() {
    let w = world(&[]).await;
    let client = connect(&w.config, Recorder::default(), Era::Session).await;
    let img = w.image(&client).await;
    let r = call_tool(&client, "publish_note", note(&img)).await;
    let t = text(&r);
    assert!(is_error(&r), "{t}");
    assert!(
        t.starts_with("CONFIRMATION NEEDED: nothing was published"),
        "{t}"
    );
    assert!(
        t.contains("秋天的第一杯咖啡") && t.contains("images: 1"),
        "{t}"
    );
    assert!(
        t.contains("call publish_note again with the same arguments plus \"confirm\": true"),
        "{t}"
    );
    assert_eq!(w.published(), 0);

    let r = call_tool(&client, "publish_note", with_confirm(note(&img))).await;
    assert!(!is_error(&r), "{}", text(&r));
    assert_eq!(w.published(), 1);
}

#[tokio::test]
async fn paid_images_above_the_threshold_are_asked_for_and_counted_per_call() {
    let w = world(&[("EASEL_CONFIRM_SPEND_THRESHOLD", "4")]).await;
    let client = connect(&w.config, Recorder::default(), Era::Session).await;
    let before = w.modelscope.submissions();
    let r = call_tool(&client, "generate_image", gen_args(json!({"count": 5}))).await;
    let t = text(&r);
    assert!(is_error(&r), "{t}");
    assert!(t.contains("nothing was submitted to a backend"), "{t}");
    assert!(
        t.contains("5 image(s)") && t.contains("5 on modelscope"),
        "{t}"
    );
    // A batch counts all its lines: 3 lines of 2 images.
    let batch = json!({"prompts": ["a", "b", {"prompt": "c", "count": 2}], "defaults": {"count": 2, "size": "256x256"}});
    let r = call_tool(&client, "generate_batch", batch.clone()).await;
    let t = text(&r);
    assert!(
        is_error(&r) && t.contains("6 image(s)") && t.contains("3 line(s)"),
        "{t}"
    );
    assert_eq!(w.modelscope.submissions(), before, "nothing submitted");

    let r = call_tool(&client, "generate_image", gen_args(json!({"count": 4}))).await;
    assert!(
        !is_error(&r),
        "at the threshold nothing is asked: {}",
        text(&r)
    );
    assert_eq!(w.modelscope.submissions(), before + 4);
    let r = call_tool(
        &client,
        "generate_image",
        with_confirm(gen_args(json!({"count": 5}))),
    )
    .await;
    assert!(!is_error(&r), "{}", text(&r));
    assert_eq!(w.modelscope.submissions(), before + 9);
    let r = call_tool(&client, "generate_batch", with_confirm(batch)).await;
    assert!(!is_error(&r), "{}", text(&r));
    assert_eq!(w.modelscope.submissions(), before + 15);
}

#[tokio::test]
async fn a_user_decides_a_large_paid_generation() {
    let w = world(&[]).await;
    let user = User::new(Answer::No);
    let client = connect(&w.config, user.clone(), Era::Session).await;
    let before = w.modelscope.submissions();
    let r = call_tool(&client, "generate_image", gen_args(json!({"count": 6}))).await;
    assert!(
        is_error(&r) && text(&r).contains("the user declined"),
        "{}",
        text(&r)
    );
    assert_eq!(w.modelscope.submissions(), before);
    user.answers(Answer::Yes);
    let r = call_tool(&client, "generate_image", gen_args(json!({"count": 6}))).await;
    assert!(!is_error(&r), "{}", text(&r));
    assert_eq!(w.modelscope.submissions(), before + 6);
    let asked = user.questions();
    assert_eq!(asked.len(), 2);
    assert!(asked[1].contains("6 on modelscope"), "{}", asked[1]);
}

#[tokio::test]
async fn confirmation_off_never_asks() {
    let w = world(&[("EASEL_CONFIRM", "false")]).await;
    let user = User::new(Answer::No);
    let client = connect(&w.config, user.clone(), Era::Session).await;
    let before = w.modelscope.submissions();
    let r = call_tool(&client, "generate_image", gen_args(json!({"count": 8}))).await;
    assert!(!is_error(&r), "{}", text(&r));
    let img = structured(&r)["files"][0]["path"]
        .as_str()
        .expect("path")
        .to_string();
    let r = call_tool(&client, "publish_note", note(&img)).await;
    assert!(!is_error(&r), "{}", text(&r));
    assert!(user.questions().is_empty());
    assert_eq!(w.modelscope.submissions(), before + 8);
    assert_eq!(w.published(), 1);
}

#[tokio::test]
async fn confirm_on_a_tool_that_never_asks_is_named_and_refused() {
    let w = world(&[]).await;
    let client = connect(&w.config, Recorder::default(), Era::Session).await;
    for (tool, args) in [
        ("list_jobs", json!({"confirm": true})),
        ("get_job", json!({"job_id": "x", "confirm": true})),
        (
            "publisher_status",
            json!({"confirm": false, "login": false}),
        ),
    ] {
        let r = call_tool(&client, tool, args).await;
        let t = text(&r);
        assert!(is_error(&r), "{tool}: {t}");
        assert!(
            t.starts_with(&format!("confirm: {tool} never needs a confirmation")),
            "{t}"
        );
        assert!(
            t.contains(&format!("Remove \"confirm\" and call {tool} again")),
            "{t}"
        );
    }
}

#[tokio::test]
async fn a_2026_client_answers_through_input_required_rounds() {
    let w = world(&[]).await;
    let user = User::new(Answer::No);
    let client = connect(&w.config, user.clone(), Era::Stateless).await;
    let negotiated = client
        .peer()
        .peer_info()
        .map(|i| i.protocol_version.clone());
    assert_eq!(negotiated, Some(ProtocolVersion::V_2026_07_28));
    let img = w.image(&client).await;
    let r = call_tool(&client, "publish_note", note(&img)).await;
    assert!(
        is_error(&r) && text(&r).contains("the user declined"),
        "{}",
        text(&r)
    );
    assert_eq!(w.published(), 0);
    user.answers(Answer::Yes);
    let r = call_tool(&client, "publish_note", note(&img)).await;
    assert!(!is_error(&r), "{}", text(&r));
    assert_eq!(w.published(), 1);
    let asked = user.questions();
    assert_eq!(asked.len(), 2, "{asked:?}");
    assert!(asked[1].contains("秋天的第一杯咖啡"), "{}", asked[1]);
}

#[tokio::test]
async fn a_2026_client_without_forms_needs_confirm_true() {
    let w = world(&[]).await;
    let client = connect(&w.config, Recorder::default(), Era::Stateless).await;
    let before = w.modelscope.submissions();
    let r = call_tool(&client, "generate_image", gen_args(json!({"count": 5}))).await;
    assert!(
        is_error(&r) && text(&r).starts_with("CONFIRMATION NEEDED"),
        "{}",
        text(&r)
    );
    assert_eq!(w.modelscope.submissions(), before);
    let r = call_tool(
        &client,
        "generate_image",
        with_confirm(gen_args(json!({"count": 5}))),
    )
    .await;
    assert!(!is_error(&r), "{}", text(&r));
    assert_eq!(w.modelscope.submissions(), before + 5);
}

/// Keys are never asked for in a form: a missing one is explained with where to make it.
#[tokio::test]
async fn a_missing_key_says_where_to_create_it() {
    let w = world(&[
        ("MODELSCOPE_SDK_TOKEN", ""),
        ("OPENAI_API_KEY", ""),
        ("OPENAI_BASE_URL", ""),
    ])
    .await;
    let user = User::new(Answer::Yes);
    let client = connect(&w.config, user.clone(), Era::Session).await;
    for (backend, page) in [
        ("modelscope", "https://modelscope.cn/my/myaccesstoken"),
        ("openai", "https://platform.openai.com/api-keys"),
    ] {
        let r = call_tool(
            &client,
            "generate_image",
            gen_args(json!({"backend": backend})),
        )
        .await;
        let t = text(&r);
        assert!(is_error(&r), "{backend}: {t}");
        assert!(t.contains(page), "{backend}: {t}");
    }
    assert!(user.questions().is_empty(), "no form ever asks for a key");
    assert_eq!(w.modelscope.submissions(), 0);
}

/// ComfyUI runs on the user's own GPU: no image of it is paid, so nothing is asked.
#[tokio::test]
async fn comfyui_images_are_never_counted_as_spending() {
    let h = start_comfy(
        easel_sim::ComfyConfig::default(),
        &[
            ("EASEL_CONFIRM", "true"),
            ("EASEL_CONFIRM_SPEND_THRESHOLD", "0"),
        ],
    )
    .await;
    let r = h
        .call(
            "generate_image",
            json!({"prompt": "a kite", "size": "256x256", "count": 8}),
        )
        .await;
    assert!(!is_error(&r), "{}", text(&r));
    assert_eq!(structured(&r)["files"].as_array().map(Vec::len), Some(8));
}

/// A task-declaring client reaches the tools without the router (the task path): the
/// same gate stands in front of it, and only a confirmed call becomes a task.
#[tokio::test]
async fn a_task_is_made_only_after_confirmation() {
    let w = world(&[("EASEL_CONFIRM_SPEND_THRESHOLD", "4")]).await;
    let tasks = Recorder {
        tasks: true,
        ..Recorder::default()
    };
    let client = connect(&w.config, tasks, Era::Session).await;
    let once = |tool: &str, args: Value| {
        let mut params = CallToolRequestParams::new(tool.to_string());
        params.arguments = args.as_object().cloned();
        client.call_tool_once(params)
    };
    let before = w.modelscope.submissions();
    let r = once("generate_image", gen_args(json!({"count": 5})))
        .await
        .expect("answered");
    let CallToolResponse::Complete(stop) = r else {
        panic!("an unconfirmed spend became {r:?}");
    };
    assert!(
        is_error(&stop) && text(&stop).contains("nothing was submitted"),
        "{}",
        text(&stop)
    );
    assert_eq!(w.modelscope.submissions(), before, "nothing submitted");

    let r = once(
        "generate_image",
        with_confirm(gen_args(json!({"count": 5}))),
    )
    .await
    .expect("answered");
    assert!(
        matches!(r, CallToolResponse::Task(_)),
        "a confirmed call is a task: {r:?}"
    );
}

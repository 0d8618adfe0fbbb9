//! MCP tasks (SEP-2663) through rmcp's client: a client declaring the tasks extension gets a
//! task whose id is the job id, polls it to the same result get_job gives, cancels it; a
//! client that does not declare tasks keeps wait-then-job_id; bad ids and bad arguments get
//! clear answers. Restarts and a second process are in `tasks_durable.rs`.

use std::time::{Duration, Instant};

use crate::common::*;
use easel_sim::ModelScopeConfig;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, CancelTaskParams, GetTaskParams,
    GetTaskResult, TaskPayload, TaskStatus,
};
use rmcp::service::{RoleClient, RunningService, ServiceError};
use serde_json::{Value, json};

/// A harness whose client declares tasks, and a second client on the same easel that does not.
async fn start_with_tasks(
    sim: ModelScopeConfig,
) -> (Harness, RunningService<RoleClient, Recorder>) {
    let h = start(sim, &[]).await;
    let (tasks, _) = serve_as(
        &h.config,
        Recorder {
            tasks: true,
            ..Recorder::default()
        },
    )
    .await;
    (h, tasks)
}

async fn call_once(
    client: &RunningService<RoleClient, Recorder>,
    tool: &str,
    args: Value,
) -> CallToolResponse {
    let mut params = CallToolRequestParams::new(tool.to_string());
    params.arguments = args.as_object().cloned();
    client
        .call_tool_once(params)
        .await
        .expect("tools/call answered")
}

fn task_id(r: &CallToolResponse) -> String {
    match r {
        CallToolResponse::Task(t) => t.task.task_id.clone(),
        other => panic!("expected a task, got {other:?}"),
    }
}

fn complete(r: CallToolResponse) -> CallToolResult {
    match r {
        CallToolResponse::Complete(c) => c,
        other => panic!("expected a complete result, got {other:?}"),
    }
}

/// Polls tasks/get (as a task client does) until the task ends, bounded.
async fn until_terminal(client: &RunningService<RoleClient, Recorder>, id: &str) -> GetTaskResult {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let got = client
            .get_task(GetTaskParams::new(id))
            .await
            .expect("tasks/get");
        if got.task.status().is_terminal() {
            return got;
        }
        assert!(Instant::now() < deadline, "task never ended: {got:?}");
        let poll = got.task.task.poll_interval_ms.unwrap_or(20).min(200);
        tokio::time::sleep(Duration::from_millis(poll)).await;
    }
}

/// A completed task's result, read as the tool result it is. Its `resultType: "complete"`
/// is dropped: rmcp's client consumes that of a tools/call answer as the discriminator.
fn result_of(got: &GetTaskResult) -> CallToolResult {
    match &got.task.payload {
        TaskPayload::Completed { result } => {
            let mut r: CallToolResult =
                serde_json::from_value(Value::Object(result.clone())).expect("a tool result");
            assert!(r.result_type.take().is_some_and(|t| t.is_complete()));
            r
        }
        other => panic!("expected completed, got {other:?}"),
    }
}

fn rpc_error(e: ServiceError) -> rmcp::ErrorData {
    match e {
        ServiceError::McpError(e) => e,
        other => panic!("expected a JSON-RPC error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_declaring_client_gets_a_task_that_completes_with_get_jobs_result() {
    let (h, tasks) = start_with_tasks(ModelScopeConfig {
        latency: Duration::from_millis(300),
        ..Default::default()
    })
    .await;
    let created = call_once(&tasks, "generate_image", gen_args(json!({"count": 2}))).await;
    let CallToolResponse::Task(created) = created else {
        panic!("expected a task, got {created:?}");
    };
    let id = created.task.task_id.clone();
    assert_eq!(created.task.status, TaskStatus::Working);
    // ModelScope's poll ceiling in the test environment (EASEL_MODELSCOPE_POLL_MAX_MS).
    assert_eq!(created.task.poll_interval_ms, Some(20));
    assert_eq!(created.task.ttl_ms, None, "jobs are kept until pruned");
    assert!(created.task.created_at.ends_with('Z'), "{:?}", created.task);

    // The task id is the job id: get_job knows it, with the same creation time.
    let running = h
        .call("get_job", json!({"job_id": id, "wait_seconds": 0}))
        .await;
    assert_eq!(structured(&running)["job_id"], id.as_str());

    let done = until_terminal(&tasks, &id).await;
    assert_eq!(done.task.status(), TaskStatus::Completed);
    let via_job = h.call("get_job", json!({"job_id": id})).await;
    assert_eq!(
        result_of(&done),
        via_job,
        "tasks/get carries what get_job returns"
    );
    assert_eq!(
        structured(&via_job)["files"].as_array().map(Vec::len),
        Some(2)
    );
}

#[tokio::test]
async fn a_failed_generation_completes_with_the_tool_error() {
    let (h, tasks) = start_with_tasks(ModelScopeConfig {
        failure_rate: 1.0,
        failure_message: "content rejected".into(),
        ..Default::default()
    })
    .await;
    let id = task_id(&call_once(&tasks, "generate_image", gen_args(json!({}))).await);
    let done = until_terminal(&tasks, &id).await;
    assert_eq!(done.task.status(), TaskStatus::Completed);
    let result = result_of(&done);
    assert!(is_error(&result), "{}", text(&result));
    let via_job = h.call("get_job", json!({"job_id": id})).await;
    assert_eq!(result, via_job);
}

#[tokio::test]
async fn a_client_without_tasks_keeps_wait_then_job_id() {
    let h = start(ModelScopeConfig::default(), &[]).await;
    let r = call_once(&h.client, "generate_image", gen_args(json!({}))).await;
    let r = complete(r);
    assert_eq!(structured(&r)["status"], "succeeded", "{}", text(&r));
    let id = structured(&r)["job_id"].as_str().expect("id").to_string();
    // tasks/get needs the extension declared: -32021 Missing Required Client Capability.
    let e = rpc_error(
        h.client
            .get_task(GetTaskParams::new(id))
            .await
            .expect_err("refused"),
    );
    assert_eq!(e.code.0, -32021, "{e:?}");
}

#[tokio::test]
async fn bad_arguments_answer_the_same_with_or_without_tasks() {
    let (h, tasks) = start_with_tasks(ModelScopeConfig::default()).await;
    for args in [
        gen_args(json!({"size": "12x34000"})),
        gen_args(json!({"seed": "not a number"})),
        gen_args(json!({"wait_seconds": 100000})),
    ] {
        let plain = complete(call_once(&h.client, "generate_image", args.clone()).await);
        let as_task = complete(call_once(&tasks, "generate_image", args.clone()).await);
        assert!(is_error(&plain), "{args}: {}", text(&plain));
        assert_eq!(plain, as_task, "{args}");
    }
    let plain = complete(call_once(&h.client, "edit_image", json!({"prompt": "x"})).await);
    let as_task = complete(call_once(&tasks, "edit_image", json!({"prompt": "x"})).await);
    assert!(is_error(&plain));
    assert_eq!(plain, as_task);
    assert_eq!(h.sim.submissions(), 0, "nothing was sent");
}

#[tokio::test]
async fn tasks_cancel_cancels_the_job() {
    let (h, tasks) = start_with_tasks(ModelScopeConfig {
        latency: Duration::from_secs(60),
        ..Default::default()
    })
    .await;
    let id = task_id(&call_once(&tasks, "generate_image", gen_args(json!({}))).await);
    tasks
        .cancel_task(CancelTaskParams::new(id.clone()))
        .await
        .expect("tasks/cancel");
    let done = until_terminal(&tasks, &id).await;
    assert_eq!(done.task.status(), TaskStatus::Cancelled);
    let job = h
        .call("get_job", json!({"job_id": id, "wait_seconds": 0}))
        .await;
    assert_eq!(structured(&job)["status"], "cancelled", "{}", text(&job));
    // Cancelling again: the task already ended.
    let e = rpc_error(
        tasks
            .cancel_task(CancelTaskParams::new(id.clone()))
            .await
            .expect_err("already finished"),
    );
    assert!(
        e.message.contains("taskId") && e.message.contains("already finished"),
        "{e:?}"
    );
}

#[tokio::test]
async fn an_unknown_task_and_a_task_of_another_data_dir_are_named_with_the_fix() {
    let (_h, tasks) = start_with_tasks(ModelScopeConfig::default()).await;
    let (other, other_tasks) = start_with_tasks(ModelScopeConfig::default()).await;
    let theirs = task_id(&call_once(&other_tasks, "generate_image", gen_args(json!({}))).await);
    until_terminal(&other_tasks, &theirs).await;
    for id in ["0123456789abcdef0123456789abcdef", theirs.as_str()] {
        let e = rpc_error(
            tasks
                .get_task(GetTaskParams::new(id))
                .await
                .expect_err("unknown"),
        );
        assert_eq!(e.code.0, -32602, "{e:?}");
        assert!(
            e.message.contains("taskId")
                && e.message.contains(id)
                && e.message.contains("another data dir")
                && e.message.contains("jobs.db"),
            "{e:?}"
        );
        assert_eq!(e.data, Some(json!({"taskId": id})));
        let e = rpc_error(
            tasks
                .cancel_task(CancelTaskParams::new(id))
                .await
                .expect_err("unknown"),
        );
        assert!(e.message.contains("taskId"), "{e:?}");
    }
    drop(other);
}

#[tokio::test]
async fn a_batch_task_completes_with_generate_batchs_report() {
    let (h, tasks) = start_with_tasks(ModelScopeConfig::default()).await;
    let args = json!({"prompts": ["a red kite", "a blue kite", {"prompt": "x", "size": "1x1"}],
        "defaults": {"size": "256x256"}, "batch_key": "kites"});
    let id = task_id(&call_once(&tasks, "generate_batch", args.clone()).await);
    assert_eq!(id, "batch:kites");
    let done = until_terminal(&tasks, &id).await;
    let result = result_of(&done);
    let s = structured(&result);
    assert_eq!(
        (s["succeeded"].as_u64(), s["failed"].as_u64()),
        (Some(2), Some(1)),
        "{s}"
    );
    // The same batch asked again without tasks: nothing new, the same lines (now "reused").
    let again = h.call("generate_batch", args).await;
    let mut lines = structured(&again)["lines"].clone();
    for line in lines.as_array_mut().expect("lines") {
        if let Some(l) = line.as_object_mut() {
            l.remove("reused");
        }
    }
    assert_eq!(lines, s["lines"]);
    assert_eq!(h.sim.submissions(), 2);
}

#[tokio::test]
async fn a_publish_task_completes_with_publish_notes_answer() {
    let (h, tasks) = start_with_tasks(ModelScopeConfig::default()).await;
    let made = h.call("generate_image", gen_args(json!({}))).await;
    let job = structured(&made)["job_id"]
        .as_str()
        .expect("id")
        .to_string();
    let id = task_id(
        &call_once(
            &tasks,
            "publish_note",
            json!({"publisher": "draft", "title": "咖啡", "content": "正文", "images": [job]}),
        )
        .await,
    );
    let done = until_terminal(&tasks, &id).await;
    let result = result_of(&done);
    assert!(!is_error(&result), "{}", text(&result));
    assert_eq!(structured(&result)["record_id"], id.as_str());
    assert_eq!(structured(&result)["outcome"], "published");
    let notes = h.call("list_notes", json!({})).await;
    assert_eq!(structured(&notes)["notes"][0]["id"], id.as_str());
    let e = rpc_error(
        tasks
            .cancel_task(CancelTaskParams::new(id.clone()))
            .await
            .expect_err("a publish cannot be stopped"),
    );
    assert!(
        e.message.contains("taskId") && e.message.contains("publish"),
        "{e:?}"
    );
}

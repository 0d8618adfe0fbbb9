//! Every way generate_image can fail: refused before sending, failed at the service, lost in
//! transit. Each is a tool error (`isError: true`) that names the cause and the fix.

use std::time::Duration;

use crate::common::*;
use easel_sim::ModelScopeConfig;
use serde_json::json;

#[tokio::test]
async fn invalid_input_is_refused_before_anything_is_sent() {
    let h = start(ModelScopeConfig::default(), &[]).await;
    let cases = [
        (json!({"prompt": ""}), "prompt"),
        (json!({"prompt": "x".repeat(2000)}), "prompt"),
        (
            json!({"prompt": "a", "negative_prompt": "n".repeat(2001)}),
            "negative_prompt",
        ),
        (json!({"prompt": "a", "size": "big"}), "size"),
        (json!({"prompt": "a", "size": "1700x1024"}), "size"),
        (
            json!({"prompt": "a", "model": "black-forest-labs/FLUX.1-Krea-dev", "size": "1280x720"}),
            "size",
        ),
        (
            json!({"prompt": "a", "model": "Tongyi-MAI/Z-Image-Turbo", "size": "256x256"}),
            "size",
        ),
        (json!({"prompt": "a", "seed": 2147483648u64}), "seed"),
        (json!({"prompt": "a", "steps": 0}), "steps"),
        (json!({"prompt": "a", "steps": 101}), "steps"),
        (json!({"prompt": "a", "guidance": 1.0}), "guidance"),
        (json!({"prompt": "a", "guidance": 25}), "guidance"),
        (json!({"prompt": "a", "count": 0}), "count"),
        (json!({"prompt": "a", "count": 9}), "count"),
        (
            json!({"prompt": "a", "loras": {"a/b": 0.3, "c/d": 0.3}}),
            "loras",
        ),
        (
            json!({"prompt": "a", "model": "Qwen/Qwen-Image-Edit"}),
            "model",
        ),
        (json!({"prompt": "a", "wait_seconds": 601}), "wait_seconds"),
        (json!({"prompt": "a", "backend": "nope"}), "backend"),
        (
            json!({"prompt": "a", "output_dir": "../outside"}),
            "output_dir",
        ),
        (json!({"prompt": "a", "output_dir": "/etc"}), "output_dir"),
        (
            json!({"prompt": "a", "output_dir": "C:\\Windows"}),
            "output_dir",
        ),
        (
            json!({"prompt": "a", "output_dir": "\\\\server\\share"}),
            "output_dir",
        ),
        (
            json!({"prompt": "a", "output_dir": "a/../../b"}),
            "output_dir",
        ),
        (json!({"prompt": "a", "filename": "../x"}), "filename"),
        (json!({"prompt": "a", "filename": "a\u{0}b"}), "filename"),
        (
            json!({"prompt": "a", "idempotency_key": "k\u{0}1"}),
            "idempotency_key",
        ),
        (
            json!({"prompt": "a", "model": "Qwen/Qwen-Image\u{1}"}),
            "model",
        ),
    ];
    for (args, field) in cases {
        let r = h.call("generate_image", args.clone()).await;
        let t = text(&r);
        assert!(is_error(&r), "{args} must be refused, got {t}");
        assert!(
            t.starts_with(field)
                || t.contains(&format!("{field}:"))
                || t.contains(&format!("{field} ")),
            "{args}: {t}"
        );
    }
    assert_eq!(h.sim.submissions(), 0, "nothing may reach the service");
    assert!(h.files().is_empty());
}

#[tokio::test]
async fn wrongly_typed_arguments_are_tool_errors() {
    let h = start(ModelScopeConfig::default(), &[]).await;
    let r = h
        .call("generate_image", json!({"prompt": "a", "steps": "many"}))
        .await;
    assert!(is_error(&r));
    assert!(
        text(&r).contains("steps") || text(&r).contains("invalid type"),
        "{}",
        text(&r)
    );
    let r = h
        .call("generate_image", json!({"prompt": "a", "colour": "red"}))
        .await;
    assert!(is_error(&r));
    assert!(text(&r).contains("colour"), "{}", text(&r));
}

#[tokio::test]
async fn a_failed_task_reports_the_service_message_and_request_id() {
    let h = start(
        ModelScopeConfig {
            failure_rate: 1.0,
            failure_message: "Model inference failed: Out of memory".into(),
            ..Default::default()
        },
        &[],
    )
    .await;
    let r = h.call("generate_image", gen_args(json!({}))).await;
    assert!(is_error(&r));
    let t = text(&r);
    assert!(t.contains("Out of memory"), "{t}");
    assert!(t.contains("request id"), "{t}");
    let s = structured(&r);
    assert_eq!(s["status"], "failed");
    assert_eq!(s["error"]["kind"], "failed");
    assert!(h.files().is_empty());
}

#[tokio::test]
async fn a_failure_without_detail_still_says_what_to_do() {
    let h = start(
        ModelScopeConfig {
            failure_rate: 1.0,
            fail_without_detail: true,
            ..Default::default()
        },
        &[],
    )
    .await;
    let r = h.call("generate_image", gen_args(json!({}))).await;
    assert!(is_error(&r));
    assert!(text(&r).contains("no reason"), "{}", text(&r));
}

#[tokio::test]
async fn unauthorized_says_which_variable_and_where_to_get_a_token() {
    let h = start(
        ModelScopeConfig {
            valid_tokens: Some(vec!["ms-the-real-one".into()]),
            ..Default::default()
        },
        &[],
    )
    .await;
    let r = h.call("generate_image", gen_args(json!({}))).await;
    assert!(is_error(&r));
    let t = text(&r);
    assert!(
        t.contains("401")
            && t.contains("MODELSCOPE_SDK_TOKEN")
            && t.contains("modelscope.cn/my/myaccesstoken"),
        "{t}"
    );
    assert!(
        !t.contains("ms-test-token"),
        "the token must never be echoed: {t}"
    );
    assert_eq!(structured(&r)["error"]["kind"], "auth");
    // 401 is not retried.
    let submits = h
        .sim
        .requests()
        .iter()
        .filter(|q| q.method == "POST")
        .count();
    assert_eq!(submits, 1);
}

#[tokio::test]
async fn a_missing_token_fails_the_call_not_the_server() {
    let h = start(ModelScopeConfig::default(), &[("MODELSCOPE_SDK_TOKEN", "")]).await;
    let r = h.call("generate_image", gen_args(json!({}))).await;
    assert!(is_error(&r));
    let t = text(&r);
    assert!(
        t.contains("MODELSCOPE_SDK_TOKEN") && t.contains("myaccesstoken"),
        "{t}"
    );
    assert!(h.sim.requests().is_empty());
    // The server still answers.
    assert!(h.client.list_all_tools().await.expect("tools").len() >= 2);
}

#[tokio::test]
async fn rate_limits_are_retried_then_succeed() {
    let h = start(
        ModelScopeConfig {
            reject_next_submits: 2,
            retry_after: Some(0),
            ..Default::default()
        },
        &[],
    )
    .await;
    let r = h.call("generate_image", gen_args(json!({}))).await;
    assert!(!is_error(&r), "{}", text(&r));
    let submits = h
        .sim
        .requests()
        .iter()
        .filter(|q| q.method == "POST")
        .count();
    assert_eq!(submits, 3, "two 429s then one accepted submission");
    assert_eq!(h.sim.submissions(), 1);
}

#[tokio::test]
async fn exhausted_rate_limit_explains_the_quota() {
    let h = start(
        ModelScopeConfig {
            reject_next_submits: 100,
            ..Default::default()
        },
        &[("EASEL_MODELSCOPE_MAX_RETRIES", "2")],
    )
    .await;
    let r = h.call("generate_image", gen_args(json!({}))).await;
    assert!(is_error(&r));
    let t = text(&r);
    assert!(
        t.contains("429") && t.contains("quota") && t.contains("calls left today"),
        "{t}"
    );
    assert_eq!(structured(&r)["error"]["kind"], "rate_limited");
    assert_eq!(
        h.sim
            .requests()
            .iter()
            .filter(|q| q.method == "POST")
            .count(),
        3
    );
}

#[tokio::test]
async fn server_errors_on_polls_are_retried() {
    let h = start(
        ModelScopeConfig {
            fail_next_polls_500: 2,
            ..Default::default()
        },
        &[],
    )
    .await;
    let r = h.call("generate_image", gen_args(json!({}))).await;
    assert!(!is_error(&r), "{}", text(&r));
}

#[tokio::test]
async fn an_aborted_download_leaves_no_partial_file() {
    let h = start(
        ModelScopeConfig {
            download_abort_after: Some(100),
            ..Default::default()
        },
        &[],
    )
    .await;
    let r = h.call("generate_image", gen_args(json!({}))).await;
    assert!(is_error(&r));
    let t = text(&r);
    assert!(
        (t.contains("broke off") || t.contains("connection")) && t.contains("nothing was saved"),
        "{t}"
    );
    assert!(h.files().is_empty(), "left behind: {:?}", h.files());
}

#[tokio::test]
async fn an_html_page_instead_of_an_image_is_refused() {
    let h = start(
        ModelScopeConfig {
            download_html: true,
            ..Default::default()
        },
        &[],
    )
    .await;
    let r = h.call("generate_image", gen_args(json!({}))).await;
    assert!(is_error(&r));
    assert!(text(&r).to_lowercase().contains("html"), "{}", text(&r));
    assert!(h.files().is_empty());
}

#[tokio::test]
async fn an_expired_image_url_is_explained() {
    let h = start(
        ModelScopeConfig {
            download_404: true,
            ..Default::default()
        },
        &[],
    )
    .await;
    let r = h.call("generate_image", gen_args(json!({}))).await;
    assert!(is_error(&r));
    assert!(
        text(&r).contains("404") && text(&r).contains("expire"),
        "{}",
        text(&r)
    );
}

#[tokio::test]
async fn succeed_without_images_is_a_failure() {
    let h = start(
        ModelScopeConfig {
            succeed_with_empty_outputs: true,
            ..Default::default()
        },
        &[],
    )
    .await;
    let r = h.call("generate_image", gen_args(json!({}))).await;
    assert!(is_error(&r));
    assert!(text(&r).contains("no output images"), "{}", text(&r));
}

#[tokio::test]
async fn the_total_timeout_ends_the_job_with_advice() {
    let h = start(
        ModelScopeConfig {
            latency: Duration::from_secs(3600),
            ..Default::default()
        },
        &[("EASEL_MODELSCOPE_TIMEOUT_SECS", "1")],
    )
    .await;
    let r = h
        .call("generate_image", gen_args(json!({"wait_seconds": 30})))
        .await;
    assert!(is_error(&r));
    let t = text(&r);
    assert!(
        t.contains("did not finish within 1 s") && t.contains("EASEL_MODELSCOPE_TIMEOUT_SECS"),
        "{t}"
    );
    assert_eq!(structured(&r)["error"]["kind"], "timeout");
}

#[tokio::test]
async fn one_failed_image_of_several_does_not_lose_the_others() {
    let h = start(
        ModelScopeConfig {
            reject_next_submits: 1,
            ..Default::default()
        },
        &[("EASEL_MODELSCOPE_MAX_RETRIES", "0")],
    )
    .await;
    let r = h
        .call("generate_image", gen_args(json!({"count": 3})))
        .await;
    assert!(!is_error(&r), "{}", text(&r));
    let s = structured(&r);
    assert_eq!(s["status"], "succeeded");
    assert_eq!(s["files"].as_array().expect("files").len(), 2);
    let failures = s["failures"].as_array().expect("failures");
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0]["kind"], "rate_limited");
    assert!(text(&r).contains("failed"), "{}", text(&r));
    assert_eq!(h.files().len(), 2);
}

/// A hostile or broken ModelScope answering polls with 64 MiB: easel stops reading at its
/// answer bound and says so, instead of holding the whole answer on every poll.
#[tokio::test]
async fn oversized_answers_are_cut_with_a_clear_error() {
    let h = start(
        ModelScopeConfig {
            poll_padding: 64 << 20,
            ..Default::default()
        },
        &[],
    )
    .await;
    let r = h.call("generate_image", gen_args(json!({}))).await;
    let t = text(&r);
    assert!(is_error(&r), "{t}");
    assert!(t.contains("larger than 8 MiB"), "{t}");
    assert!(h.files().is_empty());
}

/// A status outside the contract is named in progress and ends the wait after a bounded
/// number of polls, not at the 600 s time-out.
#[tokio::test]
async fn an_unknown_task_status_is_named_and_bounded() {
    let h = start(
        ModelScopeConfig {
            unknown_status: Some("HIBERNATING".into()),
            in_progress_polls: 1000,
            ..Default::default()
        },
        &[],
    )
    .await;
    let r = h.call("generate_image", gen_args(json!({}))).await;
    let t = text(&r);
    assert!(is_error(&r), "{t}");
    assert!(t.contains("\"HIBERNATING\""), "{t}");
    assert!(t.contains("does not know"), "{t}");
}

/// A decompression bomb from the storage bucket: saved (it is a valid image the service
/// made) and reported without a preview, never decoded whole; a file that only claims a
/// huge size is refused as damaged.
#[tokio::test]
async fn decompression_bombs_are_saved_without_a_preview() {
    let bomb = easel_sim::bomb::bomb_png(11_000, 11_000, 6, 8);
    let h = start(
        ModelScopeConfig {
            download_body: Some(bomb.clone().into()),
            ..Default::default()
        },
        &[],
    )
    .await;
    let r = h
        .call(
            "generate_image",
            gen_args(json!({"format": "jpeg", "count": 2})),
        )
        .await;
    let t = text(&r);
    assert!(!is_error(&r), "{t}");
    assert!(t.contains("11000x11000"), "{t}");
    let files = h.files();
    assert_eq!(files.len(), 2);
    // Too large to convert: kept as it came, and named for what it is.
    for file in &files {
        assert_eq!(std::fs::read(file).expect("file"), bomb);
        assert!(file.extension().is_some_and(|e| e == "png"));
    }
    assert!(
        r.content.iter().all(|c| c.as_image().is_none()),
        "no inline preview"
    );

    let mut claim = bomb[..33].to_vec(); // signature + IHDR only
    claim.extend_from_slice(&27u32.to_be_bytes());
    claim.extend_from_slice(b"IDAT");
    claim.resize(72, 0);
    let h = start(
        ModelScopeConfig {
            download_body: Some(claim.into()),
            ..Default::default()
        },
        &[],
    )
    .await;
    let r = h.call("generate_image", gen_args(json!({}))).await;
    let t = text(&r);
    assert!(is_error(&r), "{t}");
    assert!(t.contains("damaged or crafted"), "{t}");
    assert!(h.files().is_empty());
}

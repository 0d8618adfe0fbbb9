//! Cancel, run again, variation and publish (preview, then confirm) through the page's
//! POSTs; a publish with a too long title is refused with publish_note's words and reaches
//! nothing.

use std::time::Duration;

use easel_sim::ModelScopeConfig;
use serde_json::{Value, json};

use super::support::*;

async fn finished(s: &Served, id: &str) -> easel::jobs::Job {
    s.jobs
        .wait(id, Duration::from_secs(30), |_| {})
        .await
        .expect("store")
        .expect("job")
}

#[tokio::test]
async fn run_again_keeps_the_seed_and_a_variation_changes_it() {
    let s = Served::start(ModelScopeConfig::default(), None).await;
    let first = submit(&s, "a red kite");
    let first = finished(&s, &first.id).await;
    let r = s
        .post_as_page(
            &format!("/gallery/api/jobs/{}/again", first.id),
            None,
            json!({"variation": false}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let again: Value = r.json().await.expect("json");
    let again = &again["job"];
    assert_ne!(again["id"], first.id.as_str(), "a new job");
    assert_eq!(again["seeds"][0], first.request.seed);
    assert_eq!(again["prompt"], "a red kite");
    let again = finished(&s, again["id"].as_str().expect("id")).await;
    assert_eq!(again.status.as_str(), "succeeded");
    assert_eq!(
        again.request, first.request,
        "the same request, through the one path"
    );

    let r = s
        .post_as_page(
            &format!("/gallery/api/jobs/{}/again", first.id),
            None,
            json!({"variation": true}),
        )
        .await;
    let variation: Value = r.json().await.expect("json");
    let variation = finished(&s, variation["job"]["id"].as_str().expect("id")).await;
    assert_eq!(variation.request.prompt, first.request.prompt);
    assert_ne!(variation.request.seed, first.request.seed, "a new seed");

    let bad = s
        .post_as_page(
            &format!("/gallery/api/jobs/{}/again", first.id),
            None,
            json!({"varation": true}),
        )
        .await;
    assert_eq!(bad.status(), 400);
    let body: Value = bad.json().await.expect("json");
    assert!(
        body["error"].as_str().expect("error").contains("varation"),
        "{body}"
    );
    let missing = s
        .post_as_page(
            "/gallery/api/jobs/ffffffffffffffffffffffffffffffff/again",
            None,
            json!({}),
        )
        .await;
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn cancel_stops_a_running_job() {
    let s = Served::start(
        ModelScopeConfig {
            in_progress_polls: 1_000_000,
            ..Default::default()
        },
        None,
    )
    .await;
    let running = submit(&s, "a long night");
    let r = s
        .post_as_page(
            &format!("/gallery/api/jobs/{}/cancel", running.id),
            None,
            json!({}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let card: Value = r.json().await.expect("json");
    assert_eq!(card["job"]["id"], running.id.as_str());
    assert_eq!(finished(&s, &running.id).await.status.as_str(), "cancelled");
}

fn publish_requests(s: &Served) -> usize {
    s.xhs
        .requests()
        .iter()
        .filter(|r| r.path == "/api/v1/publish")
        .count()
}

#[tokio::test]
async fn publish_previews_refuses_what_publish_note_refuses_and_publishes_on_confirm() {
    let s = Served::start(ModelScopeConfig::default(), None).await;
    let made = submit(&s, "autumn coffee");
    let made = finished(&s, &made.id).await;
    let images = json!([{"job_id": made.id, "index": 0}]);
    let note = |title: &str, confirm: bool| {
        json!({"images": images, "title": title, "content": "今天去了一家新开的咖啡店。",
               "tags": ["咖啡"], "confirm": confirm})
    };

    let r = s
        .post_as_page(
            "/gallery/api/publish/preview",
            None,
            note("秋天的第一杯咖啡", false),
        )
        .await;
    let mut preview: Value = r.json().await.expect("json");
    assert_eq!(preview["ok"], true, "{preview}");
    let summary = preview["summary"].take();
    let summary = summary.as_str().expect("summary");
    assert!(
        summary.contains("秋天的第一杯咖啡")
            && summary.contains("images: 1")
            && summary.contains("\"xhs\"")
            && summary.contains("public and easel cannot take it back"),
        "{summary}"
    );

    let long = "这是一个非常非常非常非常非常长的标题超过二十";
    let r = s
        .post_as_page("/gallery/api/publish/preview", None, note(long, false))
        .await;
    let preview: Value = r.json().await.expect("json");
    assert_eq!(preview["ok"], false);
    let problems = preview["problems"].as_array().expect("problems");
    assert!(
        problems
            .iter()
            .any(|p| p.as_str().is_some_and(|t| t.starts_with("title:"))),
        "{preview}"
    );

    let r = s
        .post_as_page("/gallery/api/publish", None, note(long, true))
        .await;
    assert_eq!(r.status(), 422);
    let refusal: Value = r.json().await.expect("json");
    let text = refusal["error"].as_str().expect("error");
    assert!(
        text.starts_with("Nothing was sent") && text.contains("- title:"),
        "{text}"
    );
    let r = s
        .post_as_page(
            "/gallery/api/publish",
            None,
            note("秋天的第一杯咖啡", false),
        )
        .await;
    assert_eq!(r.status(), 400, "confirm is required");
    assert_eq!(publish_requests(&s), 0, "nothing reached the service");
    assert!(s.xhs.published().is_empty());

    let r = s
        .post_as_page("/gallery/api/publish", None, note("秋天的第一杯咖啡", true))
        .await;
    assert_eq!(r.status(), 200);
    let sent: Value = r.json().await.expect("json");
    assert_eq!(sent["note"]["outcome"], "published", "{sent}");
    assert_eq!(s.xhs.published().len(), 1);
    assert_eq!(s.xhs.published()[0]["title"], "秋天的第一杯咖啡");
}

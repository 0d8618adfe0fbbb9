//! Drives the webhook sink over real HTTP, as easel's "webhook" publisher would.

use std::time::Duration;

use easel_sim::WebhookSink;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// In a workspace build reqwest is unified with easel's `rustls-no-provider` feature, so a
/// crypto provider must exist before any client is built (even for plain HTTP).
fn client() -> reqwest::Client {
    crate::common::install_tls_provider();
    reqwest::Client::new()
}

async fn post(http: &reqwest::Client, url: &str, body: &Value) -> (StatusCode, Value) {
    let response = http.post(url).json(body).send().await.expect("sent");
    let status = response.status();
    (status, response.json().await.expect("JSON answer"))
}

#[tokio::test]
async fn accepts_posts_and_keeps_their_bodies() {
    let sink = WebhookSink::start(200).await.expect("sink starts");
    let url = sink.url();
    assert!(
        url.starts_with("http://127.0.0.1:") && url.ends_with("/create"),
        "{url}"
    );
    let http = client();
    let note = json!({"title": "秋天", "images": ["https://x/a.png"], "tags": ["咖啡"]});
    let (status, answer) = post(&http, &url, &note).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["success"], true);
    let id = answer["id"].as_str().expect("id");
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
    let (_, second) = post(&http, &url, &json!({"title": "2"})).await;
    assert_ne!(second["id"], answer["id"], "each create gets its own id");

    let received = sink.received();
    assert_eq!(received.len(), 2);
    assert_eq!(received[0].method, "POST");
    assert_eq!(received[0].path, "/create");
    assert_eq!(received[0].body, Some(note));
    assert_eq!(received[0].header("content-type"), Some("application/json"));
}

#[tokio::test]
async fn answers_can_be_changed() {
    let sink = WebhookSink::start(500).await.expect("sink starts");
    let http = client();
    let (status, answer) = post(&http, &sink.url(), &json!({})).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(answer["success"], false);

    sink.update(|c| {
        c.status = 201;
        c.body = Some(json!({"ok": 1}));
    });
    let (status, answer) = post(&http, &sink.url(), &json!({})).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(answer, json!({"ok": 1}));

    sink.update(|c| c.delay = Duration::from_secs(30));
    let result = http
        .post(sink.url())
        .timeout(Duration::from_millis(200))
        .json(&json!({}))
        .send()
        .await;
    assert!(result.expect_err("times out").is_timeout());
    assert_eq!(
        sink.received().len(),
        3,
        "a timed-out delivery still arrived"
    );
}

#[tokio::test]
async fn other_paths_are_not_found() {
    let sink = WebhookSink::start(200).await.expect("sink starts");
    let http = client();
    let other = sink.url().replace("/create", "/other");
    let response = http
        .post(other)
        .json(&json!({}))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let response = http.get(sink.url()).send().await.expect("sent");
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert!(sink.received().is_empty());
}

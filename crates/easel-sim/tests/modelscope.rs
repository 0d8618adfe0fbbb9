//! Drives the ModelScope simulator over real HTTP, as a production client would, and
//! checks each behaviour of contract section 12 (`docs/contracts/modelscope.md`).

use crate::common::install_tls_provider;
use std::time::{Duration, Instant};

use easel_sim::{ModelScopeConfig, ModelScopeSim};
use reqwest::StatusCode;
use serde_json::{Value, json};

const TOKEN: &str = "ms-00000000-0000-0000-0000-000000000000";
const SYNC_REJECTED: &str = "image-gen task currently does not support synchronous calls. Please refer to the documentation and set header X-ModelScope-Async-Mode=true to switch to asynchronous calling mode";
const AUTH_FAILED: &str =
    "Authentication failed, please make sure that a valid ModelScope token is supplied.";

/// A small picture keeps debug-build encoding fast.
fn body(prompt: &str, seed: u32) -> Value {
    json!({"model": "Qwen/Qwen-Image", "prompt": prompt, "size": "96x64", "seed": seed})
}

struct Client {
    http: reqwest::Client,
    base: String,
}

/// What an answer carried, read once.
struct Answer {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    json: Value,
}

impl Answer {
    async fn read(response: reqwest::Response) -> Answer {
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.expect("body");
        let json = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Answer {
            status,
            headers,
            json,
        }
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(name)
            .map(|v| v.to_str().expect("ascii header"))
    }

    fn header_u32(&self, name: &str) -> u32 {
        self.header(name)
            .unwrap_or_else(|| panic!("missing header {name}"))
            .parse()
            .expect("decimal header")
    }

    fn task_id(&self) -> String {
        assert_eq!(self.status, StatusCode::OK, "submit failed: {}", self.json);
        self.json["task_id"]
            .as_str()
            .expect("task_id is a string")
            .to_owned()
    }

    fn status_text(&self) -> &str {
        self.json["task_status"].as_str().unwrap_or("<none>")
    }
}

impl Client {
    fn new(sim: &ModelScopeSim) -> Client {
        install_tls_provider();
        Client {
            http: reqwest::Client::new(),
            base: sim.base_url(),
        }
    }

    async fn submit(&self, body: &Value) -> Answer {
        let response = self
            .http
            .post(format!("{}v1/images/generations", self.base))
            .bearer_auth(TOKEN)
            .header("X-ModelScope-Async-Mode", "true")
            .json(body)
            .send()
            .await
            .expect("submit sent");
        Answer::read(response).await
    }

    async fn poll(&self, task_id: &str) -> Answer {
        let response = self
            .http
            .get(format!("{}v1/tasks/{task_id}", self.base))
            .bearer_auth(TOKEN)
            .header("X-ModelScope-Task-Type", "image_generation")
            .send()
            .await
            .expect("poll sent");
        Answer::read(response).await
    }

    /// Polls until a terminal status; fails the test after 20 polls.
    async fn finish(&self, task_id: &str) -> Answer {
        for _ in 0..20 {
            let answer = self.poll(task_id).await;
            assert_eq!(answer.status, StatusCode::OK, "{}", answer.json);
            if matches!(answer.status_text(), "SUCCEED" | "FAILED") {
                return answer;
            }
        }
        panic!("task {task_id} never finished");
    }

    /// Submits and polls to the end; returns the terminal answer.
    async fn generate(&self, body: &Value) -> Answer {
        let task_id = self.submit(body).await.task_id();
        self.finish(&task_id).await
    }

    async fn download(&self, url: &str) -> Vec<u8> {
        let response = self.http.get(url).send().await.expect("download sent");
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["content-type"], "image/png");
        response.bytes().await.expect("image bytes").to_vec()
    }
}

async fn start(config: ModelScopeConfig) -> (ModelScopeSim, Client) {
    let sim = ModelScopeSim::start(config).await.expect("sim starts");
    let client = Client::new(&sim);
    (sim, client)
}

fn is_uuid(value: &Value) -> bool {
    value
        .as_str()
        .is_some_and(|s| uuid::Uuid::parse_str(s).is_ok())
}

fn first_image(answer: &Answer) -> String {
    answer.json["output_images"][0]
        .as_str()
        .unwrap_or_else(|| panic!("no image URL in {}", answer.json))
        .to_owned()
}

#[tokio::test]
async fn base_url_has_a_trailing_slash_and_paths_are_exact() {
    let (sim, client) = start(ModelScopeConfig::default()).await;
    let base = sim.base_url();
    assert!(
        base.starts_with("http://127.0.0.1:") && base.ends_with('/'),
        "{base}"
    );
    assert_eq!(base, format!("http://{}/", sim.addr()));
    // A client that adds a second slash does not reach the API.
    let doubled = client
        .http
        .post(format!("{base}/v1/images/generations"))
        .bearer_auth(TOKEN)
        .header("X-ModelScope-Async-Mode", "true")
        .json(&body("cat", 1))
        .send()
        .await
        .expect("sent");
    assert_eq!(doubled.status(), StatusCode::NOT_FOUND);
    assert_eq!(sim.submissions(), 0);
    assert_eq!(sim.requests()[0].path, "//v1/images/generations");
}

#[tokio::test]
async fn missing_or_invalid_token_gets_401_envelope() {
    let config = ModelScopeConfig {
        valid_tokens: Some(vec![TOKEN.to_owned()]),
        ..ModelScopeConfig::default()
    };
    let (sim, client) = start(config).await;
    let submit_url = format!("{}v1/images/generations", sim.base_url());
    let poll_url = format!("{}v1/tasks/5075521", sim.base_url());
    let attempts = [
        client.http.post(&submit_url),
        client
            .http
            .post(&submit_url)
            .header("Authorization", "Bearer "),
        client
            .http
            .post(&submit_url)
            .header("Authorization", "Basic abc"),
        client.http.post(&submit_url).bearer_auth("ms-wrong"),
        client.http.get(&poll_url),
        client.http.get(&poll_url).bearer_auth("ms-wrong"),
    ];
    for attempt in attempts {
        let response = attempt
            .header("X-ModelScope-Async-Mode", "true")
            .header("X-ModelScope-Task-Type", "image_generation")
            .json(&body("cat", 1))
            .send()
            .await
            .expect("sent");
        let answer = Answer::read(response).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
        assert_eq!(answer.json["errors"]["message"], AUTH_FAILED);
        assert!(is_uuid(&answer.json["request_id"]), "{}", answer.json);
    }
    assert_eq!(sim.submissions(), 0);
    // The right token is accepted.
    client.submit(&body("cat", 1)).await.task_id();
    assert_eq!(sim.submissions(), 1);
}

#[tokio::test]
async fn submit_without_async_mode_gets_the_exact_400() {
    let (sim, client) = start(ModelScopeConfig::default()).await;
    let mut request_ids = Vec::new();
    for _ in 0..2 {
        let response = client
            .http
            .post(format!("{}v1/images/generations", sim.base_url()))
            .bearer_auth(TOKEN)
            .json(&body("cat", 1))
            .send()
            .await
            .expect("sent");
        let answer = Answer::read(response).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST);
        assert_eq!(answer.json["errors"]["message"], SYNC_REJECTED);
        assert!(is_uuid(&answer.json["request_id"]));
        request_ids.push(answer.json["request_id"].clone());
    }
    assert_ne!(request_ids[0], request_ids[1], "request_id must be fresh");
    assert_eq!(sim.submissions(), 0);
}

#[tokio::test]
async fn legacy_sync_switch_answers_the_old_shape() {
    let config = ModelScopeConfig {
        legacy_sync: true,
        ..ModelScopeConfig::default()
    };
    let (sim, client) = start(config).await;
    let response = client
        .http
        .post(format!("{}v1/images/generations", sim.base_url()))
        .bearer_auth(TOKEN)
        .json(&body("cat", 1))
        .send()
        .await
        .expect("sent");
    let answer = Answer::read(response).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.json);
    let url = answer.json["images"][0]["url"].as_str().expect("url");
    let png = client.download(url).await;
    let picture = image::load_from_memory(&png).expect("decodes");
    assert_eq!((picture.width(), picture.height()), (96, 64));
}

#[tokio::test]
async fn task_walks_pending_processing_succeed_and_its_png_downloads() {
    let (sim, client) = start(ModelScopeConfig::default()).await;
    let request = json!({
        "model": "Qwen/Qwen-Image", "prompt": "A golden cat", "size": "328x232", "seed": 42
    });
    let submitted = client.submit(&request).await;
    let task_id = submitted.task_id();
    assert!(task_id.bytes().all(|b| b.is_ascii_digit()), "{task_id}");
    assert!(is_uuid(&submitted.json["request_id"]));
    assert_eq!(sim.submissions(), 1);

    let first = client.poll(&task_id).await;
    assert_eq!(first.json, json!({"task_status": "PENDING"}));
    assert_eq!(sim.mark_done_at(&task_id), None);
    let second = client.poll(&task_id).await;
    assert_eq!(
        second.json,
        json!({"task_status": "PROCESSING", "outputs": {}})
    );
    let done_at = sim
        .mark_done_at(&task_id)
        .expect("terminal after two in-progress polls");
    assert!(done_at <= Instant::now());

    let done = client.poll(&task_id).await;
    assert_eq!(done.status_text(), "SUCCEED");
    assert_eq!(done.json["task_id"], task_id);
    assert!(is_uuid(&done.json["request_id"]));
    assert!(done.json["time_taken"].as_f64().is_some_and(|t| t >= 0.0));
    let images = done.json["output_images"].as_array().expect("array");
    assert_eq!(images.len(), 1);
    let url = images[0].as_str().expect("URL string");
    let name = url
        .strip_prefix(&format!("{}img/", sim.base_url()))
        .and_then(|rest| rest.strip_suffix(".png"))
        .expect("URL under base/img/");
    assert!(
        name.len() == 32 && name.bytes().all(|b| b.is_ascii_hexdigit()),
        "{name}"
    );
    assert_eq!(sim.polls(&task_id), 3);
    // Terminal answers repeat.
    assert_eq!(client.poll(&task_id).await.json["output_images"][0], url);
    assert_eq!(sim.mark_done_at(&task_id), Some(done_at));

    let png = client.download(url).await;
    let picture = image::load_from_memory_with_format(&png, image::ImageFormat::Png).expect("PNG");
    assert_eq!((picture.width(), picture.height()), (328, 232));
}

#[tokio::test]
async fn default_size_is_1024_square() {
    let (_sim, client) = start(ModelScopeConfig::default()).await;
    let done = client
        .generate(&json!({"model": "Tongyi-MAI/Z-Image-Turbo", "prompt": "a fox"}))
        .await;
    let png = client.download(&first_image(&done)).await;
    let picture = image::load_from_memory(&png).expect("decodes");
    assert_eq!((picture.width(), picture.height()), (1024, 1024));
}

#[tokio::test]
async fn latency_keeps_a_task_in_progress() {
    let config = ModelScopeConfig {
        latency: Duration::from_secs(3600),
        in_progress_polls: 1,
        running_status: true,
        ..ModelScopeConfig::default()
    };
    let (sim, client) = start(config).await;
    let task_id = client.submit(&body("cat", 1)).await.task_id();
    let statuses: Vec<String> = futures::future::join_all((0..4).map(|_| client.poll(&task_id)))
        .await
        .iter()
        .map(|a| a.status_text().to_owned())
        .collect();
    assert_eq!(statuses.iter().filter(|s| *s == "PENDING").count(), 1);
    assert_eq!(statuses.iter().filter(|s| *s == "RUNNING").count(), 3);
    assert_eq!(sim.mark_done_at(&task_id), None);
}

#[tokio::test]
async fn in_progress_polls_are_read_at_submit() {
    let config = ModelScopeConfig {
        in_progress_polls: 0,
        ..ModelScopeConfig::default()
    };
    let (sim, client) = start(config).await;
    let quick = client.submit(&body("cat", 1)).await.task_id();
    sim.update(|c| c.in_progress_polls = 4);
    let slow = client.submit(&body("cat", 2)).await.task_id();
    assert_eq!(client.poll(&quick).await.status_text(), "SUCCEED");
    client.finish(&slow).await;
    assert_eq!(sim.polls(&slow), 5);
}

#[tokio::test]
async fn failed_task_reports_its_reason_or_nothing() {
    let config = ModelScopeConfig {
        failure_rate: 1.0,
        failure_message: "NSFW content detected".to_owned(),
        ..ModelScopeConfig::default()
    };
    let (sim, client) = start(config).await;
    let failed = client.generate(&body("cat", 1)).await;
    assert_eq!(failed.json["task_status"], "FAILED");
    assert_eq!(failed.json["errors"]["message"], "NSFW content detected");
    assert!(is_uuid(&failed.json["request_id"]));
    assert!(failed.json.get("output_images").is_none());

    sim.update(|c| c.fail_without_detail = true);
    let bare = client.generate(&body("cat", 2)).await;
    assert_eq!(bare.json, json!({"task_status": "FAILED"}));
}

#[tokio::test]
async fn default_failure_message_is_the_captured_one() {
    let config = ModelScopeConfig {
        failure_rate: 1.0,
        ..ModelScopeConfig::default()
    };
    let (_sim, client) = start(config).await;
    let failed = client.generate(&body("cat", 1)).await;
    assert_eq!(
        failed.json["errors"]["message"],
        "Model inference failed: Out of memory"
    );
}

#[tokio::test]
async fn forced_429_has_limit_body_headers_and_counts_down() {
    let config = ModelScopeConfig {
        reject_next_submits: 2,
        retry_after: Some(7),
        ..ModelScopeConfig::default()
    };
    let (sim, client) = start(config).await;
    for _ in 0..2 {
        let answer = client.submit(&body("cat", 1)).await;
        assert_eq!(answer.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(answer.json["errors"]["message"], "Request limit exceeded.");
        assert!(
            is_uuid(&answer.json["errors"]["request_id"]),
            "{}",
            answer.json
        );
        assert_eq!(answer.header("retry-after"), Some("7"));
        assert_eq!(
            answer.header_u32("modelscope-ratelimit-requests-remaining"),
            2000
        );
    }
    assert_eq!(sim.submissions(), 0);
    let accepted = client.submit(&body("cat", 1)).await;
    accepted.task_id();
    assert_eq!(accepted.header("retry-after"), None);
    assert_eq!(sim.submissions(), 1);
}

#[tokio::test]
async fn random_429_rate_one_rejects_every_submit() {
    let config = ModelScopeConfig {
        rate_limit_429_rate: 1.0,
        ..ModelScopeConfig::default()
    };
    let (sim, client) = start(config).await;
    let answer = client.submit(&body("cat", 1)).await;
    assert_eq!(answer.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(answer.header("retry-after"), None);
    assert_eq!(sim.submissions(), 0);
}

#[tokio::test]
async fn rate_limit_headers_count_down_per_token_and_model() {
    let (_sim, client) = start(ModelScopeConfig::default()).await;
    let mut task_ids = Vec::new();
    for expected in [1999, 1998] {
        let answer = client.submit(&body("cat", 1)).await;
        assert_eq!(
            answer.header_u32("modelscope-ratelimit-requests-limit"),
            2000
        );
        assert_eq!(
            answer.header_u32("modelscope-ratelimit-requests-remaining"),
            expected
        );
        assert_eq!(
            answer.header_u32("modelscope-ratelimit-model-requests-limit"),
            500
        );
        assert_eq!(
            answer.header_u32("modelscope-ratelimit-model-requests-remaining"),
            expected - 1500
        );
        task_ids.push(answer.task_id());
    }
    let other_model =
        json!({"model": "Tongyi-MAI/Z-Image-Turbo", "prompt": "cat", "size": "64x64"});
    let answer = client.submit(&other_model).await;
    assert_eq!(
        answer.header_u32("modelscope-ratelimit-requests-remaining"),
        1997
    );
    assert_eq!(
        answer.header_u32("modelscope-ratelimit-model-requests-remaining"),
        499
    );
    // Polls report the same counters for the task's model.
    let polled = client.poll(&task_ids[0]).await;
    assert_eq!(
        polled.header_u32("modelscope-ratelimit-requests-remaining"),
        1997
    );
    assert_eq!(
        polled.header_u32("modelscope-ratelimit-model-requests-remaining"),
        498
    );
}

#[tokio::test]
async fn exhausted_quota_gives_429_with_remaining_zero() {
    let config = ModelScopeConfig {
        daily_limit_per_model: 2,
        daily_limit_per_token: 3,
        ..ModelScopeConfig::default()
    };
    let (sim, client) = start(config).await;
    client.submit(&body("cat", 1)).await.task_id();
    client.submit(&body("cat", 2)).await.task_id();
    let refused = client.submit(&body("cat", 3)).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.json["errors"]["message"], "Request limit exceeded.");
    assert_eq!(
        refused.header_u32("modelscope-ratelimit-model-requests-remaining"),
        0
    );
    // Another model still has budget, until the token's own runs out.
    let other = json!({"model": "MAILAND/majicflus_v1", "prompt": "cat", "size": "64x64"});
    let accepted = client.submit(&other).await;
    accepted.task_id();
    assert_eq!(
        accepted.header_u32("modelscope-ratelimit-requests-remaining"),
        0
    );
    let refused = client.submit(&other).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        refused.header_u32("modelscope-ratelimit-requests-remaining"),
        0
    );
    assert_eq!(sim.submissions(), 3);
}

#[tokio::test]
async fn unknown_task_gets_404_envelope() {
    let (sim, client) = start(ModelScopeConfig::default()).await;
    for task_id in ["999", "not-a-number"] {
        let answer = client.poll(task_id).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND);
        assert_eq!(answer.json["errors"]["message"], "task not found");
        assert!(is_uuid(&answer.json["request_id"]));
        assert_eq!(sim.polls(task_id), 0);
    }
}

#[tokio::test]
async fn missing_task_type_is_tolerated_and_recorded() {
    let (sim, client) = start(ModelScopeConfig::default()).await;
    let task_id = client.submit(&body("cat", 1)).await.task_id();
    let url = format!("{}v1/tasks/{task_id}", sim.base_url());
    let response = client
        .http
        .get(&url)
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("sent");
    let answer = Answer::read(response).await;
    assert_eq!(answer.status_text(), "PENDING");
    let last = sim.requests().pop().expect("recorded");
    assert_eq!(last.method, "GET");
    assert_eq!(last.path, format!("/v1/tasks/{task_id}"));
    assert_eq!(last.header("X-ModelScope-Task-Type"), None);
    assert_eq!(
        last.header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
}

/// Assumption (contract 12.12): what the real service does without the header is unknown.
#[tokio::test]
async fn strict_task_type_treats_a_missing_header_as_unknown_task() {
    let config = ModelScopeConfig {
        strict_task_type: true,
        ..ModelScopeConfig::default()
    };
    let (sim, client) = start(config).await;
    let task_id = client.submit(&body("cat", 1)).await.task_id();
    let url = format!("{}v1/tasks/{task_id}", sim.base_url());
    let response = client
        .http
        .get(&url)
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("sent");
    let answer = Answer::read(response).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert_eq!(answer.json["errors"]["message"], "task not found");
    assert_eq!(sim.polls(&task_id), 0);
    assert_eq!(client.poll(&task_id).await.status_text(), "PENDING");
}

#[tokio::test]
async fn invalid_submits_get_400_naming_the_problem() {
    let (sim, client) = start(ModelScopeConfig::default()).await;
    let cases = [
        (json!({"prompt": "cat"}), "model"),
        (json!({"model": "Qwen/Qwen-Image"}), "prompt"),
        (
            json!({"model": "Qwen/Qwen-Image", "prompt": "cat", "size": "big"}),
            "size",
        ),
        (
            json!({"model": "Qwen/Qwen-Image-Edit-2509", "prompt": "add a hat"}),
            "image_url is required",
        ),
        (
            json!({"model": "black-forest-labs/FLUX.1-Kontext-dev", "prompt": "add a hat"}),
            "image_url is required",
        ),
    ];
    for (request, needle) in cases {
        let answer = client.submit(&request).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{request}");
        let message = answer.json["errors"]["message"].as_str().expect("message");
        assert!(message.contains(needle), "{message:?} should name {needle}");
        assert!(is_uuid(&answer.json["request_id"]));
    }
    let response = client
        .http
        .post(format!("{}v1/images/generations", sim.base_url()))
        .bearer_auth(TOKEN)
        .header("X-ModelScope-Async-Mode", "true")
        .header("Content-Type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("sent");
    let answer = Answer::read(response).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert!(
        answer.json["errors"]["message"]
            .as_str()
            .expect("message")
            .contains("JSON")
    );
    assert_eq!(sim.submissions(), 0);
}

#[tokio::test]
async fn edit_request_fields_are_recorded_verbatim() {
    let (sim, client) = start(ModelScopeConfig::default()).await;
    let edit = json!({
        "model": "Qwen/Qwen-Image-Edit-2509",
        "prompt": "给猫戴上红围巾",
        "negative_prompt": "blurry",
        "size": "64x64",
        "seed": 42,
        "steps": 30,
        "guidance": 4.5,
        "loras": {"user/lora-a": 0.6, "user/lora-b": 0.4},
        "image_url": ["https://example.com/a.png", "https://example.com/b.png"],
    });
    client.submit(&edit).await.task_id();
    let single = json!({
        "model": "Qwen/Qwen-Image-Edit", "prompt": "p", "size": "64x64",
        "loras": "user/lora-a", "image_url": "https://example.com/a.png",
    });
    client.submit(&single).await.task_id();
    let bodies: Vec<Value> = sim
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .map(|r| r.body.expect("JSON body recorded"))
        .collect();
    assert_eq!(bodies, [edit, single]);
    let submit = &sim.requests()[0];
    assert_eq!(submit.header("x-modelscope-async-mode"), Some("true"));
    assert_eq!(submit.header("content-type"), Some("application/json"));
}

#[tokio::test]
async fn unknown_model_gets_404_when_models_are_listed() {
    let config = ModelScopeConfig {
        known_models: Some(vec!["Qwen/Qwen-Image".to_owned()]),
        ..ModelScopeConfig::default()
    };
    let (sim, client) = start(config).await;
    let retired = json!({"model": "MusePublic/489_ckpt_FLUX_1", "prompt": "cat"});
    let answer = client.submit(&retired).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert!(
        answer.json["errors"]["message"]
            .as_str()
            .expect("message")
            .contains("489_ckpt")
    );
    client.submit(&body("cat", 1)).await.task_id();
    assert_eq!(sim.submissions(), 1);
}

#[tokio::test]
async fn injected_500s_are_not_json_and_count_down() {
    let config = ModelScopeConfig {
        fail_next_submits_500: 1,
        fail_next_polls_500: 1,
        ..ModelScopeConfig::default()
    };
    let (sim, client) = start(config).await;
    let failed = client.submit(&body("cat", 1)).await;
    assert_eq!(failed.status, StatusCode::INTERNAL_SERVER_ERROR);
    let text = failed.json.as_str().expect("plain text, not JSON");
    assert!(text.starts_with("upstream connect error"), "{text}");
    assert_eq!(sim.submissions(), 0);

    let task_id = client.submit(&body("cat", 1)).await.task_id();
    let failed = client.poll(&task_id).await;
    assert_eq!(failed.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(failed.json.is_string());
    assert_eq!(sim.polls(&task_id), 0);
    assert_eq!(client.poll(&task_id).await.status_text(), "PENDING");
}

#[tokio::test]
async fn slow_polls_trip_a_client_timeout() {
    let config = ModelScopeConfig {
        poll_delay: Duration::from_secs(30),
        ..ModelScopeConfig::default()
    };
    let (sim, client) = start(config).await;
    let task_id = client.submit(&body("cat", 1)).await.task_id();
    let result = client
        .http
        .get(format!("{}v1/tasks/{task_id}", sim.base_url()))
        .bearer_auth(TOKEN)
        .header("X-ModelScope-Task-Type", "image_generation")
        .timeout(Duration::from_millis(200))
        .send()
        .await;
    assert!(result.expect_err("must time out").is_timeout());
}

#[tokio::test]
async fn submit_answer_can_carry_a_numeric_task_id() {
    let config = ModelScopeConfig {
        task_id_as_number: true,
        ..ModelScopeConfig::default()
    };
    let (sim, client) = start(config).await;
    let answer = client.submit(&body("cat", 1)).await;
    let id = answer.json["task_id"].as_u64().expect("numeric task_id");
    let done = client.finish(&id.to_string()).await;
    assert_eq!(done.status_text(), "SUCCEED");
    assert_eq!(sim.polls(&id.to_string()), 3);
}

#[tokio::test]
async fn task_ids_increase() {
    let (_sim, client) = start(ModelScopeConfig::default()).await;
    let a: u64 = client
        .submit(&body("cat", 1))
        .await
        .task_id()
        .parse()
        .expect("digits");
    let b: u64 = client
        .submit(&body("cat", 1))
        .await
        .task_id()
        .parse()
        .expect("digits");
    assert!(b > a, "{b} should follow {a}");
}

#[tokio::test]
async fn succeed_can_come_with_no_images() {
    let config = ModelScopeConfig {
        succeed_with_empty_outputs: true,
        ..ModelScopeConfig::default()
    };
    let (_sim, client) = start(config).await;
    let done = client.generate(&body("cat", 1)).await;
    assert_eq!(done.status_text(), "SUCCEED");
    assert_eq!(done.json["output_images"], json!([]));
}

#[tokio::test]
async fn pictures_depend_on_prompt_seed_and_size_only() {
    let (_sim, client) = start(ModelScopeConfig::default()).await;
    let mut pngs = Vec::new();
    for request in [
        body("cat", 7),
        body("cat", 7),
        body("cat", 8),
        body("dog", 7),
    ] {
        let done = client.generate(&request).await;
        pngs.push(client.download(&first_image(&done)).await);
    }
    assert_eq!(pngs[0], pngs[1], "same prompt, seed and size");
    assert_ne!(pngs[0], pngs[2], "different seed");
    assert_ne!(pngs[0], pngs[3], "different prompt");
    // Without a seed the service picks one, so two runs differ.
    let unseeded = json!({"model": "Qwen/Qwen-Image", "prompt": "cat", "size": "96x64"});
    let a = client.generate(&unseeded).await;
    let b = client.generate(&unseeded).await;
    let a = client.download(&first_image(&a)).await;
    let b = client.download(&first_image(&b)).await;
    assert_ne!(a, b);
}

#[tokio::test]
async fn repeated_downloads_give_the_same_bytes() {
    let (_sim, client) = start(ModelScopeConfig::default()).await;
    let url = first_image(&client.generate(&body("cat", 1)).await);
    let first = client.download(&url).await;
    let again = client.download(&url).await;
    assert_eq!(first, again);
}

#[tokio::test]
async fn several_images_per_task_are_distinct() {
    let config = ModelScopeConfig {
        images_per_task: 2,
        ..ModelScopeConfig::default()
    };
    let (_sim, client) = start(config).await;
    let done = client.generate(&body("cat", 1)).await;
    let urls = done.json["output_images"]
        .as_array()
        .expect("array")
        .clone();
    assert_eq!(urls.len(), 2);
    assert_ne!(urls[0], urls[1]);
    let a = client.download(urls[0].as_str().expect("url")).await;
    let b = client.download(urls[1].as_str().expect("url")).await;
    assert_ne!(a, b);
}

#[tokio::test]
async fn image_route_needs_no_auth_and_records_a_leaked_token() {
    let (sim, client) = start(ModelScopeConfig::default()).await;
    let url = first_image(&client.generate(&body("cat", 1)).await);
    client.download(&url).await;
    let leaked = client
        .http
        .get(&url)
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("sent");
    assert_eq!(leaked.status(), StatusCode::OK);
    let downloads: Vec<_> = sim
        .requests()
        .into_iter()
        .filter(|r| r.path.starts_with("/img/"))
        .collect();
    assert_eq!(downloads.len(), 2);
    assert_eq!(downloads[0].header("authorization"), None);
    assert!(downloads[1].header("authorization").is_some());
}

#[tokio::test]
async fn unknown_image_is_404() {
    let (sim, client) = start(ModelScopeConfig::default()).await;
    let url = format!("{}img/{}.png", sim.base_url(), "0".repeat(32));
    let response = client.http.get(url).send().await.expect("sent");
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn download_faults_html_and_expired() {
    let (sim, client) = start(ModelScopeConfig::default()).await;
    let url = first_image(&client.generate(&body("cat", 1)).await);

    sim.update(|c| c.download_html = true);
    let html = client.http.get(&url).send().await.expect("sent");
    assert_eq!(html.status(), StatusCode::OK);
    let content_type = html.headers()["content-type"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    assert!(html.text().await.expect("text").starts_with("<html>"));

    sim.update(|c| c.download_404 = true);
    let gone = client.http.get(&url).send().await.expect("sent");
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);

    sim.update(|c| {
        c.download_404 = false;
        c.download_html = false;
    });
    client.download(&url).await;
}

#[tokio::test]
async fn aborted_download_is_a_body_error() {
    let config = ModelScopeConfig {
        download_abort_after: Some(100),
        ..ModelScopeConfig::default()
    };
    let (_sim, client) = start(config).await;
    let url = first_image(&client.generate(&body("cat", 1)).await);
    let response = client.http.get(&url).send().await.expect("headers arrive");
    assert_eq!(response.status(), StatusCode::OK);
    let announced = response.content_length().expect("Content-Length sent");
    assert!(announced > 100, "{announced}");
    let mut response = response;
    let mut received = 0;
    let error = loop {
        match response.chunk().await {
            Ok(Some(chunk)) => received += chunk.len(),
            Ok(None) => panic!("body ended cleanly after {received} bytes"),
            Err(error) => break error,
        }
    };
    assert!(error.is_body() || error.is_decode(), "{error:?}");
    assert_eq!(received, 100);
}

#[tokio::test]
async fn slow_download_trips_a_client_timeout() {
    let config = ModelScopeConfig {
        download_delay: Duration::from_secs(30),
        ..ModelScopeConfig::default()
    };
    let (_sim, client) = start(config).await;
    let url = first_image(&client.generate(&body("cat", 1)).await);
    let result = client
        .http
        .get(&url)
        .timeout(Duration::from_millis(200))
        .send()
        .await;
    assert!(result.expect_err("must time out").is_timeout());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_256_concurrent_jobs() {
    let (sim, client) = start(ModelScopeConfig::default()).await;
    let client = &client;
    let jobs = (0..256u32).map(|i| async move {
        let request =
            json!({"model": "Qwen/Qwen-Image", "prompt": format!("job {i}"), "size": "64x64"});
        let done = client.generate(&request).await;
        client.download(&first_image(&done)).await.len()
    });
    let sizes = futures::future::join_all(jobs).await;
    assert!(sizes.iter().all(|n| *n > 0));
    assert_eq!(sim.submissions(), 256);
}

#[tokio::test]
async fn shutdown_stops_the_server() {
    let (sim, client) = start(ModelScopeConfig::default()).await;
    let url = format!("{}v1/tasks/1", sim.base_url());
    sim.shutdown();
    // A fresh connection is refused once the listener is gone.
    install_tls_provider();
    let fresh = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("client");
    let mut refused = false;
    for _ in 0..100 {
        if fresh.get(&url).send().await.is_err() {
            refused = true;
            break;
        }
        tokio::task::yield_now().await;
    }
    assert!(refused);
    drop(client);
}

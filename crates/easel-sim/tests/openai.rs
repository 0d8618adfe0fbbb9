//! Drives the OpenAI images simulator over real HTTP, as a production client would, and
//! checks the behaviours of contract section 9 (`docs/contracts/openai-images.md`)
//! that clients depend on.

use crate::common::install_tls_provider;
use std::time::Duration;

use base64::Engine as _;
use easel_sim::{OpenAiConfig, OpenAiSim, ProviderMode};
use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

const KEY: &str = "sk-proj-abcdefghijklmnopqrstuvwxyz0123abcd";

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
        self.headers.get(name).map(|v| v.to_str().expect("ascii"))
    }

    /// Asserts a 200 and returns the body.
    fn ok(&self) -> &Value {
        assert_eq!(self.status, StatusCode::OK, "{}", self.json);
        &self.json
    }

    /// Asserts an error status and returns the OpenAI envelope's inner object.
    fn error(&self, status: StatusCode) -> &Value {
        assert_eq!(self.status, status, "{}", self.json);
        let error = &self.json["error"];
        assert!(error.is_object(), "no error envelope: {}", self.json);
        error
    }
}

struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    fn new(sim: &OpenAiSim) -> Client {
        install_tls_provider();
        Client {
            http: reqwest::Client::new(),
            base: sim.base_url(),
        }
    }

    async fn generate(&self, body: &Value) -> Answer {
        let response = self
            .http
            .post(format!("{}/images/generations", self.base))
            .bearer_auth(KEY)
            .json(body)
            .send()
            .await
            .expect("generation sent");
        Answer::read(response).await
    }

    async fn edit(&self, form: Form) -> Answer {
        let response = self
            .http
            .post(format!("{}/images/edits", self.base))
            .bearer_auth(KEY)
            .multipart(form)
            .send()
            .await
            .expect("edit sent");
        Answer::read(response).await
    }

    /// Downloads a `url` answer without any Authorization header.
    async fn download(&self, url: &str) -> (String, Vec<u8>) {
        let response = self.http.get(url).send().await.expect("download sent");
        assert_eq!(response.status(), StatusCode::OK, "{url}");
        let content_type = response.headers()["content-type"]
            .to_str()
            .expect("ascii")
            .to_owned();
        (
            content_type,
            response.bytes().await.expect("bytes").to_vec(),
        )
    }
}

async fn start(config: OpenAiConfig) -> (OpenAiSim, Client) {
    let sim = OpenAiSim::start(config).await.expect("sim starts");
    let client = Client::new(&sim);
    (sim, client)
}

fn b64(item: &Value) -> Vec<u8> {
    let text = item["b64_json"].as_str().expect("b64_json");
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .expect("valid base64")
}

/// Decodes `bytes` as `format` and returns the size.
fn size_of(bytes: &[u8], format: image::ImageFormat) -> (u32, u32) {
    assert_eq!(image::guess_format(bytes).expect("known format"), format);
    let img = image::load_from_memory_with_format(bytes, format).expect("decodes");
    (img.width(), img.height())
}

fn png_part(width: u32, height: u32, name: &str) -> Part {
    Part::bytes(easel_sim::picture::png(width, height, name))
        .file_name(format!("{name}.png"))
        .mime_str("image/png")
        .expect("mime")
}

#[tokio::test]
async fn base_url_ends_in_v1() {
    let (sim, _client) = start(OpenAiConfig::default()).await;
    assert_eq!(sim.base_url(), format!("http://{}/v1", sim.addr()));
}

#[tokio::test]
async fn missing_key_and_wrong_key_get_openai_401s() {
    let config = OpenAiConfig {
        valid_keys: Some(vec!["sk-good".to_owned()]),
        ..OpenAiConfig::default()
    };
    let (sim, client) = start(config).await;
    let url = format!("{}/images/generations", sim.base_url());
    let body = json!({"model": "gpt-image-1", "prompt": "cat"});
    for request in [
        client.http.post(&url).json(&body),
        client
            .http
            .post(&url)
            .header("Authorization", "Bearer ")
            .json(&body),
        client
            .http
            .post(&url)
            .header("Authorization", "Basic abc")
            .json(&body),
    ] {
        let answer = Answer::read(request.send().await.expect("sent")).await;
        let error = answer.error(StatusCode::UNAUTHORIZED);
        assert_eq!(error["type"], "invalid_request_error");
        assert_eq!(error["param"], Value::Null);
        assert_eq!(error["code"], Value::Null);
        let message = error["message"].as_str().expect("message");
        assert!(
            message.starts_with("You didn't provide an API key."),
            "{message}"
        );
        assert!(
            message.contains("Authorization: Bearer YOUR_KEY"),
            "{message}"
        );
    }
    let answer = client.generate(&body).await;
    assert_eq!(
        answer.json,
        json!({"error": {
            "message": "Incorrect API key provided: sk-proj-****abcd. You can find your API key at https://platform.openai.com/account/api-keys.",
            "type": "invalid_request_error",
            "param": null,
            "code": "invalid_api_key",
        }})
    );
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    let id = answer.header("x-request-id").expect("x-request-id");
    assert!(id.starts_with("req_") && id.len() == 36, "{id}");
    // The log keeps every attempt with its headers.
    let requests = sim.requests();
    assert_eq!(requests.len(), 4);
    assert_eq!(
        requests[3].header("authorization"),
        Some(&*format!("Bearer {KEY}"))
    );
    assert_eq!(requests[3].body, Some(body));
}

#[tokio::test]
async fn gpt_image_rejects_response_format_and_style_exactly() {
    let (_sim, client) = start(OpenAiConfig::default()).await;
    for model in [
        "gpt-image-1",
        "gpt-image-1-mini",
        "gpt-image-1.5",
        "gpt-image-2",
    ] {
        let answer = client
            .generate(&json!({"model": model, "prompt": "cat", "response_format": "b64_json"}))
            .await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            answer.json,
            json!({"error": {
                "message": "Unknown parameter: 'response_format'.",
                "type": "invalid_request_error",
                "param": "response_format",
                "code": "unknown_parameter",
            }})
        );
    }
    let answer = client
        .generate(&json!({"model": "gpt-image-1", "prompt": "cat", "style": "vivid"}))
        .await;
    assert_eq!(
        answer.json,
        json!({"error": {
            "message": "Unknown parameter: 'style'.",
            "type": "invalid_request_error",
            "param": "style",
            "code": "unknown_parameter",
        }})
    );
}

#[tokio::test]
async fn gpt_image_answers_b64_with_resolved_settings_and_usage() {
    let (_sim, client) = start(OpenAiConfig::default()).await;
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let answer = client
        .generate(
            &json!({"model": "gpt-image-1", "prompt": "a watercolor fox", "n": 1,
                          "size": "1024x1024", "quality": "low"}),
        )
        .await;
    let body = answer.ok();
    let created = body["created"].as_u64().expect("created is an integer");
    assert!(
        created >= before && created < before + 60,
        "seconds, not millis: {created}"
    );
    assert_eq!(body["background"], "opaque");
    assert_eq!(body["output_format"], "png");
    assert_eq!(body["quality"], "low");
    assert_eq!(body["size"], "1024x1024");
    let usage = &body["usage"];
    let total = usage["total_tokens"].as_u64().expect("total");
    assert_eq!(
        total,
        usage["input_tokens"].as_u64().expect("input")
            + usage["output_tokens"].as_u64().expect("output")
    );
    assert!(usage["input_tokens_details"]["text_tokens"].as_u64() > Some(0));
    let data = body["data"].as_array().expect("data");
    assert_eq!(data.len(), 1);
    assert!(
        data[0].get("url").is_none(),
        "GPT image models never answer url"
    );
    assert_eq!(
        size_of(&b64(&data[0]), image::ImageFormat::Png),
        (1024, 1024)
    );

    // gpt-image-2 takes free sizes; output_format picks the file type.
    for (format, expected) in [
        ("jpeg", image::ImageFormat::Jpeg),
        ("webp", image::ImageFormat::WebP),
    ] {
        let answer = client
            .generate(&json!({"model": "gpt-image-2", "prompt": "fox", "n": 2,
                              "size": "320x240", "output_format": format}))
            .await;
        let body = answer.ok();
        assert_eq!(body["output_format"], format);
        assert_eq!(body["size"], "320x240");
        let data = body["data"].as_array().expect("data");
        assert_eq!(data.len(), 2);
        for item in data {
            assert_eq!(size_of(&b64(item), expected), (320, 240));
        }
    }
    // gpt-image-1 keeps to its three sizes.
    let answer = client
        .generate(&json!({"model": "gpt-image-1", "prompt": "fox", "size": "320x240"}))
        .await;
    assert_eq!(
        answer.error(StatusCode::BAD_REQUEST)["code"],
        "invalid_size"
    );
}

#[tokio::test]
async fn prompt_is_required_and_typed() {
    let (_sim, client) = start(OpenAiConfig::default()).await;
    let answer = client.generate(&json!({"model": "gpt-image-1"})).await;
    let error = answer.error(StatusCode::BAD_REQUEST);
    assert_eq!(error["param"], "prompt");
    assert_eq!(error["type"], "invalid_request_error");
    assert_eq!(error["code"], "missing_required_parameter");
    let answer = client
        .generate(&json!({"model": "dall-e-2", "prompt": "cat", "n": "2"}))
        .await;
    let error = answer.error(StatusCode::BAD_REQUEST);
    assert_eq!(error["param"], "n");
    assert_eq!(error["code"], "invalid_type");
    // A body that is not JSON.
    let response = client
        .http
        .post(format!("{}/images/generations", client.base))
        .bearer_auth(KEY)
        .body("prompt=cat")
        .send()
        .await
        .expect("sent");
    let answer = Answer::read(response).await;
    let error = answer.error(StatusCode::BAD_REQUEST);
    assert!(
        error["message"]
            .as_str()
            .expect("text")
            .starts_with("We could not parse the JSON body")
    );
}

#[tokio::test]
async fn dall_e_3_rules_and_downloadable_urls() {
    let (sim, client) = start(OpenAiConfig::default()).await;
    let answer = client
        .generate(&json!({"model": "dall-e-3", "prompt": "cat", "n": 2}))
        .await;
    let error = answer.error(StatusCode::BAD_REQUEST);
    assert_eq!(error["param"], "n");
    assert_eq!(error["type"], "invalid_request_error");
    let answer = client
        .generate(&json!({"model": "dall-e-3", "prompt": "cat", "size": "512x512"}))
        .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        answer.json,
        json!({"error": {"code": "invalid_size", "message": "The size is not supported by this model.",
                         "param": null, "type": "invalid_request_error"}})
    );

    // Default response_format is url: a URL on the sim's host, served without auth.
    let answer = client
        .generate(
            &json!({"model": "dall-e-3", "prompt": "cat", "n": 1, "size": "1024x1024",
                          "quality": "hd", "style": "natural"}),
        )
        .await;
    let item = &answer.ok()["data"][0];
    assert!(item.get("b64_json").is_none());
    assert!(
        item["revised_prompt"]
            .as_str()
            .is_some_and(|p| p.contains("cat"))
    );
    let url = item["url"].as_str().expect("url");
    assert!(url.starts_with(&format!("http://{}/", sim.addr())), "{url}");
    let (content_type, bytes) = client.download(url).await;
    assert_eq!(content_type, "image/png");
    assert_eq!(size_of(&bytes, image::ImageFormat::Png), (1024, 1024));
    let download = sim.requests().pop().expect("download recorded");
    assert_eq!(download.method, "GET");
    assert_eq!(download.header("authorization"), None);

    let answer = client
        .generate(
            &json!({"model": "dall-e-3", "prompt": "cat", "size": "1792x1024",
                          "response_format": "b64_json"}),
        )
        .await;
    let item = &answer.ok()["data"][0];
    assert!(item.get("url").is_none());
    assert!(item["revised_prompt"].is_string());
    assert_eq!(size_of(&b64(item), image::ImageFormat::Png), (1792, 1024));
}

#[tokio::test]
async fn dall_e_2_takes_small_squares_and_up_to_ten() {
    let (_sim, client) = start(OpenAiConfig::default()).await;
    let answer = client
        .generate(
            &json!({"model": "dall-e-2", "prompt": "cat", "n": 3, "size": "256x256",
                          "response_format": "b64_json"}),
        )
        .await;
    let data = answer.ok()["data"].as_array().expect("data").clone();
    assert_eq!(data.len(), 3);
    for item in &data {
        assert!(item.get("revised_prompt").is_none());
        assert_eq!(size_of(&b64(item), image::ImageFormat::Png), (256, 256));
    }
    let answer = client
        .generate(&json!({"model": "dall-e-2", "prompt": "cat", "size": "300x300"}))
        .await;
    assert_eq!(
        answer.error(StatusCode::BAD_REQUEST)["code"],
        "invalid_size"
    );
    let answer = client
        .generate(&json!({"model": "dall-e-2", "prompt": "cat", "n": 11}))
        .await;
    let error = answer.error(StatusCode::BAD_REQUEST);
    assert_eq!(error["param"], "n");
    assert_eq!(error["code"], "integer_above_max_value");
    // Without model and without GPT-only fields the model is dall-e-2: URLs by default.
    let answer = client
        .generate(&json!({"prompt": "cat", "size": "256x256"}))
        .await;
    assert!(answer.ok()["data"][0]["url"].is_string());
}

#[tokio::test]
async fn compatible_models_take_openai_fields_at_face_value() {
    let (_sim, client) = start(OpenAiConfig::default()).await;
    let answer = client
        .generate(
            &json!({"model": "Qwen/Qwen-Image", "prompt": "cat", "n": 2, "size": "96x64",
                          "seed": 7, "negative_prompt": "dog"}),
        )
        .await;
    let body = answer.ok();
    assert!(body.get("usage").is_none());
    let data = body["data"].as_array().expect("data");
    assert_eq!(data.len(), 2);
    for item in data {
        assert_eq!(size_of(&b64(item), image::ImageFormat::Png), (96, 64));
    }
    let answer = client
        .generate(
            &json!({"model": "black-forest-labs/FLUX.1-schnell", "prompt": "cat",
                          "size": "64x48", "response_format": "url", "output_format": "jpeg"}),
        )
        .await;
    let url = answer.ok()["data"][0]["url"]
        .as_str()
        .expect("url")
        .to_owned();
    let (content_type, bytes) = client.download(&url).await;
    assert_eq!(content_type, "image/jpeg");
    assert_eq!(size_of(&bytes, image::ImageFormat::Jpeg), (64, 48));
    let answer = client
        .generate(
            &json!({"model": "Qwen/Qwen-Image", "prompt": "cat", "size": "48x48",
                          "output_format": "webp"}),
        )
        .await;
    assert_eq!(
        size_of(&b64(&answer.ok()["data"][0]), image::ImageFormat::WebP),
        (48, 48)
    );
}

#[tokio::test]
async fn edits_take_image_or_image_array_and_record_parts() {
    let (sim, client) = start(OpenAiConfig::default()).await;
    let form = Form::new()
        .text("model", "gpt-image-1")
        .text("prompt", "add a hat")
        .part("image", png_part(64, 48, "cat"));
    let answer = client.edit(form).await;
    let body = answer.ok();
    assert_eq!(body["size"], "64x48", "auto means the input's size");
    assert!(body["usage"]["input_tokens_details"]["image_tokens"].as_u64() > Some(0));
    assert_eq!(
        size_of(&b64(&body["data"][0]), image::ImageFormat::Png),
        (64, 48)
    );

    let mask = Part::bytes(easel_sim::picture::png(64, 48, "mask"))
        .file_name("mask.png")
        .mime_str("image/png")
        .expect("mime");
    let form = Form::new()
        .text("model", "gpt-image-1")
        .text("prompt", "put the hat on the cat")
        .text("n", "2")
        .part("image[]", png_part(64, 48, "cat"))
        .part(
            "image[]",
            Part::bytes(easel_sim::picture::jpeg(30, 20, "hat"))
                .file_name("hat.jpg")
                .mime_str("image/jpeg")
                .expect("mime"),
        )
        .part("mask", mask);
    let answer = client.edit(form).await;
    let data = answer.ok()["data"].as_array().expect("data").clone();
    assert_eq!(data.len(), 2);
    let recorded = sim.requests().pop().expect("recorded");
    assert_eq!(recorded.path, "/v1/images/edits");
    let parts = recorded.body.expect("parts recorded")["parts"].clone();
    let summary: Vec<(String, Value, Value)> = parts
        .as_array()
        .expect("parts")
        .iter()
        .map(|p| {
            (
                p["name"].as_str().expect("name").to_owned(),
                p["filename"].clone(),
                p["content_type"].clone(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("model".to_owned(), Value::Null, Value::Null),
            ("prompt".to_owned(), Value::Null, Value::Null),
            ("n".to_owned(), Value::Null, Value::Null),
            ("image[]".to_owned(), json!("cat.png"), json!("image/png")),
            ("image[]".to_owned(), json!("hat.jpg"), json!("image/jpeg")),
            ("mask".to_owned(), json!("mask.png"), json!("image/png")),
        ]
    );
    assert_eq!(parts[1]["text"], "put the hat on the cat");
    assert_eq!(parts[4]["width"], 30);
    assert_eq!(parts[4]["height"], 20);
    assert!(parts[3]["bytes"].as_u64() > Some(0));
}

#[tokio::test]
async fn edits_check_image_prompt_and_mask() {
    let (_sim, client) = start(OpenAiConfig::default()).await;
    let answer = client
        .edit(
            Form::new()
                .text("model", "gpt-image-1")
                .text("prompt", "hat"),
        )
        .await;
    let error = answer.error(StatusCode::BAD_REQUEST);
    assert_eq!(error["param"], "image");
    assert_eq!(error["type"], "invalid_request_error");

    let answer = client
        .edit(
            Form::new()
                .text("model", "gpt-image-1")
                .part("image", png_part(32, 32, "cat")),
        )
        .await;
    assert_eq!(answer.error(StatusCode::BAD_REQUEST)["param"], "prompt");

    // A mask of another size.
    let form = Form::new()
        .text("model", "gpt-image-1")
        .text("prompt", "hat")
        .part("image", png_part(32, 32, "cat"))
        .part("mask", png_part(16, 16, "mask"));
    let error = client
        .edit(form)
        .await
        .error(StatusCode::BAD_REQUEST)
        .clone();
    assert_eq!(error["param"], "mask");
    assert_eq!(error["type"], "invalid_request_error");
    assert!(
        error["message"].as_str().expect("text").contains("16x16"),
        "{error}"
    );

    // A mask that is not a PNG.
    let form = Form::new()
        .text("model", "gpt-image-1")
        .text("prompt", "hat")
        .part("image", png_part(32, 32, "cat"))
        .part(
            "mask",
            Part::bytes(easel_sim::picture::jpeg(32, 32, "mask"))
                .file_name("mask.jpg")
                .mime_str("image/jpeg")
                .expect("mime"),
        );
    assert_eq!(
        client.edit(form).await.error(StatusCode::BAD_REQUEST)["param"],
        "mask"
    );

    // Not an image at all.
    let form = Form::new().text("prompt", "hat").part(
        "image",
        Part::bytes(b"hello".to_vec())
            .file_name("a.txt")
            .mime_str("text/plain")
            .expect("mime"),
    );
    let error = client
        .edit(form)
        .await
        .error(StatusCode::BAD_REQUEST)
        .clone();
    assert_eq!(error["param"], "image");
    assert!(
        error["message"]
            .as_str()
            .expect("text")
            .contains("text/plain")
    );

    // dall-e-2 edits need transparency in the image when no mask is sent.
    let form = Form::new()
        .text("model", "dall-e-2")
        .text("prompt", "hat")
        .text("size", "256x256")
        .part("image", png_part(32, 32, "cat"));
    let error = client
        .edit(form)
        .await
        .error(StatusCode::BAD_REQUEST)
        .clone();
    assert_eq!(error["param"], "image");
    assert_eq!(error["code"], "invalid_image_format");
    let form = Form::new()
        .text("model", "dall-e-2")
        .text("prompt", "hat")
        .text("size", "256x256")
        .text("response_format", "b64_json")
        .part("image", png_part(32, 32, "cat"))
        .part("mask", png_part(32, 32, "mask"));
    let answer = client.edit(form).await;
    assert_eq!(
        size_of(&b64(&answer.ok()["data"][0]), image::ImageFormat::Png),
        (256, 256)
    );

    // gpt-image models reject response_format on edits too.
    let form = Form::new()
        .text("model", "gpt-image-1")
        .text("prompt", "hat")
        .text("response_format", "b64_json")
        .part("image", png_part(32, 32, "cat"));
    assert_eq!(
        client.edit(form).await.error(StatusCode::BAD_REQUEST)["code"],
        "unknown_parameter"
    );
}

#[tokio::test]
async fn siliconflow_mode_speaks_siliconflow() {
    let config = OpenAiConfig {
        mode: ProviderMode::SiliconFlow,
        ..OpenAiConfig::default()
    };
    let (sim, client) = start(config).await;
    let answer = client
        .generate(
            &json!({"model": "Kwai-Kolors/Kolors", "prompt": "cat", "image_size": "96x64",
                          "batch_size": 2, "seed": 42}),
        )
        .await;
    assert!(answer.header("x-siliconcloud-trace-id").is_some());
    let body = answer.ok().clone();
    assert!(body.get("data").is_none(), "images[], not data[]: {body}");
    assert_eq!(body["seed"], 42);
    assert!(body["timings"]["inference"].is_number());
    let images = body["images"].as_array().expect("images");
    assert_eq!(images.len(), 2);
    for image in images {
        assert!(image.get("b64_json").is_none());
        let (_, bytes) = client.download(image["url"].as_str().expect("url")).await;
        assert_eq!(size_of(&bytes, image::ImageFormat::Png), (96, 64));
    }
    // `size` and `n` are not SiliconFlow's fields: ignored.
    let answer = client
        .generate(
            &json!({"model": "Qwen/Qwen-Image", "prompt": "cat", "size": "64x64", "n": 3,
                          "image_size": "32x32"}),
        )
        .await;
    assert_eq!(answer.ok()["images"].as_array().map(Vec::len), Some(1));
    // No edits endpoint.
    let form = Form::new()
        .text("prompt", "hat")
        .part("image", png_part(16, 16, "cat"));
    let answer = client.edit(form).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    // Its own error bodies.
    let answer = client
        .generate(&json!({"model": "Kwai-Kolors/Kolors", "prompt": "cat", "batch_size": 9}))
        .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.json["code"], 20012);
    assert!(answer.json["message"].is_string());
    let response = client
        .http
        .post(format!("{}/images/generations", sim.base_url()))
        .json(&json!({"model": "Kwai-Kolors/Kolors", "prompt": "cat"}))
        .send()
        .await
        .expect("sent");
    let answer = Answer::read(response).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.json, json!("Invalid token"));
}

#[tokio::test]
async fn relay_mode_answers_urls_with_empty_b64() {
    let config = OpenAiConfig {
        mode: ProviderMode::Relay,
        ..OpenAiConfig::default()
    };
    let (_sim, client) = start(config).await;
    let answer = client
        .generate(&json!({"model": "qwen-image", "prompt": "cat", "n": 1, "size": "64x64"}))
        .await;
    let item = answer.ok()["data"][0].clone();
    assert_eq!(item["b64_json"], "");
    assert_eq!(item["revised_prompt"], "");
    let (_, bytes) = client.download(item["url"].as_str().expect("url")).await;
    assert_eq!(size_of(&bytes, image::ImageFormat::Png), (64, 64));
    // Errors keep the envelope, with the gateway's type and request id.
    let answer = client
        .generate(&json!({"model": "gpt-image-1", "prompt": "cat", "response_format": "url"}))
        .await;
    let error = answer.error(StatusCode::BAD_REQUEST);
    assert_eq!(error["type"], "new_api_error");
    assert_eq!(error["code"], "unknown_parameter");
    let id = answer.header("x-request-id").expect("request id");
    assert!(
        error["message"]
            .as_str()
            .expect("text")
            .ends_with(&format!("(request id: {id})"))
    );
}

#[tokio::test]
async fn faults_on_demand_have_openai_shapes() {
    let (sim, client) = start(OpenAiConfig::default()).await;
    let small = json!({"model": "dall-e-2", "prompt": "cat", "size": "256x256",
                       "response_format": "b64_json"});

    sim.update(|c| c.reject_next_429 = 1);
    let answer = client.generate(&small).await;
    let error = answer.error(StatusCode::TOO_MANY_REQUESTS).clone();
    assert_eq!(error["code"], "rate_limit_exceeded");
    assert_eq!(error["type"], "requests");
    assert_eq!(answer.header("retry-after"), Some("1"));
    client.generate(&small).await.ok();

    sim.update(|c| c.insufficient_quota = true);
    let answer = client.generate(&small).await;
    let error = answer.error(StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(error["code"], "insufficient_quota");
    assert_eq!(error["type"], "insufficient_quota");
    assert_eq!(answer.header("retry-after"), None);
    sim.update(|c| c.insufficient_quota = false);

    sim.update(|c| c.fail_next_500 = 1);
    let answer = client.generate(&small).await;
    assert_eq!(
        answer.error(StatusCode::INTERNAL_SERVER_ERROR)["type"],
        "server_error"
    );
    client.generate(&small).await.ok();

    sim.update(|c| c.moderation_block = true);
    let answer = client
        .generate(&json!({"model": "gpt-image-1", "prompt": "cat", "quality": "low"}))
        .await;
    let error = answer.error(StatusCode::BAD_REQUEST).clone();
    assert_eq!(error["code"], "moderation_blocked");
    assert_eq!(error["type"], "image_generation_user_error");
    assert_eq!(error["param"], Value::Null);
    assert_eq!(error["moderation_details"]["moderation_stage"], "input");
    assert!(error["moderation_details"]["categories"].is_array());
    let id = answer.header("x-request-id").expect("request id");
    assert!(error["message"].as_str().expect("text").contains(id));
    sim.update(|c| c.moderation_block = false);

    sim.update(|c| c.content_policy = true);
    let answer = client.generate(&small).await;
    let error = answer.error(StatusCode::BAD_REQUEST);
    assert_eq!(error["code"], "content_policy_violation");
    assert_eq!(error["type"], "invalid_request_error");
    sim.update(|c| c.content_policy = false);

    sim.update(|c| c.known_models = Some(vec!["gpt-image-1".to_owned()]));
    let answer = client.generate(&small).await;
    assert_eq!(
        answer.json,
        json!({"error": {
            "message": "The model `dall-e-2` does not exist or you do not have access to it.",
            "type": "invalid_request_error",
            "param": null,
            "code": "model_not_found",
        }})
    );
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn latency_lets_clients_time_out() {
    let config = OpenAiConfig {
        latency: Duration::from_secs(30),
        ..OpenAiConfig::default()
    };
    let (sim, client) = start(config).await;
    let result = client
        .http
        .post(format!("{}/images/generations", sim.base_url()))
        .bearer_auth(KEY)
        .timeout(Duration::from_millis(200))
        .json(&json!({"model": "dall-e-2", "prompt": "cat"}))
        .send()
        .await;
    assert!(result.expect_err("times out").is_timeout());
    // Errors found before generating are not delayed.
    let answer = client.generate(&json!({"model": "dall-e-2"})).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn unknown_paths_are_invalid_urls() {
    let (sim, client) = start(OpenAiConfig::default()).await;
    let response = client
        .http
        .post(format!("{}/images/variations", sim.base_url()))
        .bearer_auth(KEY)
        .send()
        .await
        .expect("sent");
    let answer = Answer::read(response).await;
    assert_eq!(
        answer.error(StatusCode::NOT_FOUND)["message"],
        "Invalid URL (POST /v1/images/variations)"
    );
    let response = client
        .http
        .get(format!("{}/images/generations", sim.base_url()))
        .bearer_auth(KEY)
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

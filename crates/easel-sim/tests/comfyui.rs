//! Drives the ComfyUI simulator over real HTTP and WebSocket, as a production client
//! would, and checks the behaviours of `docs/contracts/comfyui.md` (section 12) against
//! the shapes of the real capture `docs/contracts/comfyui-transcript.json`.
//!
//! Nothing here waits with a bare sleep: jobs are held with `paused`, and completion is
//! seen through WebSocket events or a deadline-bounded `/history` poll, as a client
//! without a socket must do.

use crate::common::install_tls_provider;
use std::time::Duration;

use easel_sim::{ComfyConfig, ComfySim};
use futures::{SinkExt as _, StreamExt as _};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;

const CLIENT: &str = "5e838d48-1794-4f13-84f4-a8b0e4c18121";
const CRASH: &str = "500 Internal Server Error\n\nServer got itself in trouble";
/// Generous bound on any single wait, so a broken simulator fails instead of hanging.
const WAIT: Duration = Duration::from_secs(20);

/// A graph as JSON text, so its node order reaches the server as written
/// (`serde_json::Value` would sort the keys).
struct Graph(String);

impl Graph {
    fn value(&self) -> Value {
        serde_json::from_str(&self.0).expect("graph JSON")
    }
}

/// The capture's success graph: EmptyImage -> ImageAddNoise(seed) -> ImageInvert ->
/// {SaveImage, SaveImageWebsocket}, in the capture's node order.
fn success_graph(seed: u64, prefix: &str) -> Graph {
    Graph(format!(
        r#"{{"1": {{"class_type": "EmptyImage", "inputs": {{"width": 64, "height": 48, "batch_size": 2, "color": 3368652}}}},
            "5": {{"class_type": "ImageAddNoise", "inputs": {{"image": ["1", 0], "seed": {seed}, "strength": 0.3}}}},
            "2": {{"class_type": "ImageInvert", "inputs": {{"image": ["5", 0]}}}},
            "3": {{"class_type": "SaveImage", "inputs": {{"images": ["2", 0], "filename_prefix": "{prefix}"}}}},
            "4": {{"class_type": "SaveImageWebsocket", "inputs": {{"images": ["2", 0]}}}}}}"#
    ))
}

/// A text-to-image graph with a sampler, at a small size, inputs in ComfyUI's order.
fn sampler_graph(seed: u64, steps: u64, ckpt: &str) -> Graph {
    Graph(format!(
        r#"{{"4": {{"class_type": "CheckpointLoaderSimple", "inputs": {{"ckpt_name": "{ckpt}"}}}},
            "6": {{"class_type": "CLIPTextEncode", "inputs": {{"text": "a red fox", "clip": ["4", 1]}}}},
            "7": {{"class_type": "CLIPTextEncode", "inputs": {{"text": "", "clip": ["4", 1]}}}},
            "5": {{"class_type": "EmptyLatentImage", "inputs": {{"width": 96, "height": 64, "batch_size": 1}}}},
            "3": {{"class_type": "KSampler", "inputs": {{"model": ["4", 0], "seed": {seed}, "steps": {steps}, "cfg": 7.5,
                  "sampler_name": "euler", "scheduler": "normal", "positive": ["6", 0], "negative": ["7", 0],
                  "latent_image": ["5", 0], "denoise": 1.0}}}},
            "8": {{"class_type": "VAEDecode", "inputs": {{"samples": ["3", 0], "vae": ["4", 2]}}}},
            "9": {{"class_type": "SaveImage", "inputs": {{"images": ["8", 0], "filename_prefix": "easel/t2i"}}}}}}"#
    ))
}

/// One HTTP answer, read once.
#[derive(Debug)]
struct Answer {
    status: StatusCode,
    content_type: Option<String>,
    text: String,
    bytes: Vec<u8>,
}

impl Answer {
    async fn read(response: reqwest::Response) -> Answer {
        let status = response.status();
        let content_type = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().expect("ascii").to_owned());
        let bytes = response.bytes().await.expect("body").to_vec();
        Answer {
            status,
            content_type,
            text: String::from_utf8_lossy(&bytes).into_owned(),
            bytes,
        }
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.text))
    }

    fn assert_json(&self) -> Value {
        assert_eq!(self.status, StatusCode::OK, "{}", self.text);
        assert_eq!(
            self.content_type.as_deref(),
            Some("application/json; charset=utf-8")
        );
        self.json()
    }

    /// Command routes: 200, empty body, no content type (contract 1).
    fn assert_command_ok(&self) {
        assert_eq!(self.status, StatusCode::OK, "{}", self.text);
        assert_eq!(self.content_type, None);
        assert!(self.bytes.is_empty());
    }
}

struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    fn new(sim: &ComfySim) -> Client {
        install_tls_provider();
        Client {
            http: reqwest::Client::new(),
            base: sim.base_url(),
        }
    }

    async fn get(&self, path: &str) -> Answer {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("GET");
        Answer::read(response).await
    }

    async fn post(&self, path: &str, body: &Value) -> Answer {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .json(body)
            .send()
            .await
            .expect("POST");
        Answer::read(response).await
    }

    async fn post_raw(&self, path: &str, body: &'static str) -> Answer {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .body(body)
            .send()
            .await
            .expect("POST");
        Answer::read(response).await
    }

    async fn post_text(&self, path: &str, body: String) -> Answer {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("POST");
        Answer::read(response).await
    }

    /// Queues `graph` for `CLIENT`; returns the prompt id.
    async fn queue(&self, graph: Graph) -> String {
        let body = format!(r#"{{"prompt": {}, "client_id": "{CLIENT}"}}"#, graph.0);
        let answer = self.post_text("/prompt", body).await;
        let body = answer.assert_json();
        assert_eq!(body["node_errors"], json!({}), "{body}");
        body["prompt_id"].as_str().expect("prompt_id").to_owned()
    }

    async fn history(&self, prompt_id: &str) -> Value {
        self.get(&format!("/history/{prompt_id}"))
            .await
            .assert_json()
    }

    /// Polls `/history/{id}` until it is filled, as a client without a socket does.
    async fn poll_history(&self, prompt_id: &str) -> Value {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let history = self.history(prompt_id).await;
            if history != json!({}) {
                return history[prompt_id].clone();
            }
            assert!(tokio::time::Instant::now() < deadline, "job never finished");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    async fn view(&self, file: &Value) -> Answer {
        let part = |key: &str| encode(file[key].as_str().expect("file triple"));
        self.get(&format!(
            "/view?filename={}&subfolder={}&type={}",
            part("filename"),
            part("subfolder"),
            part("type")
        ))
        .await
    }
}

/// Percent-encodes a query value.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// A WebSocket message, decoded.
#[derive(Debug)]
enum Frame {
    Json(Value),
    Binary(Vec<u8>),
}

impl Frame {
    fn kind(&self) -> &str {
        match self {
            Frame::Json(v) => v["type"].as_str().unwrap_or("?"),
            Frame::Binary(_) => "<binary>",
        }
    }

    fn data(&self) -> &Value {
        match self {
            Frame::Json(v) => &v["data"],
            Frame::Binary(_) => panic!("binary frame has no data"),
        }
    }

    fn is_done(&self, prompt_id: &str) -> bool {
        self.kind() == "executing"
            && self.data()["node"].is_null()
            && self.data()["prompt_id"] == prompt_id
    }
}

type Stream =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

struct Socket {
    ws: Stream,
}

impl Socket {
    /// Connects as `client_id` and checks the first frame (status with sid, contract 8.1).
    async fn connect(sim: &ComfySim, client_id: &str) -> Socket {
        let url = format!("ws://{}/ws?clientId={client_id}", sim.addr());
        let (ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("WS connect");
        let mut socket = Socket { ws };
        let first = socket.next().await.expect("first frame");
        assert_eq!(first.kind(), "status");
        assert_eq!(first.data()["sid"], client_id);
        assert!(first.data()["status"]["exec_info"]["queue_remaining"].is_u64());
        socket
    }

    /// The next text or binary frame; `None` when the connection ends.
    async fn next(&mut self) -> Option<Frame> {
        loop {
            let message = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("timed out waiting for a WS frame")?;
            match message {
                Ok(Message::Text(text)) => {
                    return Some(Frame::Json(
                        serde_json::from_str(&text).expect("JSON frame"),
                    ));
                }
                Ok(Message::Binary(bytes)) => return Some(Frame::Binary(bytes.to_vec())),
                Ok(Message::Close(_)) | Err(_) => return None,
                Ok(_) => {}
            }
        }
    }

    /// Frames up to and including `executing {node: null, prompt_id}`.
    async fn until_done(&mut self, prompt_id: &str) -> Vec<Frame> {
        let mut frames = Vec::new();
        loop {
            let frame = self.next().await.expect("socket closed before done");
            let done = frame.is_done(prompt_id);
            frames.push(frame);
            if done {
                return frames;
            }
        }
    }

    /// Frames up to and including the first of `kind`.
    async fn until(&mut self, kind: &str) -> Vec<Frame> {
        let mut frames = Vec::new();
        loop {
            let frame = self.next().await.expect("socket closed early");
            let hit = frame.kind() == kind;
            frames.push(frame);
            if hit {
                return frames;
            }
        }
    }
}

/// The event types of `frames`, `progress_state` left out.
fn kinds(frames: &[Frame]) -> Vec<String> {
    frames
        .iter()
        .map(|f| match f {
            Frame::Json(v) if v["type"] == "executing" || v["type"] == "executed" => {
                format!(
                    "{} {}",
                    v["type"].as_str().unwrap_or("?"),
                    v["data"]["node"]
                )
            }
            Frame::Json(v) if v["type"] == "progress" => {
                format!("progress {}/{}", v["data"]["value"], v["data"]["max"])
            }
            Frame::Json(v) if v["type"] == "status" => format!(
                "status {}",
                v["data"]["status"]["exec_info"]["queue_remaining"]
            ),
            other => other.kind().to_owned(),
        })
        .filter(|k| k != "progress_state")
        .collect()
}

fn decode_png(bytes: &[u8]) -> (u32, u32) {
    let img = image::load_from_memory_with_format(bytes, image::ImageFormat::Png).expect("PNG");
    (img.width(), img.height())
}

async fn start(config: ComfyConfig) -> (ComfySim, Client) {
    let sim = ComfySim::start(config).await.expect("simulator starts");
    let client = Client::new(&sim);
    (sim, client)
}

#[tokio::test]
async fn every_route_answers_bare_and_under_api() {
    let (sim, client) = start(ComfyConfig::default()).await;
    assert!(!sim.base_url().ends_with('/'));
    for prefix in ["", "/api"] {
        let stats = client
            .get(&format!("{prefix}/system_stats"))
            .await
            .assert_json();
        assert_eq!(stats["system"]["comfyui_version"], "0.27.0");
        assert_eq!(stats["devices"][0]["type"], "cpu");
        assert!(stats["devices"][0]["index"].is_null());
        let features = client
            .get(&format!("{prefix}/features"))
            .await
            .assert_json();
        assert_eq!(features["max_upload_size"], 104_857_600);
        assert_eq!(features["supports_preview_metadata"], true);
        assert_eq!(
            client.get(&format!("{prefix}/prompt")).await.assert_json(),
            json!({"exec_info": {"queue_remaining": 0}})
        );
        let queue = client.get(&format!("{prefix}/queue")).await;
        assert_eq!(queue.text, r#"{"queue_running": [], "queue_pending": []}"#);
        assert_eq!(
            client.get(&format!("{prefix}/history")).await.assert_json(),
            json!({})
        );
        let models = client.get(&format!("{prefix}/models")).await.assert_json();
        assert_eq!(models[0], "checkpoints");
        assert_eq!(
            client
                .get(&format!("{prefix}/models/checkpoints"))
                .await
                .assert_json(),
            json!([
                "flux1-dev-fp8.safetensors",
                "v1-5-pruned-emaonly.safetensors",
                "sd_xl_base_1.0.safetensors"
            ])
        );
        assert_eq!(
            client
                .get(&format!("{prefix}/models/loras"))
                .await
                .assert_json(),
            json!([])
        );
        assert_eq!(
            client.get(&format!("{prefix}/models/nope")).await.status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            client
                .get(&format!("{prefix}/embeddings"))
                .await
                .assert_json(),
            json!([])
        );
        assert_eq!(
            client
                .get(&format!("{prefix}/object_info/NoSuchNode"))
                .await
                .assert_json(),
            json!({})
        );
        let all = client
            .get(&format!("{prefix}/object_info"))
            .await
            .assert_json();
        for class in [
            "EmptyImage",
            "SaveImage",
            "PreviewImage",
            "SaveImageWebsocket",
            "LoadImage",
            "KSampler",
            "CheckpointLoaderSimple",
            "UNETLoader",
            "CLIPLoader",
            "VAELoader",
            "EmptySD3LatentImage",
            "ModelSamplingAuraFlow",
        ] {
            assert_eq!(all[class]["name"], class, "{class} missing");
        }
        client
            .post(&format!("{prefix}/free"), &json!({"unload_models": true}))
            .await
            .assert_command_ok();
        client
            .post(&format!("{prefix}/interrupt"), &json!({}))
            .await
            .assert_command_ok();
    }
    // Exactly the capture's entry, in the capture's key order.
    let empty_image = client.get("/object_info/EmptyImage").await;
    assert!(empty_image.text.starts_with(r#"{"EmptyImage": {"input": {"required": {"width": ["INT", {"default": 512, "min": 1, "max": 16384, "step": 1}]"#));
    assert_eq!(
        empty_image.json(),
        json!({"EmptyImage": {"input": {"required": {"width": ["INT", {"default": 512, "min": 1, "max": 16384, "step": 1}], "height": ["INT", {"default": 512, "min": 1, "max": 16384, "step": 1}], "batch_size": ["INT", {"default": 1, "min": 1, "max": 4096}], "color": ["INT", {"default": 0, "min": 0, "max": 16777215, "step": 1, "display": "color"}]}}, "input_order": {"required": ["width", "height", "batch_size", "color"]}, "is_input_list": false, "output": ["IMAGE"], "output_is_list": [false], "output_name": ["IMAGE"], "name": "EmptyImage", "display_name": "Empty Image", "description": "", "python_module": "nodes", "category": "image", "output_node": false, "has_intermediate_output": false, "search_aliases": []}})
    );
    let save = client.get("/api/object_info/SaveImage").await.assert_json();
    assert_eq!(save["SaveImage"]["output_node"], true);
    assert_eq!(
        save["SaveImage"]["input"]["hidden"],
        json!({"prompt": "PROMPT", "extra_pnginfo": "EXTRA_PNGINFO"})
    );
    let ksampler = client.get("/object_info/KSampler").await.assert_json();
    let seed = &ksampler["KSampler"]["input"]["required"]["seed"];
    assert_eq!(seed[1]["max"], json!(18_446_744_073_709_551_615u64));
    assert!(
        ksampler["KSampler"]["input"]["required"]["sampler_name"][0]
            .as_array()
            .unwrap()
            .contains(&json!("dpmpp_2m"))
    );
    let ckpt = client
        .get("/object_info/CheckpointLoaderSimple")
        .await
        .assert_json();
    assert_eq!(
        ckpt["CheckpointLoaderSimple"]["output"],
        json!(["MODEL", "CLIP", "VAE"])
    );

    let unknown = client.get("/nope").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let wrong_method = client
        .http
        .delete(format!("{}/prompt", client.base))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_method.status(), StatusCode::METHOD_NOT_ALLOWED);

    // The WebSocket is aliased too.
    let url = format!("ws://{}/api/ws?clientId=aliased", sim.addr());
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.expect("api/ws");
    let Some(Ok(Message::Text(first))) = ws.next().await else {
        panic!("no first frame");
    };
    assert_eq!(
        serde_json::from_str::<Value>(&first).unwrap(),
        json!({"type": "status", "data": {"status": {"exec_info": {"queue_remaining": 0}}, "sid": "aliased"}})
    );
    assert_eq!(sim.ws_connections(), 1);
    assert!(sim.requests().iter().any(|r| r.path == "/api/ws"));
}

#[tokio::test]
async fn origin_guard_refuses_foreign_browser_requests() {
    let (sim, client) = start(ComfyConfig::default()).await;
    let host = sim.addr().to_string();
    let send = |origin: Option<&'static str>, site: Option<&'static str>| {
        let mut request = client.http.get(format!("{}/system_stats", client.base));
        if let Some(origin) = origin {
            request = request.header("Origin", origin);
        }
        if let Some(site) = site {
            request = request.header("Sec-Fetch-Site", site);
        }
        async move { request.send().await.expect("GET").status() }
    };
    assert_eq!(
        send(Some("http://evil.example"), None).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(send(None, Some("cross-site")).await, StatusCode::FORBIDDEN);
    assert_eq!(send(None, None).await, StatusCode::OK);
    let same = client
        .http
        .get(format!("{}/system_stats", client.base))
        .header("Origin", format!("http://{host}"))
        .send()
        .await
        .unwrap();
    assert_eq!(same.status(), StatusCode::OK);
    let posted = client
        .http
        .post(format!("{}/prompt", client.base))
        .header("Origin", "http://evil.example")
        .json(&json!({"prompt": success_graph(1, "x").value()}))
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), StatusCode::FORBIDDEN);
    assert!(sim.prompts().is_empty());

    // The guard covers the WebSocket upgrade too.
    let mut request = format!("ws://{host}/ws?clientId=x")
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("Origin", "http://evil.example".parse().unwrap());
    match tokio_tungstenite::connect_async(request).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 403);
        }
        other => panic!(
            "expected a 403 upgrade, got {:?}",
            other.map(|(_, r)| r.status())
        ),
    }

    sim.update(|c| c.origin_guard = false);
    assert_eq!(
        send(Some("http://evil.example"), None).await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn prompt_id_must_be_a_lowercase_canonical_uuid_and_every_post_counts() {
    let (sim, client) = start(ComfyConfig {
        paused: true,
        ..ComfyConfig::default()
    })
    .await;
    let invalid = json!({"error": {"type": "invalid_prompt_id", "message": "prompt_id must be a valid UUID",
        "details": "prompt_id must be a UUID string in canonical lowercase hyphenated form; omit it to let the server generate one",
        "extra_info": {}}, "node_errors": {}});
    for bad in [
        "7092F0F2-4109-4D43-9227-052FD3AF28D5",
        "not-a-uuid",
        "7092f0f24109-4d43-9227-052fd3af28d5",
    ] {
        let answer = client
            .post(
                "/prompt",
                &json!({"prompt": success_graph(1, "x").value(), "prompt_id": bad}),
            )
            .await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(
            answer.content_type.as_deref(),
            Some("application/json; charset=utf-8")
        );
        assert_eq!(answer.json(), invalid);
    }
    let id = "906be6ab-26dd-425f-b43f-6bfef202aac6";
    let accepted = client
        .post(
            "/prompt",
            &json!({"prompt": success_graph(1, "x").value(), "prompt_id": id, "client_id": CLIENT}),
        )
        .await;
    assert!(
        accepted.text.starts_with(r#"{"prompt_id": "906be6ab-"#),
        "{}",
        accepted.text
    );
    // Three rejected posts moved the counter too.
    assert_eq!(
        accepted.assert_json(),
        json!({"prompt_id": id, "number": 3, "node_errors": {}})
    );
    let generated = client
        .post(
            "/prompt",
            &json!({"prompt": success_graph(1, "x").value(), "prompt_id": null}),
        )
        .await
        .assert_json();
    let generated = generated["prompt_id"].as_str().unwrap();
    assert_eq!(generated, generated.to_lowercase());
    assert_eq!(generated.len(), 36);
    // Malformed JSON does not reach the counter; explicit numbers do not move it.
    assert_eq!(
        client.post_raw("/prompt", "{").await.status,
        StatusCode::INTERNAL_SERVER_ERROR
    );
    let explicit = client
        .post(
            "/prompt",
            &json!({"prompt": success_graph(1, "x").value(), "number": -100}),
        )
        .await;
    assert!(
        explicit.text.contains(r#""number": -100.0"#),
        "{}",
        explicit.text
    );
    let front = client
        .post(
            "/prompt",
            &json!({"prompt": success_graph(1, "x").value(), "front": true}),
        )
        .await
        .assert_json();
    assert_eq!(front["number"], -5);
    assert_eq!(sim.prompts().len(), 4);
    assert_eq!(sim.prompts()[0]["prompt_id"], id);
}

#[tokio::test]
async fn unknown_class_and_node_without_class_type_are_missing_node_type() {
    let (_sim, client) = start(ComfyConfig::default()).await;
    let mut graph = success_graph(42, "x").value();
    graph["5"] = json!({"class_type": "NoSuchNodeXYZ", "inputs": {}});
    let answer = client.post("/prompt", &json!({"prompt": graph})).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        answer.json(),
        json!({"error": {"type": "missing_node_type", "message": "Node 'NoSuchNodeXYZ' not found. The custom node may not be installed.",
            "details": "Node ID '#5'", "extra_info": {"node_id": "5", "class_type": "NoSuchNodeXYZ", "node_title": "NoSuchNodeXYZ"}},
            "node_errors": {}})
    );

    // A stray metadata block next to the nodes is a node without class_type.
    let mut graph = success_graph(42, "x").value();
    graph["easel"] = json!({"version": 1, "template": "t2i"});
    let answer = client.post("/prompt", &json!({"prompt": graph})).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        answer.json(),
        json!({"error": {"type": "missing_node_type", "message": "Node 'ID #easel' has no class_type. The workflow may be corrupted or a custom node is missing.",
            "details": "Node ID '#easel'", "extra_info": {"node_id": "easel", "class_type": null, "node_title": null}},
            "node_errors": {}})
    );
}

#[tokio::test]
async fn missing_nodes_knob_removes_a_class() {
    let config = ComfyConfig {
        missing_nodes: vec!["SaveImageWebsocket".into()],
        ..ComfyConfig::default()
    };
    let (_sim, client) = start(config).await;
    assert_eq!(
        client
            .get("/object_info/SaveImageWebsocket")
            .await
            .assert_json(),
        json!({})
    );
    let mut graph = success_graph(1, "x").value();
    graph["4"]["_meta"] = json!({"title": "Stream"});
    let answer = client.post("/prompt", &json!({"prompt": graph})).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    let error = &answer.json()["error"];
    assert_eq!(
        error["message"],
        "Node 'Stream' not found. The custom node may not be installed."
    );
    assert_eq!(
        error["extra_info"],
        json!({"node_id": "4", "class_type": "SaveImageWebsocket", "node_title": "Stream"})
    );
}

#[tokio::test]
async fn checkpoint_not_installed_is_value_not_in_list() {
    let config = ComfyConfig {
        checkpoints: vec!["a.safetensors".into(), "b.safetensors".into()],
        ..ComfyConfig::default()
    };
    let (sim, client) = start(config).await;
    let answer = client
        .post(
            "/prompt",
            &json!({"prompt": sampler_graph(1, 2, "x.safetensors").value()}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    let body = answer.json();
    assert_eq!(body["error"]["type"], "prompt_outputs_failed_validation");
    assert_eq!(
        body["node_errors"]["4"],
        json!({"errors": [{"type": "value_not_in_list", "message": "Value not in list",
            "details": "ckpt_name: 'x.safetensors' not in ['a.safetensors', 'b.safetensors']",
            "extra_info": {"input_name": "ckpt_name",
                "input_config": [["a.safetensors", "b.safetensors"], {"tooltip": "The name of the checkpoint (model) to load."}],
                "received_value": "x.safetensors"}}],
            "dependent_outputs": ["9"], "class_type": "CheckpointLoaderSimple"})
    );
    // Installing it (a knob read per request) makes the same graph valid.
    sim.update(|c| c.checkpoints.push("x.safetensors".into()));
    let answer = client
        .post(
            "/prompt",
            &json!({"prompt": sampler_graph(1, 2, "x.safetensors").value()}),
        )
        .await;
    assert_eq!(answer.assert_json()["node_errors"], json!({}));
}

#[tokio::test]
async fn validation_errors_and_the_partial_rule() {
    let config = ComfyConfig {
        paused: true,
        ..ComfyConfig::default()
    };
    let (sim, client) = start(config).await;
    // Every output fails: 400 with node_errors naming both dependents.
    let mut graph = success_graph(42, "mcp_probe").value();
    graph["1"]["inputs"]
        .as_object_mut()
        .unwrap()
        .remove("width");
    let answer = client.post("/prompt", &json!({"prompt": graph})).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        answer.json(),
        json!({"error": {"type": "prompt_outputs_failed_validation", "message": "Prompt outputs failed validation", "details": "", "extra_info": {}},
            "node_errors": {"1": {"errors": [{"type": "required_input_missing", "message": "Required input is missing", "details": "width", "extra_info": {"input_name": "width"}}],
                "dependent_outputs": ["3", "4"], "class_type": "EmptyImage"}}})
    );
    let mut graph = success_graph(42, "mcp_probe").value();
    graph["1"]["inputs"]["width"] = json!(0);
    let body = client
        .post("/prompt", &json!({"prompt": graph}))
        .await
        .json();
    assert_eq!(
        body["node_errors"]["1"]["errors"][0],
        json!({"type": "value_smaller_than_min", "message": "Value 0 smaller than min of 1", "details": "width",
            "extra_info": {"input_name": "width", "input_config": ["INT", {"default": 512, "min": 1, "max": 16384, "step": 1}], "received_value": 0}})
    );
    let mut graph = success_graph(42, "mcp_probe").value();
    graph["1"]["inputs"]["width"] = json!("wide");
    let body = client
        .post("/prompt", &json!({"prompt": graph}))
        .await
        .json();
    assert_eq!(
        body["node_errors"]["1"]["errors"][0]["type"],
        "invalid_input_type"
    );
    assert_eq!(
        body["node_errors"]["1"]["errors"][0]["details"],
        "width, wide, invalid literal for int() with base 10: 'wide'"
    );
    let no_outputs = client
        .post("/prompt", &json!({"prompt": {"1": {"class_type": "EmptyImage", "inputs": {"width": 8, "height": 8, "batch_size": 1, "color": 0}}}}))
        .await;
    assert_eq!(no_outputs.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        no_outputs.json()["error"],
        json!({"type": "prompt_no_outputs", "message": "Prompt has no outputs", "details": "", "extra_info": {}})
    );
    let no_prompt = client.post("/prompt", &json!({"client_id": CLIENT})).await;
    assert_eq!(
        no_prompt.json(),
        json!({"error": {"type": "no_prompt", "message": "No prompt provided", "details": "No prompt provided", "extra_info": {}}, "node_errors": {}})
    );
    assert!(sim.prompts().is_empty());

    // Some outputs valid: 200, the failed one listed, only the valid ones queued.
    let mut graph = success_graph(42, "mcp_probe").value();
    graph["7"] = json!({"class_type": "SaveImage", "inputs": {"filename_prefix": "x"}});
    let body = client
        .post("/prompt", &json!({"prompt": graph, "client_id": CLIENT}))
        .await
        .assert_json();
    assert_eq!(
        body["node_errors"],
        json!({"7": {"errors": [{"type": "required_input_missing", "message": "Required input is missing", "details": "images", "extra_info": {"input_name": "images"}}],
            "dependent_outputs": ["7"], "class_type": "SaveImage"}})
    );
    let queue = client.get("/queue").await.assert_json();
    assert_eq!(queue["queue_pending"][0][4], json!(["3", "4"]));

    // A link to a node that does not exist is an exception on the output that holds it.
    let mut graph = success_graph(42, "mcp_probe").value();
    graph["3"]["inputs"]["images"] = json!(["99", 0]);
    let body = client
        .post("/prompt", &json!({"prompt": graph}))
        .await
        .assert_json();
    let error = &body["node_errors"]["3"]["errors"][0];
    assert_eq!(error["type"], "exception_during_validation");
    assert_eq!(error["details"], "'99'");
    assert_eq!(error["extra_info"]["exception_type"], "KeyError");
    assert!(error["extra_info"]["traceback"].as_array().unwrap().len() >= 2);
    // A link to the wrong type.
    let mut graph = sampler_graph(1, 2, "flux1-dev-fp8.safetensors").value();
    graph["8"]["inputs"]["vae"] = json!(["4", 0]);
    let body = client
        .post("/prompt", &json!({"prompt": graph}))
        .await
        .json();
    assert_eq!(
        body["node_errors"]["8"]["errors"][0]["details"],
        "vae, received_type(MODEL) mismatch input_type(VAE)"
    );
    assert_eq!(
        body["node_errors"]["8"]["errors"][0]["type"],
        "return_type_mismatch"
    );
    // LoadImage of a file that was never uploaded.
    let body = client
        .post("/prompt", &json!({"prompt": {"1": {"class_type": "LoadImage", "inputs": {"image": "missing-file.png"}},
            "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "x"}}}}))
        .await
        .json();
    assert_eq!(
        body["node_errors"]["1"]["errors"][0],
        json!({"type": "custom_validation_failed", "message": "Custom validation failed for node",
            "details": "image - Invalid image file: missing-file.png", "extra_info": {"input_name": "image"}})
    );
}

#[tokio::test]
async fn malformed_json_is_a_plain_text_500() {
    let (_sim, client) = start(ComfyConfig::default()).await;
    for path in ["/prompt", "/queue", "/history", "/api/prompt"] {
        for body in ["{not json", ""] {
            let answer = client.post_raw(path, body).await;
            assert_eq!(
                answer.status,
                StatusCode::INTERNAL_SERVER_ERROR,
                "{path} {body:?}"
            );
            assert_eq!(
                answer.content_type.as_deref(),
                Some("text/plain; charset=utf-8")
            );
            assert_eq!(answer.text, CRASH);
        }
    }
    let answer = client.post("/prompt", &json!({"prompt": []})).await;
    assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR);
    // /interrupt tolerates a missing body.
    client.post_raw("/interrupt", "").await.assert_command_ok();
}

#[tokio::test]
async fn success_runs_with_the_captured_event_order_and_real_files() {
    let (sim, client) = start(ComfyConfig::default()).await;
    let mut socket = Socket::connect(&sim, CLIENT).await;
    let prompt_id = "bdc153dd-0641-4e16-8e96-980a8cc53931";
    let body = format!(
        r#"{{"prompt": {}, "client_id": "{CLIENT}", "prompt_id": "{prompt_id}", "extra_data": {{"extra_pnginfo": {{"probe": "mcp"}}}}}}"#,
        success_graph(42, "mcp_probe").0
    );
    let answer = client.post_text("/prompt", body).await.assert_json();
    assert_eq!(
        answer,
        json!({"prompt_id": prompt_id, "number": 0, "node_errors": {}})
    );
    let frames = socket.until_done(prompt_id).await;
    // History is filled when `executing null` arrives (contract 0, 12.5).
    let history = client.history(prompt_id).await;
    assert_eq!(
        kinds(&frames),
        [
            "status 1",
            "status 1",
            "execution_start",
            "execution_cached",
            "executing \"1\"",
            "executing \"5\"",
            "executing \"2\"",
            "executing \"3\"",
            "executed \"3\"",
            "executing \"4\"",
            "progress 0/2",
            "<binary>",
            "progress 1/2",
            "<binary>",
            "execution_success",
            "status 0",
            "executing null",
        ]
    );
    for frame in &frames {
        match frame {
            Frame::Binary(bytes) => {
                // Type 1, format 2 (PNG), the image at byte 8 at full size.
                assert_eq!(&bytes[..8], &[0, 0, 0, 1, 0, 0, 0, 2]);
                assert_eq!(decode_png(&bytes[8..]), (64, 48));
            }
            Frame::Json(v) if v["type"] != "status" => {
                assert_eq!(v["data"]["prompt_id"], prompt_id, "{v}");
            }
            Frame::Json(_) => {}
        }
    }
    let start = frames
        .iter()
        .find(|f| f.kind() == "execution_start")
        .unwrap();
    assert!(start.data()["timestamp"].as_u64().unwrap() > 1_700_000_000_000);
    assert_eq!(frames[3].data()["nodes"], json!([]));
    let executing = frames.iter().find(|f| f.kind() == "executing").unwrap();
    assert_eq!(
        executing.data(),
        &json!({"node": "1", "display_node": "1", "prompt_id": prompt_id})
    );
    let progress = frames.iter().find(|f| f.kind() == "progress").unwrap();
    assert_eq!(
        progress.data(),
        &json!({"value": 0, "max": 2, "prompt_id": prompt_id, "node": "4"})
    );
    let expected_images = json!([{"filename": "mcp_probe_00001_.png", "subfolder": "", "type": "output"},
        {"filename": "mcp_probe_00002_.png", "subfolder": "", "type": "output"}]);
    let executed = frames.iter().find(|f| f.kind() == "executed").unwrap();
    assert_eq!(
        executed.data(),
        &json!({"node": "3", "display_node": "3", "output": {"images": expected_images}, "prompt_id": prompt_id})
    );
    let done = frames.last().unwrap();
    assert_eq!(done.data(), &json!({"node": null, "prompt_id": prompt_id}));

    let entry = &history[prompt_id];
    assert_eq!(entry["prompt"][0], 0);
    assert_eq!(entry["prompt"][1], prompt_id);
    assert_eq!(entry["prompt"][2], success_graph(42, "mcp_probe").value());
    assert_eq!(entry["prompt"][3]["extra_pnginfo"], json!({"probe": "mcp"}));
    assert_eq!(entry["prompt"][3]["client_id"], CLIENT);
    assert!(entry["prompt"][3]["create_time"].is_u64());
    assert_eq!(entry["prompt"][4], json!(["3", "4"]));
    assert_eq!(entry["outputs"], json!({"3": {"images": expected_images}}));
    assert_eq!(entry["status"]["status_str"], "success");
    assert_eq!(entry["status"]["completed"], true);
    let messages: Vec<&str> = entry["status"]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m[0].as_str().unwrap())
        .collect();
    assert_eq!(
        messages,
        ["execution_start", "execution_cached", "execution_success"]
    );
    assert_eq!(
        entry["meta"],
        json!({"3": {"node_id": "3", "display_node": "3", "parent_node": null, "real_node_id": "3"}})
    );
    // The graph is echoed in the order it was sent.
    let raw = client.get(&format!("/history/{prompt_id}")).await.text;
    let order: Vec<usize> = ["\"1\": {", "\"5\": {", "\"2\": {", "\"3\": {", "\"4\": {"]
        .iter()
        .map(|k| raw.find(k).unwrap())
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{raw}");

    for file in expected_images.as_array().unwrap() {
        let view = client.view(file).await;
        assert_eq!(view.status, StatusCode::OK);
        assert_eq!(view.content_type.as_deref(), Some("image/png"));
        assert_eq!(decode_png(&view.bytes), (64, 48));
    }
    let first = client.view(&expected_images[0]).await.bytes;
    let second = client.view(&expected_images[1]).await.bytes;
    assert_ne!(first, second, "batch images must differ");
    let jpeg = client
        .get("/view?filename=mcp_probe_00001_.png&subfolder=&type=output&preview=jpeg;80")
        .await;
    assert_eq!(jpeg.content_type.as_deref(), Some("image/jpeg"));
    assert_eq!(
        client
            .get("/view?filename=does_not_exist.png&type=output")
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        client
            .get("/view?filename=../secret.png&type=output")
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        client
            .get("/view?filename=mcp_probe_00001_.png&type=bogus")
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    let escape = client
        .get("/view?filename=mcp_probe_00001_.png&type=output&subfolder=..%2F..")
        .await;
    assert_eq!(escape.status, StatusCode::FORBIDDEN);
    assert!(escape.bytes.is_empty());
    assert_eq!(sim.executions(), 1);
    assert_eq!(sim.queue_len(), 0);
}

#[tokio::test]
async fn history_is_empty_until_the_job_is_done() {
    let (sim, client) = start(ComfyConfig {
        paused: true,
        ..ComfyConfig::default()
    })
    .await;
    let mut socket = Socket::connect(&sim, CLIENT).await;
    let prompt_id = client.queue(success_graph(7, "wait")).await;
    assert_eq!(client.history(&prompt_id).await, json!({}));
    assert_eq!(
        client.history("4e202f94-e88c-4980-bbd7-4139c1ce4eb2").await,
        json!({})
    );
    assert_eq!(
        client.get("/prompt").await.assert_json()["exec_info"]["queue_remaining"],
        1
    );
    assert_eq!(sim.queue_len(), 1);
    sim.update(|c| c.paused = false);
    socket.until_done(&prompt_id).await;
    assert_eq!(
        client.history(&prompt_id).await[&prompt_id]["status"]["status_str"],
        "success"
    );
    assert_eq!(sim.queue_len(), 0);
}

/// `hold_answers`: the prompt is queued and runs at once; only the client's answer waits,
/// until the knob is cleared.
#[tokio::test]
async fn a_held_answer_comes_after_the_job_was_queued_and_ran() {
    let (sim, client) = start(ComfyConfig {
        hold_answers: true,
        ..ComfyConfig::default()
    })
    .await;
    let prompt_id = "0b6b1d8e-2d4f-4a4c-9d3a-5f1f1c7e9a01";
    let body = format!(
        r#"{{"prompt": {}, "client_id": "{CLIENT}", "prompt_id": "{prompt_id}"}}"#,
        success_graph(11, "held").0
    );
    let posting = tokio::spawn({
        let client = Client::new(&sim);
        async move { client.post_text("/prompt", body).await }
    });
    let history = client.poll_history(prompt_id).await;
    assert_eq!(history["status"]["status_str"], "success");
    assert_eq!(sim.prompts().len(), 1);
    assert!(!posting.is_finished(), "the answer came while held");

    sim.update(|c| c.hold_answers = false);
    let answer = tokio::time::timeout(WAIT, posting)
        .await
        .expect("the held answer is sent")
        .expect("the request task");
    assert_eq!(answer.assert_json()["prompt_id"], prompt_id);
}

#[tokio::test]
async fn sampler_reports_steps_with_previews_and_decodes_at_latent_size() {
    let (sim, client) = start(ComfyConfig::default()).await;
    let mut socket = Socket::connect(&sim, CLIENT).await;
    let prompt_id = client
        .queue(sampler_graph(123, 4, "flux1-dev-fp8.safetensors"))
        .await;
    let frames = socket.until_done(&prompt_id).await;
    let progress: Vec<String> = kinds(&frames)
        .into_iter()
        .filter(|k| k.starts_with("progress") || k == "<binary>")
        .collect();
    assert_eq!(
        progress,
        [
            "progress 1/4",
            "<binary>",
            "progress 2/4",
            "<binary>",
            "progress 3/4",
            "<binary>",
            "progress 4/4",
            "<binary>"
        ]
    );
    for frame in &frames {
        if let Frame::Binary(bytes) = frame {
            assert_eq!(&bytes[..8], &[0, 0, 0, 1, 0, 0, 0, 1], "type 1, JPEG");
            assert_eq!(&bytes[8..10], &[0xff, 0xd8]);
        }
    }
    let entry = client.history(&prompt_id).await;
    let image = &entry[&prompt_id]["outputs"]["9"]["images"][0];
    assert_eq!(
        image,
        &json!({"filename": "t2i_00001_.png", "subfolder": "easel", "type": "output"})
    );
    assert_eq!(decode_png(&client.view(image).await.bytes), (96, 64));

    // Previews off: progress only.
    sim.update(|c| c.previews = false);
    let prompt_id = client
        .queue(sampler_graph(124, 2, "flux1-dev-fp8.safetensors"))
        .await;
    let frames = socket.until_done(&prompt_id).await;
    assert!(frames.iter().all(|f| !matches!(f, Frame::Binary(_))));
    assert_eq!(frames.iter().filter(|f| f.kind() == "progress").count(), 2);
}

#[tokio::test]
async fn preview_metadata_clients_get_type_4_frames_before_progress() {
    let (sim, client) = start(ComfyConfig::default()).await;
    let mut socket = Socket::connect(&sim, "meta-client").await;
    socket
        .ws
        .send(Message::text(
            json!({"type": "feature_flags", "data": {"supports_preview_metadata": true}})
                .to_string(),
        ))
        .await
        .unwrap();
    let answer = socket.next().await.unwrap();
    assert_eq!(answer.kind(), "feature_flags");
    assert_eq!(answer.data()["max_upload_size"], 104_857_600);
    let body = json!({"prompt": success_graph(5, "meta").value(), "client_id": "meta-client"});
    let prompt_id = client.post("/prompt", &body).await.assert_json()["prompt_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let frames = socket.until_done(&prompt_id).await;
    let sequence: Vec<String> = kinds(&frames)
        .into_iter()
        .filter(|k| k.starts_with("progress") || k == "<binary>")
        .collect();
    assert_eq!(
        sequence,
        ["<binary>", "progress 0/2", "<binary>", "progress 1/2"]
    );
    let Frame::Binary(bytes) = frames
        .iter()
        .find(|f| matches!(f, Frame::Binary(_)))
        .unwrap()
    else {
        unreachable!()
    };
    assert_eq!(&bytes[..4], &[0, 0, 0, 4]);
    let len = u32::from_be_bytes(bytes[4..8].try_into().unwrap()) as usize;
    let metadata: Value = serde_json::from_slice(&bytes[8..8 + len]).unwrap();
    assert_eq!(
        metadata,
        json!({"node_id": "4", "prompt_id": prompt_id, "display_node_id": "4", "parent_node_id": null, "real_node_id": "4", "image_type": "image/png"})
    );
    assert_eq!(decode_png(&bytes[8 + len..]), (64, 48));
}

#[tokio::test]
async fn jobs_without_client_id_broadcast_only_progress_and_images() {
    let (sim, client) = start(ComfyConfig::default()).await;
    let mut socket = Socket::connect(&sim, "bystander").await;
    let prompt_id = client
        .post(
            "/prompt",
            &json!({"prompt": success_graph(9, "anon").value()}),
        )
        .await
        .assert_json()["prompt_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut seen = Vec::new();
    // The job ends with the broadcast `status 0`; there is no `executing null`.
    loop {
        let frame = socket.next().await.unwrap();
        let last =
            frame.kind() == "status" && frame.data()["status"]["exec_info"]["queue_remaining"] == 0;
        seen.push(frame);
        if last {
            break;
        }
    }
    assert_eq!(
        kinds(&seen),
        [
            "status 1",
            "status 1",
            "progress 0/2",
            "<binary>",
            "progress 1/2",
            "<binary>",
            "status 0"
        ]
    );
    assert_eq!(
        client.history(&prompt_id).await[&prompt_id]["status"]["status_str"],
        "success"
    );
}

#[tokio::test]
async fn uploads_dedupe_rename_and_feed_load_image_at_their_real_size() {
    let (sim, client) = start(ComfyConfig::default()).await;
    let upload = |bytes: Vec<u8>, overwrite: bool| {
        let mut form = reqwest::multipart::Form::new()
            .part(
                "image",
                reqwest::multipart::Part::bytes(bytes)
                    .file_name("probe_upload.png")
                    .mime_str("image/png")
                    .unwrap(),
            )
            .text("subfolder", "mcp")
            .text("type", "input");
        if overwrite {
            form = form.text("overwrite", "true");
        }
        client
            .http
            .post(format!("{}/upload/image", client.base))
            .multipart(form)
            .send()
    };
    let first = easel_sim::picture::png(40, 30, "upload one");
    let second = easel_sim::picture::png(40, 30, "upload two");
    let answer = Answer::read(upload(first.clone(), false).await.unwrap())
        .await
        .assert_json();
    assert_eq!(
        answer,
        json!({"name": "probe_upload.png", "subfolder": "mcp", "type": "input"})
    );
    let same = Answer::read(upload(first.clone(), false).await.unwrap())
        .await
        .assert_json();
    assert_eq!(same["name"], "probe_upload.png");
    let renamed = Answer::read(upload(second.clone(), false).await.unwrap())
        .await
        .assert_json();
    assert_eq!(renamed["name"], "probe_upload (1).png");
    let overwritten = Answer::read(upload(second.clone(), true).await.unwrap())
        .await
        .assert_json();
    assert_eq!(overwritten["name"], "probe_upload.png");
    let missing = client
        .http
        .post(format!("{}/upload/image", client.base))
        .multipart(reqwest::multipart::Form::new().text("subfolder", "mcp"))
        .send()
        .await
        .unwrap();
    let missing = Answer::read(missing).await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    assert!(missing.bytes.is_empty());
    assert_eq!(
        sim.uploads(),
        [
            "mcp/probe_upload.png",
            "mcp/probe_upload.png",
            "mcp/probe_upload (1).png",
            "mcp/probe_upload.png"
        ]
    );
    let stored = client
        .get("/view?filename=probe_upload.png&subfolder=mcp&type=input")
        .await;
    assert_eq!(stored.bytes, second);

    // Img2img: the loaded image keeps its real size through the graph.
    let mut socket = Socket::connect(&sim, CLIENT).await;
    let prompt_id = client
        .queue(Graph(
            json!({"1": {"class_type": "LoadImage", "inputs": {"image": "mcp/probe_upload (1).png"}},
                "2": {"class_type": "ImageInvert", "inputs": {"image": ["1", 0]}},
                "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": "mcp_probe_img2img"}}})
            .to_string(),
        ))
        .await;
    socket.until_done(&prompt_id).await;
    let history = client.history(&prompt_id).await;
    let image = &history[&prompt_id]["outputs"]["3"]["images"][0];
    assert_eq!(image["filename"], "mcp_probe_img2img_00001_.png");
    assert_eq!(decode_png(&client.view(image).await.bytes), (40, 30));
    // Top-level uploads are LoadImage options; subfolder ones are valid but not listed.
    let root = Answer::read(
        client
            .http
            .post(format!("{}/upload/image", client.base))
            .multipart(reqwest::multipart::Form::new().part(
                "image",
                reqwest::multipart::Part::bytes(first).file_name("top.png"),
            ))
            .send()
            .await
            .unwrap(),
    )
    .await
    .assert_json();
    assert_eq!(
        root,
        json!({"name": "top.png", "subfolder": "", "type": "input"})
    );
    let info = client.get("/object_info/LoadImage").await.assert_json();
    assert_eq!(
        info["LoadImage"]["input"]["required"]["image"][0],
        json!(["top.png"])
    );
}

#[tokio::test]
async fn identical_graph_replays_old_files_and_a_new_seed_makes_new_ones() {
    let (sim, client) = start(ComfyConfig::default()).await;
    let mut socket = Socket::connect(&sim, CLIENT).await;
    let first = client.queue(success_graph(42, "mcp_probe")).await;
    socket.until_done(&first).await;
    let rerun = client.queue(success_graph(42, "mcp_probe")).await;
    let frames = socket.until_done(&rerun).await;
    assert_eq!(
        kinds(&frames),
        [
            "status 1",
            "status 1",
            "execution_start",
            "execution_cached",
            "executed \"3\"",
            "executing \"4\"",
            "progress 0/2",
            "<binary>",
            "progress 1/2",
            "<binary>",
            "execution_success",
            "status 0",
            "executing null",
        ]
    );
    assert_eq!(frames[3].data()["nodes"], json!(["1", "5", "2", "3"]));
    let names = |history: &Value, id: &str| history[id]["outputs"]["3"]["images"].clone();
    let first_names = names(&client.history(&first).await, &first);
    let rerun_history = client.history(&rerun).await;
    assert_eq!(names(&rerun_history, &rerun), first_names);
    assert_eq!(frames[4].data()["output"]["images"], first_names);
    // No new file was written.
    assert_eq!(
        client
            .get("/view?filename=mcp_probe_00003_.png&type=output")
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    let seeded = client.queue(success_graph(43, "mcp_probe")).await;
    let frames = socket.until_done(&seeded).await;
    assert_eq!(frames[3].data()["nodes"], json!(["1"]));
    let new_names = names(&client.history(&seeded).await, &seeded);
    assert_eq!(new_names[0]["filename"], "mcp_probe_00003_.png");
    assert_eq!(new_names[1]["filename"], "mcp_probe_00004_.png");
    let old = client.view(&first_names[0]).await.bytes;
    let new = client.view(&new_names[0]).await.bytes;
    assert_ne!(old, new, "a new seed must give a new picture");
    assert_eq!(
        sim.executions(),
        3,
        "the re-run still streams over the socket"
    );
}

#[tokio::test]
async fn runtime_error_reports_the_exception_and_an_error_history() {
    let config = ComfyConfig {
        fail_node: Some("3".into()),
        ..ComfyConfig::default()
    };
    let (sim, client) = start(config).await;
    let mut socket = Socket::connect(&sim, CLIENT).await;
    let prompt_id = client
        .queue(sampler_graph(5, 3, "flux1-dev-fp8.safetensors"))
        .await;
    let frames = socket.until_done(&prompt_id).await;
    let tail: Vec<String> = kinds(&frames).into_iter().rev().take(4).collect();
    assert_eq!(
        tail,
        [
            "executing null",
            "status 0",
            "execution_error",
            "executing \"3\""
        ]
    );
    let error = frames
        .iter()
        .find(|f| f.kind() == "execution_error")
        .unwrap()
        .data();
    let keys: Vec<&str> = error
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for key in [
        "prompt_id",
        "node_id",
        "node_type",
        "executed",
        "exception_message",
        "exception_type",
        "traceback",
        "current_inputs",
        "current_outputs",
        "timestamp",
    ] {
        assert!(keys.contains(&key), "{key} missing from {error}");
    }
    assert_eq!(error["node_id"], "3");
    assert_eq!(error["node_type"], "KSampler");
    assert_eq!(error["exception_type"], "torch.OutOfMemoryError");
    let message = error["exception_message"].as_str().unwrap();
    assert!(
        message.starts_with("CUDA out of memory. Tried to allocate 2.00 GiB\n"),
        "{message}"
    );
    let executed: Vec<&str> = error["executed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(executed, ["4", "6", "7", "5"]);
    let traceback = error["traceback"].as_array().unwrap();
    assert!(traceback.len() >= 3);
    assert!(
        traceback
            .iter()
            .all(|line| line.as_str().unwrap().starts_with("  File \""))
    );
    assert!(
        traceback
            .last()
            .unwrap()
            .as_str()
            .unwrap()
            .contains("raise ")
    );
    assert_eq!(error["current_inputs"]["seed"], json!([5]));
    assert_eq!(error["current_inputs"]["sampler_name"], json!(["euler"]));
    assert!(
        error["current_inputs"]["model"][0]
            .as_str()
            .unwrap()
            .contains("ModelPatcher")
    );
    assert_eq!(error["current_outputs"].as_array().unwrap().len(), 7);

    let entry = &client.history(&prompt_id).await[&prompt_id];
    assert_eq!(entry["status"]["status_str"], "error");
    assert_eq!(entry["status"]["completed"], false);
    let last = entry["status"]["messages"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last[0], "execution_error");
    assert_eq!(last[1]["exception_message"], error["exception_message"]);
    assert_eq!(entry["outputs"], json!({}));

    // The captured runtime error: a prefix that leaves the output folder.
    sim.update(|c| {
        c.fail_node = None;
        c.error_message = "boom".into();
    });
    let prompt_id = client
        .queue(success_graph(42, "../../escape_attempt"))
        .await;
    let frames = socket.until_done(&prompt_id).await;
    let error = frames
        .iter()
        .find(|f| f.kind() == "execution_error")
        .unwrap()
        .data();
    assert_eq!(error["node_type"], "SaveImage");
    assert_eq!(error["exception_type"], "Exception");
    let message = error["exception_message"].as_str().unwrap();
    assert!(message.starts_with("**** ERROR: Saving image outside the output folder is not allowed.\n full_output_folder: "), "{message}");
    assert!(message.ends_with('\n'));
    assert_eq!(
        error["current_inputs"]["filename_prefix"],
        json!(["../../escape_attempt"])
    );
    assert_eq!(error["current_inputs"]["extra_pnginfo"], json!([null]));
}

#[tokio::test]
async fn interrupt_stops_the_running_job_only_when_it_is_the_one_named() {
    let config = ComfyConfig {
        step_latency: Duration::from_millis(30),
        previews: false,
        ..ComfyConfig::default()
    };
    let (sim, client) = start(config).await;
    let mut socket = Socket::connect(&sim, CLIENT).await;

    // An interrupt for another id leaves the running job alone.
    let prompt_id = client
        .queue(sampler_graph(1, 6, "flux1-dev-fp8.safetensors"))
        .await;
    socket.until("progress").await;
    client
        .post(
            "/interrupt",
            &json!({"prompt_id": "6ee97df7-96f2-4cf2-b83a-add6fdf8cec6"}),
        )
        .await
        .assert_command_ok();
    let frames = socket.until_done(&prompt_id).await;
    assert!(frames.iter().any(|f| f.kind() == "execution_success"));

    // Named: interrupted at the next progress tick.
    let prompt_id = client
        .queue(sampler_graph(2, 200, "flux1-dev-fp8.safetensors"))
        .await;
    socket.until("progress").await;
    client
        .post("/interrupt", &json!({"prompt_id": prompt_id}))
        .await
        .assert_command_ok();
    let frames = socket.until_done(&prompt_id).await;
    let interrupted = frames
        .iter()
        .find(|f| f.kind() == "execution_interrupted")
        .expect("interrupted")
        .data();
    assert_eq!(interrupted["node_id"], "3");
    assert_eq!(interrupted["node_type"], "KSampler");
    assert_eq!(interrupted["prompt_id"], prompt_id.as_str());
    assert!(interrupted["timestamp"].is_u64());
    assert!(frames.iter().filter(|f| f.kind() == "progress").count() < 200);
    let tail: Vec<String> = kinds(&frames).into_iter().rev().take(3).collect();
    assert_eq!(
        tail,
        ["executing null", "status 0", "execution_interrupted"]
    );
    let entry = &client.history(&prompt_id).await[&prompt_id];
    assert_eq!(entry["status"]["status_str"], "error");
    assert_eq!(entry["status"]["completed"], false);
    assert_eq!(entry["status"]["messages"][2][0], "execution_interrupted");

    // Without an id: whatever runs.
    let prompt_id = client
        .queue(sampler_graph(3, 200, "flux1-dev-fp8.safetensors"))
        .await;
    socket.until("progress").await;
    client.post_raw("/interrupt", "").await.assert_command_ok();
    let frames = socket.until_done(&prompt_id).await;
    assert!(frames.iter().any(|f| f.kind() == "execution_interrupted"));
}

#[tokio::test]
async fn pending_jobs_can_be_listed_deleted_and_cleared_while_paused() {
    let (sim, client) = start(ComfyConfig {
        paused: true,
        ..ComfyConfig::default()
    })
    .await;
    let mut socket = Socket::connect(&sim, CLIENT).await;
    let a = client.queue(success_graph(1000, "q")).await;
    let b = client.queue(success_graph(1001, "q")).await;
    let front = client.post("/prompt", &json!({"prompt": success_graph(2000, "q").value(), "client_id": CLIENT, "front": true})).await.assert_json();
    let explicit = client.post("/prompt", &json!({"prompt": success_graph(3000, "q").value(), "client_id": CLIENT, "number": -100})).await.assert_json();
    assert_eq!(front["number"], -2);
    let queue = client.get("/queue").await;
    // The raw heap array, as the capture shows it.
    assert!(
        queue.text.contains(r#""queue_pending": [[-100.0, "#),
        "{}",
        queue.text
    );
    let pending = queue.json()["queue_pending"].clone();
    let numbers: Vec<Value> = pending
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item[0].clone())
        .collect();
    assert_eq!(numbers, [json!(-100.0), json!(-2), json!(0), json!(1)]);
    assert_eq!(pending[0][1], explicit["prompt_id"]);
    assert_eq!(pending[0][3]["client_id"], CLIENT);
    assert_eq!(pending[0][4], json!(["3", "4"]));
    assert_eq!(sim.queue_len(), 4);

    client
        .post(
            "/queue",
            &json!({"delete": [b, "00000000-0000-4000-8000-000000000000"]}),
        )
        .await
        .assert_command_ok();
    assert_eq!(sim.queue_len(), 3);
    client
        .post(
            "/queue",
            &json!({"delete": [front["prompt_id"], explicit["prompt_id"]]}),
        )
        .await
        .assert_command_ok();
    assert_eq!(sim.queue_len(), 1);
    sim.update(|c| c.paused = false);
    socket.until_done(&a).await;
    assert_eq!(client.history(&b).await, json!({}));
    assert_eq!(sim.executions(), 1);

    sim.update(|c| c.paused = true);
    client.queue(success_graph(1, "q")).await;
    client.queue(success_graph(2, "q")).await;
    client
        .post("/queue", &json!({"clear": true}))
        .await
        .assert_command_ok();
    assert_eq!(
        client.get("/queue").await.assert_json(),
        json!({"queue_running": [], "queue_pending": []})
    );

    // History edits.
    client
        .post("/history", &json!({"delete": [a]}))
        .await
        .assert_command_ok();
    assert_eq!(client.history(&a).await, json!({}));
    client
        .post("/history", &json!({"clear": true}))
        .await
        .assert_command_ok();
    assert_eq!(client.get("/history").await.assert_json(), json!({}));
}

#[tokio::test]
async fn history_lists_oldest_first_and_max_items_gives_the_newest() {
    let (sim, client) = start(ComfyConfig::default()).await;
    let mut socket = Socket::connect(&sim, CLIENT).await;
    let mut ids = Vec::new();
    for seed in 0..3 {
        let id = client.queue(success_graph(seed, "h")).await;
        socket.until_done(&id).await;
        ids.push(id);
    }
    let all = client.get("/history").await.text;
    let at: Vec<usize> = ids
        .iter()
        .map(|id| all.find(id.as_str()).unwrap())
        .collect();
    assert!(at[0] < at[1] && at[1] < at[2]);
    let newest = client.get("/history?max_items=1").await.assert_json();
    assert_eq!(
        newest.as_object().unwrap().keys().collect::<Vec<_>>(),
        [&ids[2]]
    );
    let page = client
        .get("/history?max_items=1&offset=1")
        .await
        .assert_json();
    assert_eq!(
        page.as_object().unwrap().keys().collect::<Vec<_>>(),
        [&ids[1]]
    );
}

#[tokio::test]
async fn a_dropped_socket_mid_job_still_gets_its_history_written() {
    let config = ComfyConfig {
        drop_socket_after: Some(3),
        ..ComfyConfig::default()
    };
    let (sim, client) = start(config).await;
    let mut owner = Socket::connect(&sim, CLIENT).await;
    let mut observer = Socket::connect(&sim, "observer").await;
    let prompt_id = client.queue(success_graph(77, "dropped")).await;
    // Three job frames reach the owner (execution_start, execution_cached, executing 1),
    // then its connection is cut without a close handshake.
    let mut owner_frames = Vec::new();
    while let Some(frame) = owner.next().await {
        owner_frames.push(frame);
    }
    assert_eq!(
        kinds(&owner_frames),
        [
            "status 1",
            "status 1",
            "execution_start",
            "execution_cached",
            "executing \"1\""
        ]
    );
    // The job goes on; the broadcast `status 0` comes after its history is written.
    loop {
        let frame = observer.next().await.expect("observer stays connected");
        if frame.kind() == "status" && frame.data()["status"]["exec_info"]["queue_remaining"] == 0 {
            break;
        }
    }
    let entry = client.poll_history(&prompt_id).await;
    assert_eq!(entry["status"]["status_str"], "success");
    assert_eq!(entry["outputs"]["3"]["images"].as_array().unwrap().len(), 2);
    // Reconnecting is accepted.
    let _again = Socket::connect(&sim, CLIENT).await;
    assert_eq!(sim.ws_connections(), 3);
}

#[tokio::test]
async fn refused_websocket_leaves_polling_history() {
    let config = ComfyConfig {
        refuse_ws: true,
        ..ComfyConfig::default()
    };
    let (sim, client) = start(config).await;
    let url = format!("ws://{}/ws?clientId={CLIENT}", sim.addr());
    match tokio_tungstenite::connect_async(url).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 503);
        }
        other => panic!("expected 503, got {:?}", other.map(|(_, r)| r.status())),
    }
    assert_eq!(sim.ws_connections(), 0);
    let prompt_id = client.queue(success_graph(5, "polled")).await;
    let entry = client.poll_history(&prompt_id).await;
    assert_eq!(entry["status"]["status_str"], "success");
    assert_eq!(
        entry["outputs"]["3"]["images"][0],
        json!({"filename": "polled_00001_.png", "subfolder": "", "type": "output"})
    );
}

#[tokio::test]
async fn reconnecting_owner_hears_the_current_node() {
    let config = ComfyConfig {
        step_latency: Duration::from_millis(20),
        previews: false,
        ..ComfyConfig::default()
    };
    let (sim, client) = start(config).await;
    let mut first = Socket::connect(&sim, CLIENT).await;
    let prompt_id = client
        .queue(sampler_graph(8, 100, "flux1-dev-fp8.safetensors"))
        .await;
    first.until("progress").await;
    drop(first);
    let url = format!("ws://{}/ws?clientId={CLIENT}", sim.addr());
    let (ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let mut second = Socket { ws };
    let status = second.next().await.unwrap();
    assert_eq!(status.data()["sid"], CLIENT);
    let current = second.next().await.unwrap();
    assert_eq!(current.kind(), "executing");
    assert_eq!(current.data(), &json!({"node": "3"}));
    client
        .post("/interrupt", &json!({"prompt_id": prompt_id}))
        .await
        .assert_command_ok();
    second.until_done(&prompt_id).await;
}

#[tokio::test]
async fn qwen_image_and_flux_graphs_validate_and_decode_at_their_size() {
    let config = ComfyConfig {
        loras: vec!["style.safetensors".into()],
        ..ComfyConfig::default()
    };
    let (sim, client) = start(config).await;
    let mut socket = Socket::connect(&sim, CLIENT).await;
    let qwen = Graph(
        json!({
            "37": {"class_type": "UNETLoader", "inputs": {"unet_name": "qwen_image_fp8_e4m3fn.safetensors", "weight_dtype": "default"}},
            "66": {"class_type": "ModelSamplingAuraFlow", "inputs": {"model": ["37", 0], "shift": 3.1}},
            "38": {"class_type": "CLIPLoader", "inputs": {"clip_name": "qwen_2.5_vl_7b_fp8_scaled.safetensors", "type": "qwen_image", "device": "default"}},
            "39": {"class_type": "VAELoader", "inputs": {"vae_name": "qwen_image_vae.safetensors"}},
            "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "a lighthouse", "clip": ["38", 0]}},
            "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "", "clip": ["38", 0]}},
            "58": {"class_type": "EmptySD3LatentImage", "inputs": {"width": 200, "height": 120, "batch_size": 2}},
            "3": {"class_type": "KSampler", "inputs": {"model": ["66", 0], "seed": 7, "steps": 3, "cfg": 2.5,
                  "sampler_name": "euler", "scheduler": "simple", "positive": ["6", 0], "negative": ["7", 0],
                  "latent_image": ["58", 0], "denoise": 1}},
            "8": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["39", 0]}},
            "60": {"class_type": "SaveImage", "inputs": {"images": ["8", 0], "filename_prefix": "qwen/%width%x%height%"}}
        })
        .to_string(),
    );
    let prompt_id = client.queue(qwen).await;
    let frames = socket.until_done(&prompt_id).await;
    assert_eq!(frames.iter().filter(|f| f.kind() == "progress").count(), 3);
    let history = client.history(&prompt_id).await;
    let images = history[&prompt_id]["outputs"]["60"]["images"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(images.len(), 2);
    assert_eq!(
        images[1],
        json!({"filename": "200x120_00002_.png", "subfolder": "qwen", "type": "output"})
    );
    for image in &images {
        assert_eq!(decode_png(&client.view(image).await.bytes), (200, 120));
    }
    // The denoise literal was coerced to FLOAT in the stored graph.
    assert_eq!(
        history[&prompt_id]["prompt"][2]["3"]["inputs"]["denoise"],
        json!(1.0)
    );

    let flux = Graph(
        json!({
            "1": {"class_type": "UNETLoader", "inputs": {"unet_name": "qwen_image_fp8_e4m3fn.safetensors", "weight_dtype": "fp8_e4m3fn"}},
            "2": {"class_type": "DualCLIPLoader", "inputs": {"clip_name1": "clip_l.safetensors", "clip_name2": "t5xxl_fp8_e4m3fn.safetensors", "type": "flux"}},
            "3": {"class_type": "LoraLoader", "inputs": {"model": ["1", 0], "clip": ["2", 0], "lora_name": "style.safetensors", "strength_model": 0.8, "strength_clip": 1}},
            "4": {"class_type": "CLIPTextEncode", "inputs": {"text": "a fox", "clip": ["3", 1]}},
            "5": {"class_type": "FluxGuidance", "inputs": {"conditioning": ["4", 0], "guidance": 3.5}},
            "6": {"class_type": "EmptyLatentImage", "inputs": {"width": 130, "height": 64, "batch_size": 1}},
            "7": {"class_type": "KSamplerAdvanced", "inputs": {"model": ["3", 0], "add_noise": "enable", "noise_seed": 1, "steps": 10, "cfg": 1.0,
                  "sampler_name": "euler", "scheduler": "simple", "positive": ["5", 0], "negative": ["5", 0], "latent_image": ["6", 0],
                  "start_at_step": 4, "end_at_step": 10000, "return_with_leftover_noise": "disable"}},
            "8": {"class_type": "VAELoader", "inputs": {"vae_name": "ae.safetensors"}},
            "9": {"class_type": "VAEDecode", "inputs": {"samples": ["7", 0], "vae": ["8", 0]}},
            "10": {"class_type": "PreviewImage", "inputs": {"images": ["9", 0]}}
        })
        .to_string(),
    );
    let prompt_id = client.queue(flux).await;
    let frames = socket.until_done(&prompt_id).await;
    let progress: Vec<&Value> = frames
        .iter()
        .filter(|f| f.kind() == "progress")
        .map(Frame::data)
        .collect();
    assert_eq!(progress.len(), 6, "steps 4..10 of 10");
    assert_eq!(progress[5]["max"], 6);
    let history = client.history(&prompt_id).await;
    let preview = &history[&prompt_id]["outputs"]["10"]["images"][0];
    assert_eq!(preview["type"], "temp");
    assert!(
        preview["filename"]
            .as_str()
            .unwrap()
            .starts_with("ComfyUI_temp_")
    );
    // Latents are whole 8-pixel cells: 130 wide decodes to 128.
    assert_eq!(decode_png(&client.view(preview).await.bytes), (128, 64));
}

/// EmptyImage (a batch of `frames`) -> ImageAddNoise -> `save`.
fn clip_graph(save: &str) -> Graph {
    Graph(format!(
        r#"{{"1": {{"class_type": "EmptyImage", "inputs": {{"width": 40, "height": 24, "batch_size": 3, "color": 0}}}},
            "2": {{"class_type": "ImageAddNoise", "inputs": {{"image": ["1", 0], "seed": 5, "strength": 0.5}}}},
            {save}}}"#
    ))
}

#[tokio::test]
async fn animation_and_video_nodes_report_their_files_as_the_real_ones_do() {
    let (_sim, client) = start(ComfyConfig::default()).await;
    // (save node, output key, file name, Content-Type of /view); a prefix's counter counts
    // every file of that prefix, whatever its extension, as upstream does.
    let cases = [
        (
            r#""3": {"class_type": "SaveAnimatedWEBP", "inputs": {"images": ["2", 0], "filename_prefix": "anim", "fps": 6.0, "lossless": true, "quality": 80, "method": "default"}}"#,
            "images",
            "anim_00001_.webp",
            "image/webp",
        ),
        (
            r#""3": {"class_type": "SaveAnimatedPNG", "inputs": {"images": ["2", 0], "filename_prefix": "apng", "fps": 6.0, "compress_level": 4}}"#,
            "images",
            "apng_00001_.png",
            "image/png",
        ),
        (
            r#""3": {"class_type": "SaveWEBM", "inputs": {"images": ["2", 0], "filename_prefix": "clip", "codec": "vp9", "fps": 24.0, "crf": 32.0}}"#,
            "images",
            "clip_00001_.webm",
            "video/webm",
        ),
        (
            r#""4": {"class_type": "CreateVideo", "inputs": {"images": ["2", 0], "fps": 24.0}},
               "3": {"class_type": "SaveVideo", "inputs": {"video": ["4", 0], "filename_prefix": "video/clip", "format": "auto", "codec": "auto"}}"#,
            "images",
            "clip_00001_.mp4",
            "video/mp4",
        ),
        (
            r#""3": {"class_type": "VHS_VideoCombine", "inputs": {"images": ["2", 0], "frame_rate": 8, "loop_count": 0, "filename_prefix": "wan", "format": "video/h264-mp4", "pingpong": false, "save_output": true}}"#,
            "gifs",
            "wan_00001.mp4",
            "video/mp4",
        ),
    ];
    for (save, key, name, content_type) in cases {
        let id = client.queue(clip_graph(save)).await;
        let entry = client.poll_history(&id).await;
        assert_eq!(entry["status"]["status_str"], "success", "{entry}");
        let out = &entry["outputs"]["3"];
        let file = &out[key][0];
        assert_eq!(file["filename"], name, "{out}");
        assert_eq!(file["type"], "output");
        if key == "images" {
            assert_eq!(out["animated"], json!([true]), "{out}");
        } else {
            assert_eq!(file["format"], "video/h264-mp4", "{out}");
            assert_eq!(file["frame_rate"], 8.0);
        }
        let view = client.view(file).await;
        assert_eq!(view.status, 200);
        assert_eq!(view.content_type.as_deref(), Some(content_type), "{name}");
        if content_type.starts_with("image/") {
            let img = image::load_from_memory(&view.bytes).expect("first frame decodes");
            assert_eq!((img.width(), img.height()), (40, 24), "{name}");
        } else if content_type == "video/mp4" {
            assert_eq!(&view.bytes[4..8], b"ftyp");
        } else {
            assert_eq!(&view.bytes[..4], [0x1A, 0x45, 0xDF, 0xA3]);
        }
    }
}

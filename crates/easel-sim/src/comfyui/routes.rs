//! The router: every route of contract sections 3 to 8, bare and under `/api`, and the
//! small handlers (queue, history, discovery, system routes).

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use bytes::Bytes;

use super::guard::origin_guard;
use super::json::{Json, obj};
use super::state::{Shared, status};
use super::{prompt, transfer, wire, ws};
use crate::record::capture;

/// `--max-upload-size`'s default, 100 MB (reported by `/features`).
pub const MAX_UPLOAD: usize = 100 * 1024 * 1024;

/// Model folders of a stock install, in `folder_names_and_paths` order.
const MODEL_FOLDERS: &[&str] = &[
    "checkpoints",
    "configs",
    "loras",
    "vae",
    "text_encoders",
    "diffusion_models",
    "clip_vision",
    "style_models",
    "embeddings",
    "diffusers",
    "vae_approx",
    "controlnet",
    "gligen",
    "upscale_models",
    "latent_upscale_models",
    "custom_nodes",
    "hypernetworks",
    "photomaker",
    "classifiers",
    "model_patches",
    "audio_encoders",
    "background_removal",
    "frame_interpolation",
    "geometry_estimation",
    "optical_flow",
    "detection",
];

/// Builds the app: each route at `/x` and `/api/x`, the Origin guard in front of all of
/// them (the WebSocket upgrade included), and the request log outermost.
pub fn app(shared: Arc<Shared>) -> Router {
    let routes: Router<Arc<Shared>> = Router::new()
        .route("/ws", get(ws::upgrade))
        .route("/prompt", get(get_prompt).post(prompt::post_prompt))
        .route("/queue", get(get_queue).post(post_queue))
        .route("/interrupt", post(post_interrupt))
        .route("/history", get(get_history).post(post_history))
        .route("/history/{prompt_id}", get(get_history_one))
        .route("/view", get(transfer::view))
        .route("/upload/image", post(transfer::upload))
        .route("/object_info", get(object_info))
        .route("/object_info/{class}", get(object_info_one))
        .route("/system_stats", get(system_stats))
        .route("/features", get(get_features))
        .route("/models", get(models))
        .route("/models/{folder}", get(model_files))
        .route("/embeddings", get(embeddings))
        .route("/free", post(post_free));
    Router::new()
        .merge(routes.clone())
        .nest("/api", routes)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_UPLOAD))
        .layer(middleware::from_fn_with_state(shared.clone(), origin_guard))
        .layer(middleware::from_fn_with_state(shared.clone(), record))
        .with_state(shared)
}

/// Middleware: logs the request for [`ComfySim::requests`](super::ComfySim::requests).
async fn record(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    match capture(request, MAX_UPLOAD).await {
        Ok((recorded, request)) => {
            shared.push_request(recorded);
            next.run(request).await
        }
        Err(too_large) => too_large,
    }
}

/// aiohttp's 404.
async fn not_found() -> Response {
    wire::text(StatusCode::NOT_FOUND, "404: Not Found")
}

/// aiohttp's 405.
async fn method_not_allowed() -> Response {
    wire::text(StatusCode::METHOD_NOT_ALLOWED, "405: Method Not Allowed")
}

/// A JSON request body; `None` where Python's `await request.json()` raises.
fn body_json(body: &Bytes) -> Option<Json> {
    Json::parse(body).ok()
}

/// The string ids of a `delete` list.
fn ids(value: Option<&Json>) -> Vec<String> {
    value
        .and_then(Json::as_array)
        .unwrap_or(&[])
        .iter()
        .filter_map(|id| id.as_str().map(str::to_owned))
        .collect()
}

/// `{"clear": bool, "delete": [...]}` of `POST /queue` and `POST /history`. A body that
/// is not an object is read like Python's `in` would (lists and strings hold neither
/// key); numbers and `null` raise (`None`).
fn edit_request(body: &Bytes) -> Option<(bool, Vec<String>)> {
    match body_json(body)? {
        body @ Json::Object(_) => Some((
            body.get("clear").is_some_and(Json::truthy),
            ids(body.get("delete")),
        )),
        Json::Array(_) | Json::String(_) => Some((false, Vec::new())),
        _ => None,
    }
}

async fn get_prompt(State(shared): State<Arc<Shared>>) -> Response {
    wire::ok(
        &status(shared.queue_remaining())
            .get("status")
            .cloned()
            .unwrap_or_default(),
    )
}

async fn get_queue(State(shared): State<Arc<Shared>>) -> Response {
    wire::ok(&shared.queue())
}

/// Touches pending jobs only; a running job is not stopped (contract 4).
async fn post_queue(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let Some((clear, delete)) = edit_request(&body) else {
        return wire::crash();
    };
    if clear {
        shared.clear_queue();
    }
    for id in delete {
        shared.delete_pending(&id);
    }
    wire::empty(StatusCode::OK)
}

/// No body (or a body that is not JSON) means "whatever runs".
async fn post_interrupt(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let body = Json::parse(&body).unwrap_or_else(|_| Json::object());
    let prompt_id = match &body {
        Json::Object(_) => body
            .get("prompt_id")
            .filter(|id| id.truthy())
            .map(Json::py_str),
        _ => return wire::crash(),
    };
    shared.interrupt(prompt_id.as_deref());
    wire::empty(StatusCode::OK)
}

/// `max_items` / `offset` go through Python's `int()`; a bad one raises.
async fn get_history(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let int = |name: &str| -> Result<Option<i64>, ()> {
        query
            .get(name)
            .map(|v| v.trim().parse::<i64>().map_err(|_| ()))
            .transpose()
    };
    match (int("max_items"), int("offset")) {
        (Ok(max_items), Ok(offset)) => wire::ok(&shared.history_list(max_items, offset)),
        _ => wire::crash(),
    }
}

/// `{}` for unknown and unfinished jobs, never 404 (contract 5).
async fn get_history_one(
    State(shared): State<Arc<Shared>>,
    Path(prompt_id): Path<String>,
) -> Response {
    wire::ok(&shared.history_one(&prompt_id))
}

async fn post_history(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    match edit_request(&body) {
        Some((clear, delete)) => {
            shared.edit_history(clear, &delete);
            wire::empty(StatusCode::OK)
        }
        None => wire::crash(),
    }
}

async fn object_info(State(shared): State<Arc<Shared>>) -> Response {
    let registry = shared.registry();
    let all = Json::Object(
        registry
            .nodes()
            .iter()
            .map(|node| (node.name.to_owned(), node.info()))
            .collect(),
    );
    wire::ok(&all)
}

/// `{class: info}`, or `{}` for an unknown class.
async fn object_info_one(State(shared): State<Arc<Shared>>, Path(class): Path<String>) -> Response {
    let registry = shared.registry();
    let mut out = Json::object();
    if let Some(node) = registry.get(&class) {
        out.insert(class, node.info());
    }
    wire::ok(&out)
}

async fn system_stats(State(shared): State<Arc<Shared>>) -> Response {
    const RAM_TOTAL: u64 = 25_276_502_016;
    const RAM_FREE: u64 = 23_122_235_392;
    let version = shared.config(|c| c.version.clone());
    let package = |name: &str, version: &str| obj! {"name" => name, "installed" => version, "required" => version};
    let stats = obj! {
        "system" => obj! {
            "os" => "linux",
            "ram_total" => RAM_TOTAL,
            "ram_free" => RAM_FREE,
            "comfyui_version" => version,
            "required_frontend_version" => "1.45.20",
            "installed_templates_version" => "0.11.1",
            "required_templates_version" => "0.11.1",
            "comfy_package_versions" => vec![
                package("comfyui-frontend-package", "1.45.20"),
                package("comfyui-workflow-templates", "0.11.1"),
                package("comfyui-embedded-docs", "0.5.6"),
                package("comfy-kitchen", "0.2.16"),
                package("comfy-aimdo", "0.4.10"),
            ],
            "python_version" => "3.11.7 (main, May  9 2026, 07:35:25) [GCC 12.2.0]",
            "pytorch_version" => "2.11.0+cu130",
            "embedded_python" => false,
            "deploy_environment" => "local-git",
            "argv" => Json::from(&["main.py", "--listen", "127.0.0.1", "--port", "8188", "--disable-auto-launch"][..]),
        },
        "devices" => vec![obj! {
            "name" => "cpu",
            "type" => "cpu",
            "index" => Json::Null,
            "vram_total" => RAM_TOTAL,
            "vram_free" => RAM_FREE,
            "torch_vram_total" => RAM_TOTAL,
            "torch_vram_free" => RAM_FREE,
        }],
    };
    wire::ok(&stats)
}

/// The server's feature flags (`GET /features` and the WebSocket handshake answer).
pub fn features() -> Json {
    obj! {
        "supports_preview_metadata" => true,
        "max_upload_size" => MAX_UPLOAD,
        "extension" => obj! {"manager" => obj! {"supports_v4" => true}},
        "node_replacements" => true,
        "assets" => false,
    }
}

async fn get_features() -> Response {
    wire::ok(&features())
}

async fn models() -> Response {
    wire::ok(&Json::from(MODEL_FOLDERS))
}

/// Files of a model folder; 404 with no body for an unknown folder.
async fn model_files(State(shared): State<Arc<Shared>>, Path(folder): Path<String>) -> Response {
    if !MODEL_FOLDERS.contains(&folder.as_str()) {
        return wire::empty(StatusCode::NOT_FOUND);
    }
    let files = shared.config(|c| match folder.as_str() {
        "checkpoints" => c.checkpoints.clone(),
        "diffusion_models" => c.diffusion_models.clone(),
        "text_encoders" => c.text_encoders.clone(),
        "vae" => c.vaes.clone(),
        "loras" => c.loras.clone(),
        _ => Vec::new(),
    });
    wire::ok(&Json::from(files))
}

async fn embeddings() -> Response {
    wire::ok(&Json::Array(Vec::new()))
}

/// Accepted and ignored: there are no models to unload. The body must be JSON.
async fn post_free(body: Bytes) -> Response {
    match body_json(&body) {
        Some(Json::Object(_)) => wire::empty(StatusCode::OK),
        _ => wire::crash(),
    }
}

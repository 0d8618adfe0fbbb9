//! ComfyUI's HTTP routes (docs/contracts/comfyui.md §3-§7), with the configured extra headers on
//! every request and never an `Origin` header (ComfyUI answers 403 to a foreign one).

use std::collections::BTreeMap;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{RequestBuilder, StatusCode};
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::{Value, json};

use super::errors;
use super::events::FileRef;
use crate::backend::http::{self, MAX_ANSWER_BYTES, RetryPolicy, transport_reason};

/// Largest `/object_info` read: the node catalogue of a server with hundreds of custom node
/// packs runs to tens of megabytes.
const MAX_CATALOGUE_BYTES: usize = 64 * 1024 * 1024;
use crate::backend::{BackendError, ErrorKind, Fetched};
use crate::config::ComfyServer;

/// A finished prompt as `/history/{id}` reports it.
#[derive(Clone, Debug, Deserialize)]
pub struct HistoryEntry {
    #[serde(default)]
    pub outputs: BTreeMap<String, NodeOutput>,
    #[serde(default)]
    pub status: HistoryStatus,
}

/// A node's result files. Still images and the animations and videos of core nodes
/// (`SaveAnimatedWEBP`/`PNG`, `SaveWEBM`, `SaveVideo`) come under `images` (with
/// `animated: [true]`), or `video`/`videos` in some versions; VideoHelperSuite's
/// `VHS_VideoCombine` reports under `gifs`. What a file is comes from its bytes once
/// downloaded, not from the key. Entries that are not files (a custom node's own data) are
/// skipped rather than failing the whole history entry.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct NodeOutput {
    #[serde(default, deserialize_with = "files")]
    pub images: Vec<FileRef>,
    #[serde(default, deserialize_with = "files")]
    pub gifs: Vec<FileRef>,
    #[serde(default, deserialize_with = "files")]
    pub videos: Vec<FileRef>,
    #[serde(default, deserialize_with = "files")]
    pub video: Vec<FileRef>,
}

impl NodeOutput {
    /// Every file of the node, stills first.
    pub fn files(&self) -> impl Iterator<Item = &FileRef> {
        self.images
            .iter()
            .chain(&self.gifs)
            .chain(&self.videos)
            .chain(&self.video)
    }
}

/// The file references in a list, ignoring anything else (and a value that is no list).
fn files<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<FileRef>, D::Error> {
    let value = Value::deserialize(d)?;
    Ok(value
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| serde_json::from_value(v.clone()).ok())
        .collect())
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct HistoryStatus {
    #[serde(default)]
    pub status_str: String,
    #[serde(default)]
    pub completed: bool,
    /// `[[event name, data], …]`; a failure ends with `execution_error` or `_interrupted`.
    #[serde(default)]
    pub messages: Vec<(String, Value)>,
}

/// Where a prompt stands in `/queue`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QueuePlace {
    Running,
    /// 1-based position among pending prompts, by priority number.
    Pending(u32),
    Absent,
}

#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    /// The server's name in the configuration, for messages.
    name: String,
    base: String,
    headers: HeaderMap,
}

impl Api {
    pub fn new(settings: &ComfyServer) -> Result<Api, BackendError> {
        let mut headers = HeaderMap::new();
        for (name, value) in &settings.headers {
            let bad = |what: &str| {
                BackendError::new(
                    ErrorKind::Unreachable,
                    format!(
                        "headers of ComfyUI server {:?}: {name:?} is not a valid header {what}; fix comfyui.headers (or the server's headers) in the configuration file",
                        settings.name
                    ),
                )
            };
            let n = HeaderName::from_bytes(name.as_bytes()).map_err(|_| bad("name"))?;
            let mut v = HeaderValue::from_str(value.expose_secret()).map_err(|_| bad("value"))?;
            v.set_sensitive(true);
            headers.insert(n, v);
        }
        Ok(Api {
            http: http::client(settings.http_timeout)?,
            name: settings.name.clone(),
            base: settings.url.clone(),
            headers,
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    fn get(&self, path: &str) -> RequestBuilder {
        self.http
            .get(format!("{}{path}", self.base))
            .headers(self.headers.clone())
    }

    fn post(&self, path: &str) -> RequestBuilder {
        self.http
            .post(format!("{}{path}", self.base))
            .headers(self.headers.clone())
    }

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_retries: 2,
            base: std::time::Duration::from_millis(300),
            retry_ambiguous: true,
        }
    }

    fn unreachable(&self, e: &reqwest::Error) -> BackendError {
        errors::unreachable(&self.name, &self.base, &transport_reason(e))
    }

    async fn json<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<T, BackendError> {
        self.json_within(path, MAX_ANSWER_BYTES).await
    }

    /// `GET path` as JSON, reading at most `limit` bytes of answer.
    async fn json_within<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        limit: usize,
    ) -> Result<T, BackendError> {
        let resp = http::send_retrying(Self::policy(), || self.get(path))
            .await
            .map_err(|e| self.unreachable(&e))?;
        let status = resp.status();
        if !status.is_success() {
            return Err(errors::http_status(&self.name, &self.base, path, status));
        }
        let body = self.read(resp, path, limit).await?;
        serde_json::from_slice(&body).map_err(|e| {
            BackendError::new(
                ErrorKind::Protocol,
                format!(
                    "ComfyUI at {} answered {path} with unexpected JSON: {e}",
                    self.base
                ),
            )
        })
    }

    /// An answer's body, at most `limit` bytes.
    async fn read(
        &self,
        resp: reqwest::Response,
        path: &str,
        limit: usize,
    ) -> Result<bytes::Bytes, BackendError> {
        http::read_limited(resp, limit)
            .await
            .map_err(|e| e.answer_error(&format!("ComfyUI at {}", self.base), path))
    }

    /// `POST /prompt` with easel's client id and its own prompt id. A 200 may still list
    /// `node_errors` for outputs that will not run; those come back as warnings.
    pub async fn post_prompt(
        &self,
        graph: &Value,
        client_id: &str,
        prompt_id: &str,
    ) -> Result<Vec<String>, BackendError> {
        let body = json!({"prompt": graph, "client_id": client_id, "prompt_id": prompt_id});
        // Not retried: a lost answer must not queue the graph twice.
        let resp = self
            .post("/prompt")
            .json(&body)
            .send()
            .await
            .map_err(|e| self.unreachable(&e))?;
        let status = resp.status();
        let body = self.read(resp, "/prompt", MAX_ANSWER_BYTES).await?;
        let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        if status == StatusCode::OK {
            let partial = parsed
                .get("node_errors")
                .and_then(Value::as_object)
                .filter(|m| !m.is_empty());
            return Ok(partial.map(errors::node_error_lines).unwrap_or_default());
        }
        if status == StatusCode::BAD_REQUEST && parsed.is_object() {
            return Err(errors::rejected(&parsed));
        }
        Err(errors::http_status(
            &self.name, &self.base, "/prompt", status,
        ))
    }

    /// The history entry, or `None` while the prompt is unknown or unfinished (`{}`).
    pub async fn history(&self, prompt_id: &str) -> Result<Option<HistoryEntry>, BackendError> {
        let mut all: BTreeMap<String, HistoryEntry> =
            self.json(&format!("/history/{prompt_id}")).await?;
        Ok(all.remove(prompt_id))
    }

    pub async fn queue_place(&self, prompt_id: &str) -> Result<QueuePlace, BackendError> {
        let q: Value = self.json("/queue").await?;
        let id_of = |item: &Value| item.get(1).and_then(Value::as_str).map(str::to_string);
        let running = q
            .get("queue_running")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if running
            .iter()
            .any(|i| id_of(i).as_deref() == Some(prompt_id))
        {
            return Ok(QueuePlace::Running);
        }
        // `queue_pending` is a heap array: sort by priority number (§4).
        let mut pending: Vec<(f64, String)> = q
            .get("queue_pending")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
            .iter()
            .filter_map(|i| Some((i.get(0)?.as_f64()?, id_of(i)?)))
            .collect();
        pending.sort_by(|a, b| a.0.total_cmp(&b.0));
        Ok(pending
            .iter()
            .position(|(_, id)| id == prompt_id)
            .map_or(QueuePlace::Absent, |p| QueuePlace::Pending(p as u32 + 1)))
    }

    /// One quick look at the server (`GET /prompt`, no retries): the health check. Returns
    /// `queue_remaining`.
    pub async fn probe_queue(&self) -> Result<u64, BackendError> {
        let resp = self
            .get("/prompt")
            .send()
            .await
            .map_err(|e| self.unreachable(&e))?;
        let status = resp.status();
        if !status.is_success() {
            return Err(errors::http_status(
                &self.name, &self.base, "/prompt", status,
            ));
        }
        let body = self.read(resp, "/prompt", MAX_ANSWER_BYTES).await?;
        let v: Value = serde_json::from_slice(&body).map_err(|e| {
            BackendError::new(
                ErrorKind::Protocol,
                format!(
                    "ComfyUI at {} answered /prompt with unexpected JSON: {e}",
                    self.base
                ),
            )
        })?;
        Ok(v.pointer("/exec_info/queue_remaining")
            .and_then(Value::as_u64)
            .unwrap_or(0))
    }

    /// Prompts queued or running on the server (`GET /prompt`).
    pub async fn queue_remaining(&self) -> Result<u64, BackendError> {
        let v: Value = self.json("/prompt").await?;
        Ok(v.pointer("/exec_info/queue_remaining")
            .and_then(Value::as_u64)
            .unwrap_or(0))
    }

    async fn command(&self, path: &str, body: Value) -> Result<(), BackendError> {
        let resp = self
            .post(path)
            .json(&body)
            .send()
            .await
            .map_err(|e| self.unreachable(&e))?;
        if resp.status().is_success() {
            Ok(())
        } else {
            Err(errors::http_status(
                &self.name,
                &self.base,
                path,
                resp.status(),
            ))
        }
    }

    /// Removes a pending prompt (a running one is not touched).
    pub async fn delete_pending(&self, prompt_id: &str) -> Result<(), BackendError> {
        self.command("/queue", json!({"delete": [prompt_id]})).await
    }

    /// Interrupts the prompt if it is the one running (ComfyUI ≥ 0.3.57 honours the id).
    pub async fn interrupt(&self, prompt_id: &str) -> Result<(), BackendError> {
        self.command("/interrupt", json!({"prompt_id": prompt_id}))
            .await
    }

    /// Uploads an input image; returns the name LoadImage takes (`subfolder/name`).
    pub async fn upload(&self, bytes: Vec<u8>, filename: &str) -> Result<String, BackendError> {
        let part = reqwest::multipart::Part::bytes(bytes).file_name(filename.to_string());
        let form = reqwest::multipart::Form::new()
            .part("image", part)
            .text("type", "input")
            .text("subfolder", "easel");
        let resp = self
            .post("/upload/image")
            .multipart(form)
            .send()
            .await
            .map_err(|e| self.unreachable(&e))?;
        if !resp.status().is_success() {
            return Err(errors::http_status(
                &self.name,
                &self.base,
                "/upload/image",
                resp.status(),
            ));
        }
        let body = self.read(resp, "/upload/image", MAX_ANSWER_BYTES).await?;
        let v: Value = serde_json::from_slice(&body).map_err(|e| {
            BackendError::new(
                ErrorKind::Protocol,
                format!("ComfyUI upload answer unreadable: {e}"),
            )
        })?;
        let name = v.get("name").and_then(Value::as_str).unwrap_or(filename);
        Ok(match v.get("subfolder").and_then(Value::as_str) {
            Some(sub) if !sub.is_empty() => format!("{sub}/{name}"),
            _ => name.to_string(),
        })
    }

    pub fn view_url(&self, file: &FileRef) -> String {
        let q = |s: &str| url_escape(s);
        format!(
            "{}/view?filename={}&subfolder={}&type={}",
            self.base,
            q(&file.filename),
            q(&file.subfolder),
            q(&file.kind)
        )
    }

    /// Downloads an output over `/view` (never from ComfyUI's filesystem).
    pub async fn fetch(&self, url: &str, what: &str) -> Result<Fetched, BackendError> {
        http::download(&self.http, &self.headers, Self::policy(), url, what).await
    }

    /// Downloads a public source image, without ComfyUI's headers (they are for ComfyUI).
    /// A source image's bytes (a checked local file, or a public URL downloaded without this
    /// server's headers), refused unless they are an image.
    pub async fn load_source(
        &self,
        source: &crate::request::Source,
    ) -> Result<(Vec<u8>, crate::outputs::ImageInfo), BackendError> {
        crate::backend::source::load(&self.http, Self::policy(), source).await
    }

    pub async fn system_stats(&self) -> Result<Value, BackendError> {
        self.json("/system_stats").await
    }

    pub async fn object_info(&self) -> Result<Value, BackendError> {
        self.json_within("/object_info", MAX_CATALOGUE_BYTES).await
    }
}

/// Percent-encodes a query value (ComfyUI file names may hold spaces and parentheses).
fn url_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

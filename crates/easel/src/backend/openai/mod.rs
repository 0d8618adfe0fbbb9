//! OpenAI-compatible image APIs (docs/contracts/openai-images.md): OpenAI itself, SiliconFlow,
//! Together, gateways. Synchronous at the wire, yet a job like every other backend: the
//! answer (images inline or as URLs) is the ticket, stored before anything is saved, so a
//! paid result survives a restart.

mod errors;
mod wire;

use async_trait::async_trait;
use base64::Engine;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::health::Check;
use super::http::{self, RetryPolicy, transport_reason};
use super::{
    Backend, BackendError, BackendStatus, CancelOutcome, ErrorKind, EventSink, Fetched,
    ImageOutcome, Progress, RemoteImage, Ticket,
};
use crate::clock::now_ms;
use crate::config::{Dialect, ProviderSettings};
use crate::request::{GenerateRequest, InvalidInput, Source};

use wire::AnswerImage;

#[derive(Clone, Debug, Serialize, Deserialize)]
struct ProviderTicket {
    answered_at_ms: u64,
    images: Vec<AnswerImage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    usage: Option<Value>,
}

pub struct OpenAiCompat {
    settings: ProviderSettings,
    http: reqwest::Client,
    headers: HeaderMap,
}

impl OpenAiCompat {
    pub fn new(settings: ProviderSettings) -> Result<OpenAiCompat, BackendError> {
        let mut headers = HeaderMap::new();
        for (name, value) in &settings.headers {
            let bad = || {
                BackendError::new(
                    ErrorKind::Auth,
                    format!(
                        "providers.{}.headers: {name:?} is not a valid header",
                        settings.name
                    ),
                )
            };
            let mut v = HeaderValue::from_str(value.expose_secret()).map_err(|_| bad())?;
            v.set_sensitive(true);
            headers.insert(
                HeaderName::from_bytes(name.as_bytes()).map_err(|_| bad())?,
                v,
            );
        }
        Ok(OpenAiCompat {
            http: http::client(settings.timeout)?,
            settings,
            headers,
        })
    }

    fn key(&self) -> Result<&SecretString, BackendError> {
        self.settings.api_key.as_ref().ok_or_else(|| {
            BackendError::new(
                ErrorKind::Auth,
                format!(
                    "provider {} needs an API key and none is set. {}, then set it as the environment variable {} (in an MCP client, the \"env\" of easel's entry).",
                    self.settings.name,
                    errors::key_help(&self.settings),
                    self.settings.api_key_env
                ),
            )
        })
    }

    fn model<'a>(&'a self, request: &'a GenerateRequest) -> &'a str {
        request
            .model
            .as_deref()
            .unwrap_or(&self.settings.default_model)
    }

    fn policy() -> RetryPolicy {
        // Never retry what may have been generated (and paid for): only 429 and 5xx answers
        // and refused connections.
        RetryPolicy {
            max_retries: 2,
            base: std::time::Duration::from_millis(500),
            retry_ambiguous: false,
        }
    }

    /// Sends a request for `count` images and reads its JSON answer, which may carry each
    /// image as base64: bounded by that many images' worth.
    async fn send(
        &self,
        build: impl Fn() -> reqwest::RequestBuilder,
        path: &str,
        count: u32,
    ) -> Result<Value, BackendError> {
        let resp = http::send_retrying(Self::policy(), build)
            .await
            .map_err(|e| {
                BackendError::new(
                    ErrorKind::Unreachable,
                    format!(
                        "cannot reach {} at {}: {}",
                        self.settings.name,
                        self.settings.base_url,
                        transport_reason(&e)
                    ),
                )
            })?;
        let status = resp.status();
        let limit = (count.max(1) as usize)
            .saturating_mul(http::MAX_IMAGE_BYTES / 3 * 4)
            .saturating_add(http::MAX_ANSWER_BYTES);
        let body = http::read_limited(resp, limit)
            .await
            .map_err(|e| e.answer_error(&self.settings.name, path))?;
        let text = String::from_utf8_lossy(&body);
        if !status.is_success() {
            return Err(errors::from_answer(&self.settings, status, &text));
        }
        serde_json::from_str(&text).map_err(|e| {
            BackendError::new(
                ErrorKind::Protocol,
                format!(
                    "{} answered {path} with unreadable JSON ({e})",
                    self.settings.name
                ),
            )
        })
    }

    async fn generate(&self, request: &GenerateRequest, key: &str) -> Result<Value, BackendError> {
        let body = wire::generation_body(self.settings.dialect, request, self.model(request));
        if self.settings.dialect == Dialect::Siliconflow && request.is_edit() {
            return self.siliconflow_edit(request, key, body).await;
        }
        let url = format!("{}/images/generations", self.settings.base_url);
        self.send(
            || {
                self.http
                    .post(&url)
                    .bearer_auth(key)
                    .headers(self.headers.clone())
                    .json(&body)
            },
            "/images/generations",
            request.count,
        )
        .await
    }

    /// SiliconFlow edits through generations with the sources as data URIs (§7.1).
    async fn siliconflow_edit(
        &self,
        request: &GenerateRequest,
        key: &str,
        mut body: Value,
    ) -> Result<Value, BackendError> {
        for (i, source) in request.sources.iter().enumerate() {
            let (bytes, mime) = self.load(source).await?;
            let field = if i == 0 {
                "image".to_string()
            } else {
                format!("image{}", i + 1)
            };
            let uri = format!(
                "data:{mime};base64,{}",
                base64::engine::general_purpose::STANDARD.encode(bytes)
            );
            if let Some(obj) = body.as_object_mut() {
                obj.insert(field, Value::String(uri));
                obj.remove("image_size");
            }
        }
        let url = format!("{}/images/generations", self.settings.base_url);
        self.send(
            || {
                self.http
                    .post(&url)
                    .bearer_auth(key)
                    .headers(self.headers.clone())
                    .json(&body)
            },
            "/images/generations",
            request.count,
        )
        .await
    }

    /// `POST /images/edits` as multipart: `image` for one source, `image[]` for several.
    async fn edit(&self, request: &GenerateRequest, key: &str) -> Result<Value, BackendError> {
        let mut files = Vec::new();
        for source in &request.sources {
            files.push(self.load(source).await?);
        }
        let mask = match &request.mask {
            Some(m) => Some(self.load(m).await?),
            None => None,
        };
        let model = self.model(request).to_string();
        let field = if files.len() == 1 { "image" } else { "image[]" };
        let build = || {
            let mut form = reqwest::multipart::Form::new()
                .text("model", model.clone())
                .text("prompt", request.prompt.clone())
                .text("n", request.count.to_string())
                .text("size", request.size.to_string());
            for key in wire::allowed_params(self.settings.dialect) {
                if let Some(v) = request.params.get(*key) {
                    form = form.text(
                        *key,
                        v.as_str().map_or_else(|| v.to_string(), str::to_string),
                    );
                }
            }
            for (i, (bytes, mime)) in files.iter().enumerate() {
                form = form.part(field, file_part(bytes, mime, &format!("image{}", i + 1)));
            }
            if let Some((bytes, mime)) = &mask {
                form = form.part("mask", file_part(bytes, mime, "mask"));
            }
            self.http
                .post(format!("{}/images/edits", self.settings.base_url))
                .bearer_auth(key)
                .headers(self.headers.clone())
                .multipart(form)
        };
        self.send(build, "/images/edits", request.count).await
    }

    /// A source's bytes and MIME type: read from disk, or downloaded (without credentials).
    async fn load(&self, source: &Source) -> Result<(Vec<u8>, &'static str), BackendError> {
        let (bytes, info) = super::source::load(&self.http, Self::policy(), source).await?;
        Ok((bytes, info.kind.mime()))
    }
}

fn file_part(bytes: &[u8], mime: &str, stem: &str) -> reqwest::multipart::Part {
    let ext = mime
        .rsplit('/')
        .next()
        .unwrap_or("png")
        .replace("jpeg", "jpg");
    let part = reqwest::multipart::Part::bytes(bytes.to_vec()).file_name(format!("{stem}.{ext}"));
    part.mime_str(mime)
        .unwrap_or_else(|_| reqwest::multipart::Part::bytes(bytes.to_vec()))
}

fn ticket_of(t: &Ticket) -> Result<ProviderTicket, BackendError> {
    serde_json::from_value(t.0.clone()).map_err(|e| {
        BackendError::new(
            ErrorKind::Protocol,
            format!("stored provider ticket is unreadable: {e}"),
        )
    })
}

#[async_trait]
impl Backend for OpenAiCompat {
    fn name(&self) -> &str {
        &self.settings.name
    }

    fn default_model(&self) -> Option<&str> {
        Some(&self.settings.default_model)
    }

    fn validate(&self, request: &GenerateRequest) -> Result<Vec<String>, InvalidInput> {
        if request.workflow.is_some() {
            return Err(InvalidInput::new(
                "workflow",
                "workflows apply to ComfyUI only",
                "Leave workflow out, or set backend to \"comfyui\".",
            ));
        }
        let name = &self.settings.name;
        let mut warnings: Vec<String> = wire::unsupported(self.settings.dialect, request)
            .into_iter()
            .map(|f| format!("{name} has no {f} parameter; it was not sent"))
            .collect();
        let allowed = wire::allowed_params(self.settings.dialect);
        for key in request
            .params
            .keys()
            .filter(|k| !allowed.contains(&k.as_str()))
        {
            warnings.push(format!(
                "{name} does not take params.{key}; it was not sent (it takes: {})",
                allowed.join(", ")
            ));
        }
        if request.mask.is_some() && self.settings.dialect == Dialect::Siliconflow {
            warnings.push(format!(
                "{name} (SiliconFlow) takes no mask; it was not sent"
            ));
        }
        Ok(warnings)
    }

    fn preflight(&self) -> Result<(), BackendError> {
        self.key().map(|_| ())
    }

    async fn submit(
        &self,
        request: &GenerateRequest,
        _prepared: Option<&Ticket>,
    ) -> Result<Ticket, BackendError> {
        let key = self.key()?.expose_secret().to_string();
        let answer = if request.is_edit() && self.settings.dialect == Dialect::Openai {
            self.edit(request, &key).await?
        } else {
            self.generate(request, &key).await?
        };
        let images = wire::parse_images(&answer);
        if images.is_empty() {
            return Err(BackendError::new(
                ErrorKind::Failed,
                format!(
                    "{} answered without any image; try again or another model",
                    self.settings.name
                ),
            ));
        }
        let ticket = ProviderTicket {
            answered_at_ms: now_ms(),
            images,
            usage: answer.get("usage").cloned(),
        };
        serde_json::to_value(ticket).map(Ticket).map_err(|e| {
            BackendError::new(
                ErrorKind::Protocol,
                format!("cannot record the answer: {e}"),
            )
        })
    }

    async fn track(
        &self,
        ticket: &Ticket,
        events: &EventSink,
    ) -> Result<Vec<ImageOutcome>, BackendError> {
        let t = ticket_of(ticket)?;
        let n = t.images.len() as u64;
        events.send(Progress {
            done: n,
            total: Some(n),
            queue_position: None,
            message: format!("{}: {n} image(s) received", self.settings.name),
        });
        Ok(t.images
            .iter()
            .enumerate()
            .map(|(i, img)| {
                Ok(RemoteImage {
                    index: i as u32,
                    seed: None,
                    seedless: false,
                    url: img.url.clone(),
                    revised_prompt: img.revised_prompt.clone(),
                    usage: t.usage.clone(),
                })
            })
            .collect())
    }

    async fn fetch(&self, ticket: &Ticket, image: &RemoteImage) -> Result<Fetched, BackendError> {
        let t = ticket_of(ticket)?;
        let Some(answer) = t.images.get(image.index as usize) else {
            return Err(BackendError::new(
                ErrorKind::Protocol,
                format!("no image {} in the stored answer", image.index + 1),
            ));
        };
        if let Some(b64) = &answer.b64 {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .map_err(|e| {
                    BackendError::new(
                        ErrorKind::Download,
                        format!(
                            "{} sent image {} as invalid base64: {e}",
                            self.settings.name,
                            image.index + 1
                        ),
                    )
                })?;
            return Ok(Fetched {
                bytes: bytes.into(),
                content_type: None,
            });
        }
        let url = answer.url.as_deref().unwrap_or_default();
        // The provider's key never goes to the image host.
        http::download(
            &self.http,
            &HeaderMap::new(),
            Self::policy(),
            url,
            &format!("image {}", image.index + 1),
        )
        .await
    }

    async fn cancel(&self, _ticket: &Ticket) -> CancelOutcome {
        CancelOutcome::NotSupported(format!(
            "{} answers synchronously: a call that was sent cannot be stopped",
            self.settings.name
        ))
    }

    /// Checks the key with `GET /models`: authenticated on OpenAI and every compatible
    /// gateway easel knows, and it generates nothing.
    async fn status(&self) -> BackendStatus {
        let details = |key: &str, check: serde_json::Value| {
            serde_json::json!({
                "base_url": self.settings.base_url,
                "default_model": self.settings.default_model,
                "api_key": key,
                "api_key_env": self.settings.api_key_env,
                "check": check,
            })
        };
        let Some(key) = &self.settings.api_key else {
            return BackendStatus {
                name: self.settings.name.clone(),
                ready: false,
                summary: format!(
                    "no API key: set {}. {}.",
                    self.settings.api_key_env,
                    errors::key_help(&self.settings)
                ),
                details: details("missing", serde_json::Value::Null),
            };
        };
        const ASKED: &str = "GET /models, which generates nothing";
        let check = Check::run(
            self.http
                .get(format!("{}/models", self.settings.base_url))
                .bearer_auth(key.expose_secret())
                .headers(self.headers.clone()),
            &[],
        )
        .await;
        let fix = format!(
            "Check the key in {} (and that it belongs to {}).",
            self.settings.api_key_env, self.settings.base_url
        );
        BackendStatus {
            name: self.settings.name.clone(),
            ready: check.ready(),
            summary: format!(
                "{}; model {}",
                check.summary(
                    &format!("{} at {}", self.settings.name, self.settings.base_url),
                    ASKED,
                    &fix
                ),
                self.settings.default_model
            ),
            details: details("set", check.details(ASKED)),
        }
    }

    /// One synchronous call per image (tens of seconds) with no progress in between: a
    /// couple of seconds is as fresh as the answer can be without busy polling.
    fn poll_interval(&self) -> std::time::Duration {
        std::time::Duration::from_secs(2)
    }
}

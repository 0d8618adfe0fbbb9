//! An easel serving MCP and the gallery in this process, jobs made in its store without a
//! backend (for listings of thousands), and a small reader of the gallery's event stream.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use easel::config::Config;
use easel::gallery::{Gallery, GalleryOptions};
use easel::jobs::{Job, Jobs};
use easel_sim::{ModelScopeConfig, ModelScopeSim, XhsConfig, XhsSim};
use futures::StreamExt;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::common;

pub const TOKEN: &str = "gallery-token-0123456789abcdef";

pub struct Served {
    pub _sim: ModelScopeSim,
    pub xhs: XhsSim,
    pub dir: tempfile::TempDir,
    pub base: String,
    pub origin: String,
    pub jobs: Jobs,
    pub gallery: Arc<Gallery>,
    pub config: Config,
    pub token: Option<String>,
    shutdown: CancellationToken,
}

impl Drop for Served {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

pub fn http() -> reqwest::Client {
    easel::logging::install_tls_provider();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("reqwest client")
}

impl Served {
    /// easel with a xiaohongshu publisher `xhs` (the default), optionally an HTTP token.
    pub async fn start(sim: ModelScopeConfig, token: Option<&str>) -> Served {
        easel::logging::install_tls_provider();
        let sim = ModelScopeSim::start(sim).await.expect("sim");
        let xhs = XhsSim::start(XhsConfig::default()).await.expect("xhs");
        let dir = tempfile::tempdir().expect("tempdir");
        let mut extra: Vec<(&str, &str)> = Vec::new();
        if let Some(t) = token {
            extra.push(("EASEL_HTTP_TOKEN", t));
        }
        let env = common::test_env(&sim, &dir.path().join("out"), &extra);
        let toml = format!(
            "default_publisher = \"xhs\"\n[publishers.xhs]\nkind = \"xiaohongshu\"\nurl = \"{}\"\n",
            xhs.base_url()
        );
        let file = dir.path().join("easel.toml");
        std::fs::write(&file, toml).expect("toml");
        let config = Config::load_with(Some(&file), &|k| env.get(k).cloned()).expect("config");
        let app = easel::app::build(&config, easel::app::Storage::Durable).expect("app");
        app.jobs.start_background(true);
        let server = app.server(&config);
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let shutdown = CancellationToken::new();
        let options = GalleryOptions::from_config(
            &config,
            app.publishers.clone(),
            easel::cli::equivalent_command,
        );
        let gallery = Arc::new(Gallery::new(app.jobs.clone(), options, shutdown.clone()));
        let router = easel::serve::http::app_with(
            server,
            Some(gallery.clone()),
            &config.http,
            addr,
            shutdown.clone(),
        );
        let connections =
            easel::serve::conn::Connections::new(&config.http, config.http.max_connections);
        tokio::spawn(easel::serve::http::serve(
            listener,
            router,
            connections,
            shutdown.clone(),
            Duration::from_secs(2),
        ));
        Served {
            _sim: sim,
            xhs,
            dir,
            base: format!("http://{addr}"),
            origin: format!("http://{addr}"),
            jobs: app.jobs,
            gallery,
            config,
            token: token.map(str::to_string),
            shutdown,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn out(&self) -> PathBuf {
        self.config.output_dir.clone()
    }

    /// GET with the bearer token when there is one.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        let mut req = http().get(self.url(path));
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        req.send().await.expect("GET")
    }

    pub async fn get_json(&self, path: &str) -> Value {
        let r = self.get(path).await;
        assert_eq!(r.status(), 200, "GET {path}");
        r.json().await.expect("json")
    }

    /// The CSRF token of a caller with these headers.
    pub async fn csrf(&self, cookie: Option<&str>) -> String {
        let mut req = http().get(self.url("/gallery/api/session"));
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        let v: Value = req
            .send()
            .await
            .expect("session")
            .json()
            .await
            .expect("json");
        v["csrf"].as_str().expect("csrf").to_string()
    }

    /// A POST as the page makes it: same origin, JSON, the CSRF header; `cookie` when signed in.
    pub async fn post_as_page(
        &self,
        path: &str,
        cookie: Option<&str>,
        body: Value,
    ) -> reqwest::Response {
        let csrf = self.csrf(cookie).await;
        let mut req = http()
            .post(self.url(path))
            .header("origin", &self.origin)
            .header("x-easel-csrf", csrf)
            .json(&body);
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        req.send().await.expect("POST")
    }

    /// Signs in with `token` through the form; the cookie (`name=value`) on success.
    pub async fn sign_in(&self, token: &str) -> (reqwest::StatusCode, Option<String>, String) {
        let r = http()
            .post(self.url("/gallery/login"))
            .header("origin", &self.origin)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("token={token}"))
            .send()
            .await
            .expect("login");
        let status = r.status();
        let cookie = r
            .headers()
            .get("set-cookie")
            .map(|v| v.to_str().expect("ascii").to_string());
        let body = r.text().await.expect("body");
        (status, cookie, body)
    }

    /// Puts `job` in the store as if it had run.
    pub fn put(&self, job: &Job) {
        self.jobs.store().put(job).expect("put");
    }
}

/// The `name=value` of a `Set-Cookie` header.
pub fn cookie_pair(set_cookie: &str) -> String {
    set_cookie
        .split(';')
        .next()
        .expect("pair")
        .trim()
        .to_string()
}

/// A finished job made without a backend: `images` files named in the output root.
pub fn job(id: &str, created_at_ms: u64, fields: Value) -> Job {
    let mut base = json!({
        "id": id, "backend": "modelscope",
        "request": {"prompt": "a cat", "model": "Qwen/Qwen-Image",
                    "size": {"width": 64, "height": 64}, "seed": 7, "count": 1},
        "output": {"dir": null, "stem": null, "format": "original"},
        "status": "succeeded", "progress": {"fraction": 1.0, "message": "done"},
        "ticket": null, "images": [], "failures": [], "error": null,
        "idempotency_key": null, "created_at_ms": created_at_ms,
        "updated_at_ms": created_at_ms, "finished_at_ms": created_at_ms + 1500
    });
    merge(&mut base, fields);
    serde_json::from_value(base).expect("job")
}

fn merge(base: &mut Value, extra: Value) {
    match (base, extra) {
        (Value::Object(b), Value::Object(e)) => {
            for (k, v) in e {
                match b.get_mut(&k) {
                    Some(slot) if slot.is_object() && v.is_object() => merge(slot, v),
                    _ => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, e) => *b = e,
    }
}

/// A PNG of `width` × `height` with some structure, written at `path`.
pub fn write_png(path: &Path, width: u32, height: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, ((x + y) % 256) as u8])
    });
    let mut bytes = std::io::Cursor::new(Vec::new());
    img.write_to(&mut bytes, image::ImageFormat::Png)
        .expect("png");
    let bytes = bytes.into_inner();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).expect("dir");
    }
    std::fs::write(path, &bytes).expect("write");
    bytes
}

/// The saved-image record of a file.
pub fn saved(index: u32, path: &Path, width: u32, height: u32) -> Value {
    json!({"index": index, "path": path, "mime": "image/png", "width": width, "height": height,
           "bytes": std::fs::metadata(path).map(|m| m.len()).unwrap_or(0), "seed": 7 + index})
}

/// The gallery's event stream, read event by event.
pub struct Events {
    stream: futures::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    buf: String,
}

impl Events {
    pub async fn open(s: &Served) -> Events {
        let r = s.get("/gallery/events").await;
        assert_eq!(r.status(), 200, "GET /gallery/events");
        Events {
            stream: r.bytes_stream().boxed(),
            buf: String::new(),
        }
    }

    /// The next `(event, data)`, keep-alive comments skipped; fails after 30 s.
    pub async fn next(&mut self) -> (String, Value) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let mut event = String::new();
                let mut data = String::new();
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        event = v.trim().to_string();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.strip_prefix(' ').unwrap_or(v));
                    }
                }
                if event.is_empty() && data.is_empty() {
                    continue;
                }
                return (event, serde_json::from_str(&data).unwrap_or(Value::Null));
            }
            let chunk = tokio::time::timeout_at(deadline, self.stream.next())
                .await
                .expect("an event in time")
                .expect("stream open")
                .expect("chunk");
            self.buf
                .push_str(&String::from_utf8_lossy(&chunk).replace("\r\n", "\n"));
        }
    }

    /// Events until one about `id` satisfies `done`; every card about `id` seen, in order.
    pub async fn until(&mut self, id: &str, done: impl Fn(&Value) -> bool) -> Vec<Value> {
        let mut seen = Vec::new();
        loop {
            let (event, card) = self.next().await;
            if event == "job" && card["id"] == id {
                let finished = done(&card);
                seen.push(card);
                if finished {
                    return seen;
                }
            }
        }
    }
}

/// Submits a generation through the one request path, as the gallery's "again" does.
pub fn submit(s: &Served, prompt: &str) -> Job {
    easel::intake::JobInput::new(prompt)
        .submit(
            &s.jobs,
            easel::intake::WaitLimits::default(),
            easel::intake::Face::Mcp,
        )
        .expect("submitted")
        .submitted
        .job
}

/// Polls `check` until it returns `Some`, failing after 10 seconds.
pub async fn eventually<T, F, Fut>(mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(std::time::Instant::now() < deadline, "timed out");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

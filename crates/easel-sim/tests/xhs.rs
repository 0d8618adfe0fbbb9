//! Drives the xiaohongshu-mcp simulator over real HTTP, as a production client would,
//! and checks the behaviours of contract section 10
//! (`docs/contracts/xiaohongshu-mcp.md`): exact bodies, texts, codes and the order of
//! the publish checks.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::http::{HeaderMap, StatusCode as AxumStatus, header};
use axum::response::IntoResponse;
use axum::routing::get;
use base64::Engine as _;
use easel_sim::{XhsConfig, XhsSim};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// What an answer carried, read once.
struct Answer {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    text: String,
}

impl Answer {
    async fn read(response: reqwest::Response) -> Answer {
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.expect("body");
        Answer {
            status,
            headers,
            text,
        }
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|_| panic!("not JSON: {}", self.text))
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().expect("ascii"))
    }

    /// Asserts a 500 `PUBLISH_FAILED` and returns its `details`.
    fn publish_failed(&self) -> String {
        assert_eq!(
            self.status,
            StatusCode::INTERNAL_SERVER_ERROR,
            "{}",
            self.text
        );
        let body = self.json();
        assert_eq!(body["error"], "发布失败", "{}", self.text);
        assert_eq!(body["code"], "PUBLISH_FAILED");
        body["details"].as_str().expect("details text").to_owned()
    }

    /// Asserts a 400 `INVALID_REQUEST` and returns its `details`.
    fn invalid_request(&self) -> String {
        assert_eq!(self.status, StatusCode::BAD_REQUEST, "{}", self.text);
        let body = self.json();
        assert_eq!(body["error"], "请求参数错误");
        assert_eq!(body["code"], "INVALID_REQUEST");
        body["details"].as_str().expect("details text").to_owned()
    }
}

/// In a workspace build reqwest is unified with easel's `rustls-no-provider` feature, so a
/// crypto provider must exist before any client is built (even for plain HTTP).
fn http() -> reqwest::Client {
    crate::common::install_tls_provider();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    async fn get(&self, path: &str) -> Answer {
        let response = self.http.get(format!("{}{path}", self.base)).send().await;
        Answer::read(response.expect("sent")).await
    }

    async fn publish(&self, body: &Value) -> Answer {
        self.publish_raw(serde_json::to_vec(body).expect("JSON"))
            .await
    }

    async fn publish_raw(&self, body: Vec<u8>) -> Answer {
        let response = self
            .http
            .post(format!("{}/api/v1/publish", self.base))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("sent");
        Answer::read(response).await
    }
}

async fn start(config: XhsConfig) -> (XhsSim, Client) {
    let sim = XhsSim::start(config).await.expect("sim starts");
    let client = Client {
        http: http(),
        base: sim.base_url(),
    };
    (sim, client)
}

/// A real image file that is removed when dropped.
struct TempImage(PathBuf);

impl TempImage {
    fn new() -> TempImage {
        let path = std::env::temp_dir().join(format!("easel-xhs-{}.png", uuid::Uuid::new_v4()));
        std::fs::write(&path, easel_sim::picture::png(24, 16, "local")).expect("write image");
        TempImage(path)
    }

    fn path(&self) -> String {
        self.0.to_string_lossy().into_owned()
    }
}

impl Drop for TempImage {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A note that passes every check, around one local image.
fn note(image: &TempImage) -> Value {
    json!({"title": "秋天的第一杯咖啡", "content": "今天去了一家新开的咖啡店", "images": [image.path()]})
}

/// A little image host for URL images: `/ok.png`, `/moved` (302 to it), `/missing`
/// (404) and `/page` (an HTML page). It keeps the headers of every request.
struct ImageHost {
    base: String,
    seen: Arc<Mutex<Vec<HeaderMap>>>,
}

async fn image_host() -> ImageHost {
    let seen: Arc<Mutex<Vec<HeaderMap>>> = Arc::default();
    let log = seen.clone();
    let app = Router::new()
        .route(
            "/ok.png",
            get(move |headers: HeaderMap| {
                let log = log.clone();
                async move {
                    log.lock().expect("log").push(headers);
                    (
                        [(header::CONTENT_TYPE, "image/png")],
                        easel_sim::picture::png(20, 10, "hosted"),
                    )
                }
            }),
        )
        .route(
            "/moved",
            get(|| async { (AxumStatus::FOUND, [(header::LOCATION, "/ok.png")]).into_response() }),
        )
        .route("/missing", get(|| async { AxumStatus::NOT_FOUND }))
        .route(
            "/page",
            get(|| async { ([(header::CONTENT_TYPE, "text/html")], "<html>hello</html>") }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    ImageHost { base, seen }
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

/// `2006-01-02T15:04:05+08:00` for Unix time `secs`.
fn rfc3339_cst(secs: i64) -> String {
    let (date, time) = civil(secs + 8 * 3600);
    format!("{date}T{time}+08:00")
}

/// `2006-01-02 15:04` in +08:00.
fn minutes_cst(secs: i64) -> String {
    let (date, time) = civil(secs + 8 * 3600);
    format!("{date} {}", &time[..5])
}

/// Date and time of day of a local Unix time.
fn civil(local: i64) -> (String, String) {
    let days = local.div_euclid(86_400);
    let secs = local.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        format!("{year:04}-{month:02}-{day:02}"),
        format!(
            "{:02}:{:02}:{:02}",
            secs / 3600,
            (secs % 3600) / 60,
            secs % 60
        ),
    )
}

#[tokio::test]
async fn health_is_open_and_exact() {
    let config = XhsConfig {
        token: Some("secret".to_owned()),
        ..XhsConfig::default()
    };
    let (sim, client) = start(config).await;
    assert_eq!(sim.base_url(), format!("http://{}", sim.addr()));
    let answer = client.get("/health").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(
        answer.header("content-type"),
        Some("application/json; charset=utf-8")
    );
    assert_eq!(answer.header("access-control-allow-origin"), Some("*"));
    assert_eq!(
        answer.text,
        r#"{"success":true,"data":{"account":"github.com/xpzouying/xiaohongshu-mcp","service":"xiaohongshu-mcp","status":"healthy","timestamp":"now","version":"v2026.07.26.1327-b8412a2"},"message":"服务正常"}"#
    );
}

#[tokio::test]
async fn bearer_guard_cors_and_gin_routing() {
    let config = XhsConfig {
        token: Some("secret".to_owned()),
        ..XhsConfig::default()
    };
    let (_sim, client) = start(config).await;
    let status_url = format!("{}/api/v1/login/status", client.base);
    for authorization in [
        None,
        Some("Basic secret"),
        Some("Bearer wrong"),
        Some("Bearer"),
        Some("secret"),
    ] {
        let mut request = client.http.get(&status_url);
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        let answer = Answer::read(request.send().await.expect("sent")).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{authorization:?}");
        assert_eq!(answer.text, r#"{"error":"未授权","code":"UNAUTHORIZED"}"#);
        assert_eq!(answer.header("www-authenticate"), Some("Bearer"));
        assert_eq!(answer.header("access-control-allow-origin"), Some("*"));
    }
    for authorization in ["Bearer secret", "bearer   secret", "BEARER secret"] {
        let response = client
            .http
            .get(&status_url)
            .header("authorization", authorization)
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status(), StatusCode::OK, "{authorization}");
    }
    // Preflights are answered before auth.
    let response = client
        .http
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/api/v1/publish", client.base),
        )
        .send()
        .await
        .expect("sent");
    let answer = Answer::read(response).await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT);
    assert_eq!(answer.text, "");
    assert_eq!(
        answer.header("access-control-allow-methods"),
        Some("GET, POST, PUT, DELETE, OPTIONS")
    );
    assert_eq!(
        answer.header("access-control-allow-headers"),
        Some("Content-Type, Authorization")
    );
    // Unknown routes and wrong methods are gin's 404, even under the guarded prefix.
    for path in ["/api/v1/nope", "/api/v1/publish", "/nothing"] {
        let answer = client.get(path).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(answer.header("content-type"), Some("text/plain"));
        assert_eq!(answer.text, "404 page not found");
    }
    // A trailing slash is redirected to the route without it.
    let answer = client.get("/api/v1/login/status/").await;
    assert_eq!(answer.status, StatusCode::MOVED_PERMANENTLY);
    assert_eq!(answer.header("location"), Some("/api/v1/login/status"));
    let response = client
        .http
        .post(format!("{}/api/v1/publish/", client.base))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::TEMPORARY_REDIRECT);
}

#[tokio::test]
async fn login_state_machine_with_qr_scan() {
    let (sim, client) = start(XhsConfig::default()).await;
    let answer = client.get("/api/v1/login/status").await;
    assert_eq!(
        answer.text,
        r#"{"success":true,"data":{"is_logged_in":true,"username":"小明","user_id":"5f1e2d3c4b5a69788796a5b4"},"message":"检查登录状态成功"}"#
    );
    let answer = client.get("/api/v1/login/qrcode").await;
    assert_eq!(
        answer.text,
        r#"{"success":true,"data":{"timeout":"0s","is_logged_in":true},"message":"获取登录二维码成功"}"#
    );

    let response = client
        .http
        .delete(format!("{}/api/v1/login/cookies", client.base))
        .send()
        .await
        .expect("sent");
    let answer = Answer::read(response).await;
    assert_eq!(answer.status, StatusCode::OK);
    let body = answer.json();
    assert_eq!(body["message"], "删除 cookies 成功");
    assert_eq!(body["data"]["cookie_path"], "cookies.json");
    assert_eq!(
        client.get("/api/v1/login/status").await.text,
        r#"{"success":true,"data":{"is_logged_in":false},"message":"检查登录状态成功"}"#
    );

    let answer = client.get("/api/v1/login/qrcode").await;
    let body = answer.json();
    assert_eq!(body["message"], "获取登录二维码成功");
    assert_eq!(body["data"]["timeout"], "4m0s");
    assert_eq!(body["data"]["is_logged_in"], false);
    let img = body["data"]["img"].as_str().expect("img");
    let encoded = img
        .strip_prefix("data:image/png;base64,")
        .expect("PNG data URL");
    let png = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .expect("base64");
    let qr = image::load_from_memory_with_format(&png, image::ImageFormat::Png).expect("PNG");
    assert!(qr.width() > 0 && qr.height() > 0);

    sim.scan();
    assert_eq!(
        client.get("/api/v1/login/status").await.json()["data"]["is_logged_in"],
        true
    );
}

#[tokio::test]
async fn publish_binding_errors_are_gins() {
    let (sim, client) = start(XhsConfig::default()).await;
    let cases: [(&[u8], &str); 7] = [
        (b"", "EOF"),
        (b"{\"title\": \"t\"", "unexpected EOF"),
        (
            b"xyz",
            "invalid character 'x' looking for beginning of value",
        ),
        (
            br#"{"images": []}"#,
            "Key: 'PublishRequest.Title' Error:Field validation for 'Title' failed on the 'required' tag\nKey: 'PublishRequest.Content' Error:Field validation for 'Content' failed on the 'required' tag\nKey: 'PublishRequest.Images' Error:Field validation for 'Images' failed on the 'min' tag",
        ),
        (
            br#"{"title": "t", "content": "c"}"#,
            "Key: 'PublishRequest.Images' Error:Field validation for 'Images' failed on the 'required' tag",
        ),
        (
            br#"{"title": "t", "content": "c", "images": "/a.png"}"#,
            "json: cannot unmarshal string into Go struct field PublishRequest.images of type []string",
        ),
        (
            br#"{"title": "t", "content": "c", "images": ["/a.png"], "is_original": "yes"}"#,
            "json: cannot unmarshal string into Go struct field PublishRequest.is_original of type bool",
        ),
    ];
    for (body, details) in cases {
        let answer = client.publish_raw(body.to_vec()).await;
        assert_eq!(
            answer.invalid_request(),
            details,
            "{}",
            String::from_utf8_lossy(body)
        );
    }
    assert!(sim.published().is_empty());
}

#[tokio::test]
async fn title_rule_counts_utf16_units() {
    let (sim, client) = start(XhsConfig::default()).await;
    let image = TempImage::new();
    for title in [
        "OOTD穿搭分享".to_owned(),
        "字".repeat(20),
        "a".repeat(40),
        "😀".repeat(10),
    ] {
        let mut body = note(&image);
        body["title"] = json!(title);
        let answer = client.publish(&body).await;
        assert_eq!(answer.status, StatusCode::OK, "{title}: {}", answer.text);
    }
    for title in ["字".repeat(21), "a".repeat(41), "OOTD穿搭分享".repeat(4)] {
        let mut body = note(&image);
        body["title"] = json!(title);
        let answer = client.publish(&body).await;
        assert_eq!(
            answer.text,
            r#"{"error":"发布失败","code":"PUBLISH_FAILED","details":"标题长度超过限制"}"#,
            "{title}"
        );
    }
    assert_eq!(sim.published().len(), 4);
}

#[tokio::test]
async fn url_images_are_really_downloaded() {
    let (sim, client) = start(XhsConfig::default()).await;
    let host = image_host().await;
    let image = TempImage::new();

    let ok = format!("{}/ok.png", host.base);
    let moved = format!("{}/moved", host.base);
    let mut body = note(&image);
    body["images"] = json!([ok, image.path(), moved]);
    let answer = client.publish(&body).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(answer.json()["data"]["images"], 3);
    let published = sim.published();
    let resolved = &published[0]["resolved_images"];
    assert_eq!(resolved[0]["kind"], "url");
    assert_eq!(resolved[0]["format"], "png");
    assert_eq!(resolved[1]["kind"], "path");
    assert_eq!(resolved[1]["exists"], true);
    assert_eq!(resolved[2]["source"], moved);
    let seen = host.seen.lock().expect("log").clone();
    assert_eq!(seen.len(), 2, "one download each, the redirect followed");
    assert!(
        seen[0]["user-agent"]
            .to_str()
            .expect("ua")
            .starts_with("Mozilla/5.0")
    );
    assert_eq!(
        seen[0]["referer"].to_str().expect("referer"),
        format!("{}/", host.base)
    );

    let missing = format!("{}/missing", host.base);
    body["images"] = json!([image.path(), missing]);
    assert_eq!(
        client.publish(&body).await.publish_failed(),
        format!("下载图片失败 {missing}: download failed with status 404 for URL: {missing}")
    );
    let page = format!("{}/page", host.base);
    body["images"] = json!([page]);
    assert_eq!(
        client.publish(&body).await.publish_failed(),
        format!("下载图片失败 {page}: downloaded file is not a valid image")
    );
    // Nobody listens on a port just released.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr")
    };
    let unreachable = format!("http://{closed}/a.png");
    body["images"] = json!([unreachable]);
    assert_eq!(
        client.publish(&body).await.publish_failed(),
        format!(
            "下载图片失败 {unreachable}: failed to download image from {unreachable}: Get \"{unreachable}\": dial tcp {closed}: connect: connection refused"
        )
    );
    assert_eq!(sim.published().len(), 1);
}

#[tokio::test]
async fn checks_run_in_the_services_order() {
    let (_sim, client) = start(XhsConfig::default()).await;
    let host = image_host().await;
    let image = TempImage::new();
    let missing = format!("{}/missing", host.base);
    let too_soon = rfc3339_cst(unix_now() + 60);
    let everything_wrong = json!({
        "title": "字".repeat(21),
        "content": "字".repeat(1001),
        "images": [missing],
        "schedule_at": too_soon,
        "visibility": "所有人",
    });
    let mut body = everything_wrong.clone();
    assert_eq!(
        client.publish(&body).await.publish_failed(),
        "标题长度超过限制"
    );
    body["title"] = json!("标题");
    assert!(
        client
            .publish(&body)
            .await
            .publish_failed()
            .starts_with("下载图片失败")
    );
    body["images"] = json!([image.path()]);
    assert!(
        client
            .publish(&body)
            .await
            .publish_failed()
            .starts_with("定时发布时间必须至少在1小时后")
    );
    body["schedule_at"] = json!("");
    assert_eq!(
        client.publish(&body).await.publish_failed(),
        "小红书发布失败: 当前输入长度为1001，最大长度为1000"
    );
    body["content"] = json!("字".repeat(1000));
    assert_eq!(
        client.publish(&body).await.publish_failed(),
        "小红书发布失败: 设置可见范围失败: 不支持的可见范围: 所有人，支持: 公开可见、仅自己可见、仅互关好友可见"
    );
    for visibility in ["", "公开可见", "仅自己可见", "仅互关好友可见"] {
        body["visibility"] = json!(visibility);
        assert_eq!(
            client.publish(&body).await.status,
            StatusCode::OK,
            "{visibility}"
        );
    }
}

#[tokio::test]
async fn schedule_must_be_rfc3339_within_1_hour_and_14_days() {
    let (sim, client) = start(XhsConfig::default()).await;
    let image = TempImage::new();
    let mut body = note(&image);

    body["schedule_at"] = json!("2026-09-01T10:30:00");
    assert_eq!(
        client.publish(&body).await.publish_failed(),
        r#"定时发布时间格式错误，请使用 ISO8601 格式: parsing time "2026-09-01T10:30:00" as "2006-01-02T15:04:05Z07:00": cannot parse "" as "Z07:00""#
    );
    body["schedule_at"] = json!("2026-09-01 10:30");
    assert_eq!(
        client.publish(&body).await.publish_failed(),
        r#"定时发布时间格式错误，请使用 ISO8601 格式: parsing time "2026-09-01 10:30" as "2006-01-02T15:04:05Z07:00": cannot parse " 10:30" as "T""#
    );

    // Too soon: the earliest time is "now + 1 h" on the simulator's clock, which lies
    // between the two readings of ours.
    let at = unix_now() + 30 * 60;
    body["schedule_at"] = json!(rfc3339_cst(at));
    let before = unix_now();
    let details = client.publish(&body).await.publish_failed();
    let after = unix_now();
    let expected = |now: i64| {
        format!(
            "定时发布时间必须至少在1小时后，当前设置: {}，最早可选: {}",
            minutes_cst(at),
            minutes_cst(now + 3600)
        )
    };
    assert!(
        details == expected(before) || details == expected(after),
        "{details}"
    );

    let at = unix_now() + 15 * 24 * 3600;
    body["schedule_at"] = json!(rfc3339_cst(at));
    let before = unix_now();
    let details = client.publish(&body).await.publish_failed();
    let after = unix_now();
    let expected = |now: i64| {
        format!(
            "定时发布时间不能超过14天，当前设置: {}，最晚可选: {}",
            minutes_cst(at),
            minutes_cst(now + 14 * 24 * 3600)
        )
    };
    assert!(
        details == expected(before) || details == expected(after),
        "{details}"
    );

    let at = rfc3339_cst(unix_now() + 2 * 3600);
    body["schedule_at"] = json!(at);
    assert_eq!(client.publish(&body).await.status, StatusCode::OK);
    let utc = format!("{}Z", &rfc3339_cst(unix_now() + 3 * 24 * 3600)[..19]);
    body["schedule_at"] = json!(utc);
    assert_eq!(client.publish(&body).await.status, StatusCode::OK);
    assert_eq!(sim.published()[0]["schedule_at"], json!(at));
}

#[tokio::test]
async fn logged_out_publish_is_an_internal_error() {
    let config = XhsConfig {
        logged_in: false,
        ..XhsConfig::default()
    };
    let (sim, client) = start(config).await;
    let image = TempImage::new();
    let answer = client.publish(&note(&image)).await;
    assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        answer.text,
        r#"{"error":"服务器内部错误","code":"INTERNAL_ERROR","details":{}}"#
    );
    // The quick checks still come first.
    let mut body = note(&image);
    body["title"] = json!("字".repeat(21));
    assert_eq!(
        client.publish(&body).await.publish_failed(),
        "标题长度超过限制"
    );
    assert!(sim.published().is_empty());
    let answer = client.get("/api/v1/user/me").await;
    assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(answer.json()["code"], "GET_MY_PROFILE_FAILED");
}

#[tokio::test]
async fn unconfirmed_and_statusless_answers() {
    let config = XhsConfig {
        unconfirmed: true,
        ..XhsConfig::default()
    };
    let (sim, client) = start(config).await;
    let image = TempImage::new();
    assert_eq!(
        client.publish(&note(&image)).await.publish_failed(),
        "小红书发布失败: 发布未确认成功：点击发布后未跳转离开发布页（可能校验未过或被拦截）"
    );
    assert!(sim.published().is_empty());

    sim.update(|c| {
        c.unconfirmed = false;
        c.answer_without_status = true;
    });
    let answer = client.publish(&note(&image)).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(
        answer.text,
        r#"{"success":true,"data":{},"message":"发布成功"}"#
    );

    sim.update(|c| c.answer_without_status = false);
    let answer = client.publish(&note(&image)).await;
    assert_eq!(
        answer.text,
        r#"{"success":true,"data":{"title":"秋天的第一杯咖啡","content":"今天去了一家新开的咖啡店","images":1,"status":"发布完成"},"message":"发布成功"}"#
    );
}

#[tokio::test]
async fn upload_timeout_counts_existing_images() {
    let config = XhsConfig {
        upload_timeout_at: Some(2),
        ..XhsConfig::default()
    };
    let (sim, client) = start(config).await;
    let (first, second) = (TempImage::new(), TempImage::new());
    let mut body = note(&first);
    body["images"] = json!([first.path(), "/nonexistent/easel/a.png", second.path()]);
    assert_eq!(
        client.publish(&body).await.publish_failed(),
        "小红书上传图片失败: 第2张图片上传超时: 第2张图片上传超时(60s)，请检查网络连接和图片大小"
    );
    sim.update(|c| c.upload_timeout_at = Some(3));
    assert_eq!(client.publish(&body).await.status, StatusCode::OK);
}

#[tokio::test]
async fn tags_are_truncated_and_missing_files_skipped() {
    let (sim, client) = start(XhsConfig::default()).await;
    let image = TempImage::new();
    let missing = "/nonexistent/easel/missing.png";
    let tags: Vec<String> = (1..=12).map(|i| format!("#标签{i}")).collect();
    let mut body = note(&image);
    body["images"] = json!([image.path(), missing]);
    body["tags"] = json!(tags);
    body["visibility"] = json!("仅自己可见");
    body["is_original"] = json!(true);
    let answer = client.publish(&body).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(
        answer.json()["data"]["images"],
        2,
        "skipped files still count"
    );

    let published = sim.published();
    assert_eq!(published.len(), 1);
    let note = &published[0];
    let expected: Vec<String> = (1..=10).map(|i| format!("标签{i}")).collect();
    assert_eq!(note["tags_used"], json!(expected));
    assert_eq!(note["tags"], json!(tags));
    assert_eq!(note["visibility"], "仅自己可见");
    assert_eq!(note["is_original"], true);
    assert_eq!(note["resolved_images"][0]["exists"], true);
    assert_eq!(
        note["resolved_images"][0]["bytes"],
        std::fs::metadata(&image.0).expect("file").len()
    );
    assert_eq!(
        note["resolved_images"][1],
        json!({"source": missing, "kind": "path", "exists": false, "bytes": null, "format": null})
    );

    // The profile lists it.
    let answer = client.get("/api/v1/user/me").await;
    let body = answer.json();
    assert_eq!(body["message"], "获取我的主页成功");
    let feeds = &body["data"]["data"]["feeds"];
    assert_eq!(feeds[0]["noteCard"]["displayTitle"], "秋天的第一杯咖啡");
    assert_eq!(feeds[0]["id"], note["note_id"]);

    // And the request log has what the client sent.
    let request = sim
        .requests()
        .into_iter()
        .find(|r| r.path == "/api/v1/publish");
    assert_eq!(
        request.expect("recorded").body.expect("JSON")["tags"][11],
        "#标签12"
    );
}

#[tokio::test]
async fn a_hung_publish_blocks_nothing_else() {
    let config = XhsConfig {
        hang: true,
        ..XhsConfig::default()
    };
    let (_sim, client) = start(config).await;
    let image = TempImage::new();
    let publish = client
        .http
        .post(format!("{}/api/v1/publish", client.base))
        .timeout(Duration::from_millis(300))
        .json(&note(&image))
        .send();
    let (published, health) = tokio::join!(publish, client.get("/health"));
    assert!(published.expect_err("never answers").is_timeout());
    assert_eq!(health.status, StatusCode::OK);
    // Validation errors are still answered at once.
    let answer = client.publish(&json!({})).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
}

//! `POST /api/v1/publish` (contract 5, 10.4): binding, then the service's steps in its
//! order, each failing with its exact text:
//!
//! 1. title weighted length;
//! 2. URL images downloaded (local paths only noted);
//! 3. `schedule_at` format and range;
//! 4. the publish page: logged out fails here, after `logged_out_delay`
//!    (`hang` stops here too); then `publish_delay` stands for the browser's work;
//! 5. uploads: missing local files skipped, `upload_timeout_at`;
//! 7. body length; 9. visibility; 13. `unconfirmed`.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::response::Response;
use bytes::Bytes;
use serde_json::{Value, json};

use super::bind::{PublishRequest, bind};
use super::download::{download, is_url, sniff};
use super::schedule;
use super::state::Shared;
use super::title::{MAX_TITLE, weighted_length};
use super::wire::{Go, internal_error, invalid_request, publish_failed, success};

/// The body limit the website's counter enforces (contract 5.3).
const MAX_BODY: usize = 1000;

/// Tags the service keeps (contract 5.3).
const MAX_TAGS: usize = 10;

/// The three `visibility` values (plus empty, meaning the first).
const VISIBILITIES: &[&str] = &["公开可见", "仅自己可见", "仅互关好友可见"];

/// Step 13's text.
pub const UNCONFIRMED: &str =
    "小红书发布失败: 发布未确认成功：点击发布后未跳转离开发布页（可能校验未过或被拦截）";

/// One `images` entry after step 2.
struct Resolved {
    source: String,
    /// `url` or `path`.
    kind: &'static str,
    exists: bool,
    bytes: Option<u64>,
    format: Option<&'static str>,
}

impl Resolved {
    fn to_json(&self) -> Value {
        json!({
            "source": self.source,
            "kind": self.kind,
            "exists": self.exists,
            "bytes": self.bytes,
            "format": self.format,
        })
    }
}

/// The handler.
pub async fn publish(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let request = match bind(&body) {
        Ok(request) => request,
        Err(details) => return invalid_request(details),
    };
    match run(&shared, &request).await {
        Ok(response) | Err(response) => response,
    }
}

/// The steps; `Err` is an early answer.
async fn run(shared: &Shared, request: &PublishRequest) -> Result<Response, Response> {
    // 1. Title, before anything else.
    if weighted_length(&request.title) > MAX_TITLE {
        return Err(publish_failed("标题长度超过限制".to_owned()));
    }
    // 2. Images in order: URLs downloaded, paths kept as they are.
    let images = request.images.clone().unwrap_or_default();
    let mut resolved = Vec::with_capacity(images.len());
    for image in &images {
        resolved.push(resolve(image).await?);
    }
    // 3. Schedule.
    if !request.schedule_at.is_empty() {
        schedule::check(&request.schedule_at, SystemTime::now()).map_err(publish_failed)?;
    }
    // 4. The publish page.
    let (hang, logged_in, logged_out_delay) =
        shared.config(|c| (c.hang, c.logged_in, c.logged_out_delay));
    if hang {
        shared.stopped().await;
        return Err(internal_error());
    }
    if !logged_in {
        if !logged_out_delay.is_zero() {
            tokio::time::sleep(logged_out_delay).await;
        }
        return Err(internal_error());
    }
    let delay = shared.config(|c| c.publish_delay);
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let (timeout_at, unconfirmed, without_status) =
        shared.config(|c| (c.upload_timeout_at, c.unconfirmed, c.answer_without_status));
    // 5. Uploads: missing files are skipped; N counts the files that exist.
    let uploaded = resolved.iter().filter(|r| r.exists).count();
    if let Some(n) = timeout_at.filter(|n| (1..=uploaded).contains(n)) {
        return Err(publish_failed(format!(
            "小红书上传图片失败: 第{n}张图片上传超时: 第{n}张图片上传超时(60s)，请检查网络连接和图片大小"
        )));
    }
    // 7. Body, as the website counts it.
    let length = request.content.chars().count();
    if length > MAX_BODY {
        return Err(publish_failed(format!(
            "小红书发布失败: 当前输入长度为{length}，最大长度为{MAX_BODY}"
        )));
    }
    // 9. Visibility.
    let visibility = request.visibility.as_str();
    if !visibility.is_empty() && !VISIBILITIES.contains(&visibility) {
        return Err(publish_failed(format!(
            "小红书发布失败: 设置可见范围失败: 不支持的可见范围: {visibility}，支持: 公开可见、仅自己可见、仅互关好友可见"
        )));
    }
    // 13. The page must navigate away.
    if unconfirmed {
        return Err(publish_failed(UNCONFIRMED.to_owned()));
    }
    shared.publish(note(request, &resolved));
    if without_status {
        return Ok(success(json!({}), "发布成功"));
    }
    let data = Go::Struct(vec![
        ("title", json!(request.title).into()),
        ("content", json!(request.content).into()),
        ("images", json!(resolved.len()).into()),
        ("status", json!("发布完成").into()),
    ]);
    Ok(success(data, "发布成功"))
}

/// Step 2 for one entry: a URL is downloaded (or the publish fails); a path is looked up
/// now for the record, though the service only skips it later.
async fn resolve(image: &str) -> Result<Resolved, Response> {
    if is_url(image) {
        let bytes = download(image)
            .await
            .map_err(|error| publish_failed(format!("下载图片失败 {image}: {error}")))?;
        return Ok(Resolved {
            source: image.to_owned(),
            kind: "url",
            exists: true,
            bytes: Some(bytes.len() as u64),
            format: sniff(&bytes),
        });
    }
    let (exists, bytes, format) = match tokio::fs::read(image).await {
        Ok(data) => (true, Some(data.len() as u64), sniff(&data)),
        // A file that exists but cannot be read is still uploaded by the service.
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => (true, None, None),
        Err(_) => (false, None, None),
    };
    Ok(Resolved {
        source: image.to_owned(),
        kind: "path",
        exists,
        bytes,
        format,
    })
}

/// The record of an accepted publish: the bound fields, what became of each image, and
/// the tags the service typed (leading `#` stripped, at most 10).
fn note(request: &PublishRequest, resolved: &[Resolved]) -> Value {
    let mut note = request.to_json();
    let tags_used: Vec<String> = request
        .tags
        .iter()
        .flatten()
        .take(MAX_TAGS)
        .map(|tag| tag.trim_start_matches('#').to_owned())
        .collect();
    let published_at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    if let Some(object) = note.as_object_mut() {
        object.insert(
            "resolved_images".into(),
            resolved.iter().map(Resolved::to_json).collect(),
        );
        object.insert("tags_used".into(), json!(tags_used));
        object.insert(
            "note_id".into(),
            json!(uuid::Uuid::new_v4().simple().to_string()[..24]),
        );
        object.insert("published_at".into(), json!(published_at));
    }
    note
}

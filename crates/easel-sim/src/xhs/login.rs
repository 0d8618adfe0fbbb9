//! The login state machine (contract 4.2 to 4.4, 10.3): status, the QR code, and
//! deleting the cookies.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use base64::Engine as _;
use serde_json::{Value, json};

use super::state::Shared;
use super::wire::{Go, success};

/// Where the service says it keeps its cookies (the default relative path).
const COOKIE_PATH: &str = "cookies.json";

/// `GET /api/v1/login/status`.
pub async fn status(State(shared): State<Arc<Shared>>) -> Response {
    let (logged_in, username, user_id) =
        shared.config(|c| (c.logged_in, c.username.clone(), c.user_id.clone()));
    let mut members = vec![("is_logged_in", Go::Json(Value::Bool(logged_in)))];
    if logged_in {
        // `omitempty`: an empty name or id is left out.
        if !username.is_empty() {
            members.push(("username", Go::Json(Value::String(username))));
        }
        if !user_id.is_empty() {
            members.push(("user_id", Go::Json(Value::String(user_id))));
        }
    }
    success(Go::Struct(members), "检查登录状态成功")
}

/// `GET /api/v1/login/qrcode`: a real PNG as a data URL while logged out.
pub async fn qrcode(State(shared): State<Arc<Shared>>) -> Response {
    if shared.config(|c| c.logged_in) {
        let data = Go::Struct(vec![
            ("timeout", json!("0s").into()),
            ("is_logged_in", json!(true).into()),
        ]);
        return success(data, "获取登录二维码成功");
    }
    let png = crate::picture::png(96, 96, &format!("xhs login {}", uuid::Uuid::new_v4()));
    let img = format!(
        "data:image/png;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(png)
    );
    let data = Go::Struct(vec![
        ("timeout", json!("4m0s").into()),
        ("is_logged_in", json!(false).into()),
        ("img", json!(img).into()),
    ]);
    success(data, "获取登录二维码成功")
}

/// `DELETE /api/v1/login/cookies`: logs out; idempotent.
pub async fn delete_cookies(State(shared): State<Arc<Shared>>) -> Response {
    shared.update(|c| c.logged_in = false);
    let data = json!({
        "cookie_path": COOKIE_PATH,
        "message": "Cookies 已成功删除，登录状态已重置。下次操作时需要重新登录。",
    });
    success(data, "删除 cookies 成功")
}

//! `GET /api/v1/user/me` (contract 4.6, 10.5): the account's own profile, listing the
//! notes published through the simulator, newest first, so tests can check a client's
//! post-publish lookup.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::state::Shared;
use super::wire::{error, success};

/// The handler; logged out it fails like the real page load does.
pub async fn me(State(shared): State<Arc<Shared>>) -> Response {
    let (logged_in, username, user_id) =
        shared.config(|c| (c.logged_in, c.username.clone(), c.user_id.clone()));
    if !logged_in {
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "获取我的主页失败",
            "GET_MY_PROFILE_FAILED",
            Some(json!("用户未登录")),
        );
    }
    let user = json!({
        "userId": user_id,
        "nickname": username,
        "nickName": username,
        "avatar": "",
    });
    let notes = shared.published();
    let feeds: Vec<Value> = notes
        .iter()
        .rev()
        .enumerate()
        .map(|(index, note)| feed(note, index, &user))
        .collect();
    let data = json!({
        "data": {
            "userBasicInfo": {
                "nickname": username,
                "redId": user_id,
                "desc": "",
                "gender": 0,
                "images": "",
                "imageb": "",
            },
            "interactions": [
                {"type": "follows", "name": "关注", "count": "0"},
                {"type": "fans", "name": "粉丝", "count": "0"},
                {"type": "interaction", "name": "获赞与收藏", "count": "0"},
            ],
            "feeds": feeds,
        }
    });
    success(data, "获取我的主页成功")
}

/// A published note in the `Feed` shape of contract 4.6.
fn feed(note: &Value, index: usize, user: &Value) -> Value {
    json!({
        "xsecToken": format!("XYZ{}", note["note_id"].as_str().unwrap_or_default()),
        "id": note["note_id"],
        "modelType": "note",
        "noteCard": {
            "type": "normal",
            "displayTitle": note["title"],
            "user": user,
            "interactInfo": {
                "liked": false,
                "likedCount": "0",
                "sharedCount": "0",
                "commentCount": "0",
                "collectedCount": "0",
                "collected": false,
            },
            "cover": {"width": 0, "height": 0, "url": "", "fileId": "", "urlPre": "", "urlDefault": ""},
        },
        "index": index,
    })
}

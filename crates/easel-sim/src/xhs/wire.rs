//! The service's answers on the wire (contract 2, 3, 6), byte for byte: gin writes Go
//! structs with their fields in declaration order, maps with sorted keys, and escapes
//! `<`, `>`, `&`, U+2028 and U+2029 as `\u….` Bodies are built here in that order.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

/// gin's JSON content type.
pub const JSON_TYPE: &str = "application/json; charset=utf-8";

/// Contract 3: the 401 body, exactly.
pub const UNAUTHORIZED_BODY: &str = r#"{"error":"未授权","code":"UNAUTHORIZED"}"#;

/// A body as Go writes it: structs keep their field order; plain JSON values (maps)
/// come out with sorted keys, as serde_json and Go both sort map keys.
#[derive(Clone, Debug)]
pub enum Go {
    /// A value written as serde_json writes it.
    Json(Value),
    /// A struct: members in declaration order.
    Struct(Vec<(&'static str, Go)>),
}

impl From<Value> for Go {
    fn from(value: Value) -> Go {
        Go::Json(value)
    }
}

impl Go {
    /// Serialises like Go's `json.Marshal`, escaping HTML characters as it does.
    pub fn to_json(&self) -> String {
        let mut out = String::new();
        self.write(&mut out);
        out.replace('<', "\\u003c")
            .replace('>', "\\u003e")
            .replace('&', "\\u0026")
            .replace('\u{2028}', "\\u2028")
            .replace('\u{2029}', "\\u2029")
    }

    fn write(&self, out: &mut String) {
        match self {
            Go::Json(value) => out.push_str(&value.to_string()),
            Go::Struct(members) => {
                out.push('{');
                for (index, (name, member)) in members.iter().enumerate() {
                    if index > 0 {
                        out.push(',');
                    }
                    out.push_str(&Value::String((*name).to_owned()).to_string());
                    out.push(':');
                    member.write(out);
                }
                out.push('}');
            }
        }
    }
}

/// A JSON answer with gin's content type.
pub fn json(status: StatusCode, body: &Go) -> Response {
    (status, [(header::CONTENT_TYPE, JSON_TYPE)], body.to_json()).into_response()
}

/// Contract 2: `{"success": true, "data": …, "message": …}`.
pub fn success(data: impl Into<Go>, message: &str) -> Response {
    let body = Go::Struct(vec![
        ("success", Value::Bool(true).into()),
        ("data", data.into()),
        ("message", Value::String(message.to_owned()).into()),
    ]);
    json(StatusCode::OK, &body)
}

/// Contract 2: `{"error": …, "code": …, "details": …}`, `details` left out when `None`.
pub fn error(status: StatusCode, error: &str, code: &str, details: Option<Value>) -> Response {
    let mut members = vec![
        ("error", Value::String(error.to_owned()).into()),
        ("code", Value::String(code.to_owned()).into()),
    ];
    if let Some(details) = details {
        members.push(("details", details.into()));
    }
    json(status, &Go::Struct(members))
}

/// 400 `INVALID_REQUEST` with the binder's text.
pub fn invalid_request(details: String) -> Response {
    error(
        StatusCode::BAD_REQUEST,
        "请求参数错误",
        "INVALID_REQUEST",
        Some(Value::String(details)),
    )
}

/// 500 `PUBLISH_FAILED` with a step's text (contract 5.2).
pub fn publish_failed(details: String) -> Response {
    error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "发布失败",
        "PUBLISH_FAILED",
        Some(Value::String(details)),
    )
}

/// 500 `INTERNAL_ERROR` with `details: {}` (a recovered crash, contract 2).
pub fn internal_error() -> Response {
    error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "服务器内部错误",
        "INTERNAL_ERROR",
        Some(Value::Object(serde_json::Map::new())),
    )
}

/// Contract 3: 401 with `WWW-Authenticate: Bearer`.
pub fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [
            (header::CONTENT_TYPE, JSON_TYPE),
            (header::WWW_AUTHENTICATE, "Bearer"),
        ],
        UNAUTHORIZED_BODY,
    )
        .into_response()
}

/// gin's 404 for an unknown route or method.
pub fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/plain")],
        "404 page not found",
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn structs_keep_their_order_and_html_is_escaped() {
        let body = Go::Struct(vec![
            ("success", json!(true).into()),
            ("data", json!({"b": 1, "a": "<&>"}).into()),
            ("message", json!("发布成功").into()),
        ]);
        assert_eq!(
            body.to_json(),
            r#"{"success":true,"data":{"a":"\u003c\u0026\u003e","b":1},"message":"发布成功"}"#
        );
    }
}

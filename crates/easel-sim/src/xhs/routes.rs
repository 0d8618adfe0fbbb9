//! The router and the middleware of contract 2, 3 and 10.2: CORS on every answer
//! (`OPTIONS` → 204 before anything else), the bearer guard on registered `/api/v1/*`
//! and `/mcp` routes only, gin's trailing-slash redirects and its plain-text 404.

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, delete, get, post};
use serde_json::json;

use super::state::Shared;
use super::wire::{error, not_found, success, unauthorized};
use super::{login, profile, publish};
use crate::record::capture;

/// Largest request body accepted.
const BODY_LIMIT: usize = 64 * 1024 * 1024;

/// The `version` `/health` reports (contract 4.1).
const VERSION: &str = "v2026.07.26.1327-b8412a2";

/// Every registered `/api/v1` route, for gin's trailing-slash redirect. The ones the
/// simulator does not implement answer 500 `INTERNAL_ERROR`.
const API_ROUTES: &[(&str, &str)] = &[
    ("GET", "/api/v1/login/status"),
    ("GET", "/api/v1/login/qrcode"),
    ("DELETE", "/api/v1/login/cookies"),
    ("POST", "/api/v1/publish"),
    ("POST", "/api/v1/publish_video"),
    ("GET", "/api/v1/feeds/list"),
    ("GET", "/api/v1/feeds/search"),
    ("POST", "/api/v1/feeds/search"),
    ("POST", "/api/v1/feeds/detail"),
    ("POST", "/api/v1/user/profile"),
    ("POST", "/api/v1/feeds/comment"),
    ("POST", "/api/v1/feeds/comment/reply"),
    ("POST", "/api/v1/feeds/like"),
    ("POST", "/api/v1/feeds/favorite"),
    ("GET", "/api/v1/user/me"),
    ("GET", "/api/v1/notifications/unread"),
    ("GET", "/api/v1/notifications/list"),
    ("POST", "/api/v1/notifications/list"),
    ("POST", "/api/v1/notifications/reply"),
    ("POST", "/api/v1/notifications/like"),
];

/// Builds the app.
pub fn app(shared: Arc<Shared>) -> Router {
    let mut guarded: Router<Arc<Shared>> = Router::new()
        .route("/api/v1/login/status", get(login::status))
        .route("/api/v1/login/qrcode", get(login::qrcode))
        .route("/api/v1/login/cookies", delete(login::delete_cookies))
        .route("/api/v1/publish", post(publish::publish))
        .route("/api/v1/user/me", get(profile::me))
        .route("/mcp", any(not_simulated))
        .route("/mcp/{*path}", any(not_simulated));
    for (method, path) in API_ROUTES {
        let implemented = matches!(
            *path,
            "/api/v1/login/status"
                | "/api/v1/login/qrcode"
                | "/api/v1/login/cookies"
                | "/api/v1/publish"
                | "/api/v1/user/me"
        );
        if !implemented {
            let route = match *method {
                "GET" => get(not_simulated),
                _ => post(not_simulated),
            };
            guarded = guarded.route(path, route);
        }
    }
    let guarded = guarded.route_layer(middleware::from_fn_with_state(shared.clone(), auth));
    Router::new()
        .route("/health", get(health))
        .merge(guarded)
        .fallback(fallback)
        .method_not_allowed_fallback(fallback)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(middleware::from_fn(cors))
        .layer(middleware::from_fn_with_state(shared.clone(), record))
        .with_state(shared)
}

/// Middleware: keeps every request for [`XhsSim::requests`](super::XhsSim::requests).
async fn record(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    match capture(request, BODY_LIMIT).await {
        Ok((recorded, request)) => {
            shared.push_request(recorded);
            next.run(request).await
        }
        Err(too_large) => too_large,
    }
}

/// Middleware: the CORS headers on every answer; `OPTIONS` is answered 204 at once.
async fn cors(request: Request, next: Next) -> Response {
    let mut response = if request.method() == Method::OPTIONS {
        StatusCode::NO_CONTENT.into_response()
    } else {
        next.run(request).await
    };
    let headers = response.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, POST, PUT, DELETE, OPTIONS"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("Content-Type, Authorization"),
    );
    response
}

/// Middleware on guarded routes: `Authorization: Bearer <token>` when a token is set.
/// As in the service: the scheme in any case, spaces after it skipped, the rest
/// compared exactly.
async fn auth(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let Some(token) = shared.config(|c| c.token.clone()).filter(|t| !t.is_empty()) else {
        return next.run(request).await;
    };
    let value = request
        .headers()
        .get(header::AUTHORIZATION)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .unwrap_or_default();
    let accepted = value.split_once(' ').is_some_and(|(scheme, credentials)| {
        scheme.eq_ignore_ascii_case("bearer") && credentials.trim_start_matches(' ') == token
    });
    if accepted {
        next.run(request).await
    } else {
        unauthorized()
    }
}

/// `GET /health` (contract 4.1): open, keys in alphabetical order.
async fn health() -> Response {
    let data = json!({
        "account": "github.com/xpzouying/xiaohongshu-mcp",
        "service": "xiaohongshu-mcp",
        "status": "healthy",
        "timestamp": "now",
        "version": VERSION,
    });
    success(data, "服务正常")
}

/// A registered route the simulator does not implement.
async fn not_simulated(request: Request) -> Response {
    error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "服务器内部错误",
        "INTERNAL_ERROR",
        Some(json!(format!(
            "not simulated: {} {}",
            request.method(),
            request.uri().path()
        ))),
    )
}

/// gin's answers for unmatched requests: a path with a trailing slash whose bare form
/// is a route for this method is redirected (301 for GET, 307 otherwise); everything
/// else is `404 page not found`.
async fn fallback(request: Request) -> Response {
    let path = request.uri().path();
    let method = request.method().as_str();
    let bare = path.strip_suffix('/').filter(|p| !p.is_empty());
    let routed = bare.is_some_and(|bare| {
        API_ROUTES.iter().any(|(m, p)| *m == method && *p == bare)
            || (bare == "/health" && method == "GET")
    });
    let Some(bare) = bare.filter(|_| routed) else {
        return not_found();
    };
    let location = match request.uri().query() {
        Some(query) => format!("{bare}?{query}"),
        None => bare.to_owned(),
    };
    if request.method() == Method::GET {
        let body = format!("<a href=\"{location}\">Moved Permanently</a>.\n\n");
        (
            StatusCode::MOVED_PERMANENTLY,
            [
                (header::LOCATION, location),
                (header::CONTENT_TYPE, "text/html; charset=utf-8".to_owned()),
            ],
            body,
        )
            .into_response()
    } else {
        (
            StatusCode::TEMPORARY_REDIRECT,
            [(header::LOCATION, location)],
        )
            .into_response()
    }
}

//! The page itself (static: no data and no token in it, the data comes from the API), its
//! script and style, the sign-in form, and the security headers every gallery answer
//! carries.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};

use super::Gallery;
use super::query::pairs;
use super::session::{Sessions, same_origin};

const INDEX_HTML: &str = include_str!("assets/index.html");
const APP_JS: &str = include_str!("assets/app.js");
const APP_CSS: &str = include_str!("assets/app.css");

/// The policy of every gallery page: its own script and style only, nothing inline, no
/// framing, forms only to itself.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; media-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Adds the security headers to every gallery answer (a served file keeps its own, stricter
/// policy).
pub async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        );
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

fn text(body: &'static str, mime: &'static str) -> Response {
    let mut r = (StatusCode::OK, body).into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    // Assets change with easel's version; the browser asks again (cheap: they are small).
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

/// GET /: the page, or the sign-in form when a token is needed and there is no session.
pub async fn index(State(g): State<Arc<Gallery>>, headers: HeaderMap) -> Response {
    match g.sessions.caller(&headers) {
        Ok(_) => text(INDEX_HTML, "text/html; charset=utf-8"),
        Err(_) => Redirect::to("/gallery/login").into_response(),
    }
}

pub async fn app_js() -> Response {
    text(APP_JS, "text/javascript; charset=utf-8")
}

pub async fn app_css() -> Response {
    text(APP_CSS, "text/css; charset=utf-8")
}

/// The sign-in form, with a message when the last attempt failed. Static apart from the
/// message, which is one of ours (never what was typed). Its referrer policy is same-origin:
/// under the header's no-referrer, a browser posts the form with `Origin: null`, which the
/// Host/Origin guard refuses (found by the browser tests).
fn login_page(status: StatusCode, message: Option<&str>) -> Response {
    let note = message.map_or(String::new(), |m| {
        format!("<p class=\"error\" role=\"alert\">{m}</p>\n")
    });
    let body = format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<meta name=\"referrer\" content=\"same-origin\">\n<title>Sign in · easel gallery</title>\n<link rel=\"icon\" href=\"data:,\">\n<link rel=\"stylesheet\" href=\"/gallery/app.css\">\n</head>\n<body class=\"login\">\n<main>\n<h1>easel gallery</h1>\n{note}<form method=\"post\" action=\"/gallery/login\">\n<label for=\"token\">Token (EASEL_HTTP_TOKEN)</label>\n<input id=\"token\" name=\"token\" type=\"password\" autocomplete=\"current-password\" required>\n<button type=\"submit\">Sign in</button>\n</form>\n</main>\n</body>\n</html>\n"
    );
    let mut r = (status, body).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// GET /gallery/login
pub async fn login_form(State(g): State<Arc<Gallery>>) -> Response {
    if !g.sessions.token_required() {
        return Redirect::to("/").into_response();
    }
    login_page(StatusCode::OK, None)
}

/// Longest sign-in form accepted.
const MAX_LOGIN_BYTES: usize = 1024;

/// POST /gallery/login, form `token=…`: the session cookie and back to the page.
pub async fn login(
    State(g): State<Arc<Gallery>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    if !g.sessions.token_required() {
        return Redirect::to("/").into_response();
    }
    // A sign-in form posted by another site would sign the browser in to the attacker's
    // choice; only this origin's form counts. (No CSRF token exists before signing in.)
    if (headers.contains_key(header::ORIGIN) || headers.contains_key("sec-fetch-site"))
        && let Err(e) = same_origin(&headers)
    {
        return login_page(StatusCode::FORBIDDEN, Some(&html_escape(&e.message)));
    }
    // Read only up to the routes' body limit; past it, the sign-in page says so (not
    // axum's plain text).
    let Ok(body) = body else {
        return login_page(
            StatusCode::PAYLOAD_TOO_LARGE,
            Some("The sign-in form is too large: send one field, token, with the token alone."),
        );
    };
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"));
    if !form || body.len() > MAX_LOGIN_BYTES {
        return login_page(
            StatusCode::BAD_REQUEST,
            Some(
                "Send the sign-in form: Content-Type application/x-www-form-urlencoded with one field, token.",
            ),
        );
    }
    let token = std::str::from_utf8(&body)
        .ok()
        .and_then(|b| pairs(b, &["token"]).ok())
        .and_then(|p| p.into_iter().find(|(n, _)| n == "token").map(|(_, v)| v))
        .unwrap_or_default();
    if !g.sessions.is_token(token.trim()) {
        tracing::warn!("gallery sign-in with a wrong token");
        return login_page(
            StatusCode::UNAUTHORIZED,
            Some(
                "That is not this easel's token. Use the value of EASEL_HTTP_TOKEN (or token in the [http] section of the configuration file).",
            ),
        );
    }
    let Some(value) = g.sessions.issue() else {
        return Redirect::to("/").into_response();
    };
    let mut r = Redirect::to("/").into_response();
    if let Ok(cookie) = HeaderValue::from_str(&Sessions::set_cookie(&value, &headers)) {
        r.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    r
}

/// POST /gallery/logout: clears the cookie (from this origin only).
pub async fn logout(headers: HeaderMap) -> Response {
    if let Err(e) = same_origin(&headers) {
        return e.into_response();
    }
    let mut r = Redirect::to("/gallery/login").into_response();
    if let Ok(cookie) = HeaderValue::from_str(&Sessions::clear_cookie()) {
        r.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    r
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

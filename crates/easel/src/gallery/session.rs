//! Signing in to the gallery with the HTTP token, once per browser, and the checks every
//! state-changing request passes.
//!
//! The session cookie never holds the token: it is `v1.{expires_ms}.{nonce}.{mac}`, the MAC
//! an HMAC-SHA256 under a key derived from the token, so any easel with the same token (a
//! replica behind a load balancer, or this one after a restart) accepts it without shared
//! state, and a new token signs every browser out. The CSRF token is derived from the
//! session the same way: a page of another site can neither read it nor make it.

use std::time::Duration;

use axum::http::{HeaderMap, header};
use base64::Engine as _;
use base64::prelude::BASE64_URL_SAFE_NO_PAD;
use ring::hmac;
use secrecy::{ExposeSecret, SecretString};

use super::error::ApiError;
use crate::clock::now_ms;
use crate::config::constant_time_eq;

pub const COOKIE: &str = "easel_session";
pub const CSRF_HEADER: &str = "x-easel-csrf";
/// How long a sign-in lasts.
pub const SESSION_TTL: Duration = Duration::from_secs(30 * 24 * 3600);
/// Longest cookie value looked at.
const MAX_COOKIE_CHARS: usize = 200;

/// Who a request is, as far as the gallery cares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Caller {
    /// No token is configured (loopback only): everyone on this machine may look.
    Open,
    /// Signed in with the session cookie `nonce`.
    Session(String),
    /// `Authorization: Bearer` with the token (scripts and tests): not a browser's ambient
    /// credential, so no CSRF check is needed.
    Bearer,
}

/// Why a request is not signed in.
#[derive(Debug, PartialEq, Eq)]
pub enum NotSignedIn {
    Missing,
    /// The cookie is not one this token signed, or was changed.
    Forged,
    Expired,
    WrongBearer,
}

impl NotSignedIn {
    pub fn message(&self) -> &'static str {
        match self {
            NotSignedIn::Missing => {
                "Not signed in: this easel has an HTTP token. Sign in at /gallery/login with the token configured as EASEL_HTTP_TOKEN, or send Authorization: Bearer <token>."
            }
            NotSignedIn::Forged => {
                "Not signed in: the session cookie is not one this easel issued (changed, or signed with another token). Sign in again at /gallery/login."
            }
            NotSignedIn::Expired => {
                "Not signed in: the session expired. Sign in again at /gallery/login."
            }
            NotSignedIn::WrongBearer => {
                "Not signed in: the bearer token is wrong. Use the token configured as EASEL_HTTP_TOKEN."
            }
        }
    }
}

/// Signs and checks sessions; holds the token only as keys derived from it.
pub struct Sessions {
    /// `None`: no token configured.
    session_key: Option<hmac::Key>,
    /// Derives CSRF tokens (from the token, or a random key per process when there is none).
    csrf_key: hmac::Key,
    /// The token itself, for the constant-time comparisons at sign-in and of bearer headers.
    token: Option<SecretString>,
}

fn derive(token: &str, purpose: &str) -> hmac::Key {
    let root = hmac::Key::new(hmac::HMAC_SHA256, token.as_bytes());
    hmac::Key::new(
        hmac::HMAC_SHA256,
        hmac::sign(&root, purpose.as_bytes()).as_ref(),
    )
}

impl Sessions {
    pub fn new(token: Option<SecretString>) -> Sessions {
        let (session_key, csrf_key) = match &token {
            Some(t) => (
                Some(derive(t.expose_secret(), "easel gallery session v1")),
                derive(t.expose_secret(), "easel gallery csrf v1"),
            ),
            None => {
                let random = uuid::Uuid::new_v4().simple().to_string()
                    + &uuid::Uuid::new_v4().simple().to_string();
                (None, derive(&random, "easel gallery csrf v1"))
            }
        };
        Sessions {
            session_key,
            csrf_key,
            token,
        }
    }

    pub fn token_required(&self) -> bool {
        self.token.is_some()
    }

    /// Whether `given` is the token (constant time).
    pub fn is_token(&self, given: &str) -> bool {
        self.token
            .as_ref()
            .is_some_and(|t| constant_time_eq(given.as_bytes(), t.expose_secret().as_bytes()))
    }

    /// A new signed session value, valid for [`SESSION_TTL`].
    pub fn issue(&self) -> Option<String> {
        let key = self.session_key.as_ref()?;
        let expires = now_ms() + SESSION_TTL.as_millis() as u64;
        let nonce = uuid::Uuid::new_v4().simple().to_string();
        let body = format!("v1.{expires}.{nonce}");
        let mac = BASE64_URL_SAFE_NO_PAD.encode(hmac::sign(key, body.as_bytes()).as_ref());
        Some(format!("{body}.{mac}"))
    }

    /// The nonce of a valid session value.
    fn verify(&self, value: &str) -> Result<String, NotSignedIn> {
        let key = self.session_key.as_ref().ok_or(NotSignedIn::Forged)?;
        if value.len() > MAX_COOKIE_CHARS {
            return Err(NotSignedIn::Forged);
        }
        let (body, mac) = value.rsplit_once('.').ok_or(NotSignedIn::Forged)?;
        let mac = BASE64_URL_SAFE_NO_PAD
            .decode(mac)
            .map_err(|_| NotSignedIn::Forged)?;
        hmac::verify(key, body.as_bytes(), &mac).map_err(|_| NotSignedIn::Forged)?;
        let mut parts = body.split('.');
        let (Some("v1"), Some(expires), Some(nonce), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(NotSignedIn::Forged);
        };
        let expires: u64 = expires.parse().map_err(|_| NotSignedIn::Forged)?;
        if expires <= now_ms() {
            return Err(NotSignedIn::Expired);
        }
        Ok(nonce.to_string())
    }

    /// Who sent these headers: the bearer header first, then the session cookie.
    pub fn caller(&self, headers: &HeaderMap) -> Result<Caller, NotSignedIn> {
        if self.token.is_none() {
            return Ok(Caller::Open);
        }
        if let Some(auth) = headers.get(header::AUTHORIZATION) {
            let text = auth.to_str().unwrap_or("");
            let given = text
                .split_once(' ')
                .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
                .map(|(_, t)| t.trim())
                .unwrap_or("");
            return if self.is_token(given) {
                Ok(Caller::Bearer)
            } else {
                Err(NotSignedIn::WrongBearer)
            };
        }
        let value = cookie(headers, COOKIE).ok_or(NotSignedIn::Missing)?;
        self.verify(&value).map(Caller::Session)
    }

    /// The CSRF token of a caller: the page sends it back in [`CSRF_HEADER`].
    pub fn csrf(&self, caller: &Caller) -> String {
        let subject = match caller {
            Caller::Session(nonce) => format!("session:{nonce}"),
            Caller::Open | Caller::Bearer => "open".to_string(),
        };
        BASE64_URL_SAFE_NO_PAD.encode(hmac::sign(&self.csrf_key, subject.as_bytes()).as_ref())
    }

    /// The checks of a state-changing request from a browser: a same-origin request
    /// (`Origin` matching `Host`, or `Sec-Fetch-Site: same-origin`) carrying the CSRF token
    /// of its session. Bearer callers are not browsers riding on a cookie: no check.
    pub fn check_post(&self, caller: &Caller, headers: &HeaderMap) -> Result<(), ApiError> {
        if *caller == Caller::Bearer {
            return Ok(());
        }
        same_origin(headers)?;
        let given = headers
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| {
                ApiError::forbidden(
                    "X-Easel-CSRF: the header is missing. Send the csrf value from GET /gallery/api/session in the X-Easel-CSRF header.",
                )
            })?;
        if !constant_time_eq(given.as_bytes(), self.csrf(caller).as_bytes()) {
            return Err(ApiError::forbidden(
                "X-Easel-CSRF: the value is not this session's. Read it again from GET /gallery/api/session (it changes when you sign in again).",
            ));
        }
        Ok(())
    }

    /// The `Set-Cookie` value that signs a browser in with `value`; `Secure` when the
    /// browser came over HTTPS (a TLS proxy in front says so in `X-Forwarded-Proto`; on
    /// plain loopback HTTP a `Secure` cookie would never be sent back).
    pub fn set_cookie(value: &str, headers: &HeaderMap) -> String {
        let https = headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|p| p.trim().eq_ignore_ascii_case("https"));
        format!(
            "{COOKIE}={value}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{}",
            SESSION_TTL.as_secs(),
            if https { "; Secure" } else { "" }
        )
    }

    /// The `Set-Cookie` value that signs a browser out.
    pub fn clear_cookie() -> String {
        format!("{COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0")
    }
}

/// The request came from a page of this same origin.
pub fn same_origin(headers: &HeaderMap) -> Result<(), ApiError> {
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("");
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        let authority = origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"));
        return match authority {
            Some(a) if !host.is_empty() && a.eq_ignore_ascii_case(host) => Ok(()),
            _ => Err(ApiError::forbidden(format!(
                "Origin: {origin:?} is not this gallery's origin. State-changing requests are accepted only from the gallery's own pages."
            ))),
        };
    }
    match headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        Some("same-origin") => Ok(()),
        Some(other) => Err(ApiError::forbidden(format!(
            "Sec-Fetch-Site: {other:?} is not same-origin. State-changing requests are accepted only from the gallery's own pages."
        ))),
        None => Err(ApiError::forbidden(
            "Origin: the header is missing. Browsers send it; scripts should use Authorization: Bearer instead of the session cookie.",
        )),
    }
}

/// The value of cookie `name` (the first one), if any.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with_cookie(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("a=b; {COOKIE}={value}")).expect("ascii"),
        );
        h
    }

    #[test]
    fn a_session_signed_with_the_token_is_accepted_elsewhere_and_tampering_is_not() {
        let token = || Some(SecretString::from("0123456789abcdef-token".to_string()));
        let one = Sessions::new(token());
        let value = one.issue().expect("issued");
        assert!(
            !value.contains("0123456789abcdef"),
            "the token is never in the cookie"
        );
        // Another replica with the same token accepts it.
        let other = Sessions::new(token());
        assert!(matches!(
            other.caller(&with_cookie(&value)),
            Ok(Caller::Session(_))
        ));
        let mut tampered = value.clone();
        tampered.replace_range(3..4, if &value[3..4] == "9" { "8" } else { "9" });
        assert_eq!(
            one.caller(&with_cookie(&tampered)),
            Err(NotSignedIn::Forged)
        );
        let foreign = Sessions::new(Some(SecretString::from(
            "another-token-0000000".to_string(),
        )));
        assert_eq!(
            foreign.caller(&with_cookie(&value)),
            Err(NotSignedIn::Forged)
        );
        assert_eq!(one.caller(&HeaderMap::new()), Err(NotSignedIn::Missing));
    }

    #[test]
    fn an_expired_session_is_refused_as_expired() {
        let s = Sessions::new(Some(SecretString::from(
            "0123456789abcdef-token".to_string(),
        )));
        let Some(key) = &s.session_key else {
            panic!("key")
        };
        let body = "v1.1000.nonce";
        let mac = BASE64_URL_SAFE_NO_PAD.encode(hmac::sign(key, body.as_bytes()).as_ref());
        assert_eq!(
            s.caller(&with_cookie(&format!("{body}.{mac}"))),
            Err(NotSignedIn::Expired)
        );
    }

    #[test]
    fn posts_need_the_same_origin_and_the_sessions_csrf() {
        let s = Sessions::new(None);
        let caller = Caller::Open;
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8765"));
        assert!(s.check_post(&caller, &h).is_err(), "no origin");
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://evil.example"),
        );
        assert!(s.check_post(&caller, &h).is_err(), "foreign origin");
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://127.0.0.1:8765"),
        );
        let e = s.check_post(&caller, &h).expect_err("no csrf");
        assert!(e.message.starts_with("X-Easel-CSRF"), "{}", e.message);
        h.insert(
            CSRF_HEADER,
            HeaderValue::from_str(&s.csrf(&caller)).expect("ascii"),
        );
        assert!(s.check_post(&caller, &h).is_ok());
    }
}

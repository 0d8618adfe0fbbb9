//! HTTP plumbing shared by backends and publishers: clients sharing one TLS configuration,
//! retries of transient answers with backoff and jitter (honouring `Retry-After`), and image downloads that never send
//! credentials.

use std::sync::OnceLock;
use std::time::Duration;

use bytes::Bytes;
use rand::Rng;
use reqwest::{RequestBuilder, Response, StatusCode};

use super::{BackendError, ErrorKind, Fetched};

/// Largest image easel downloads; anything bigger is not an image a backend made.
pub const MAX_IMAGE_BYTES: usize = 64 * 1024 * 1024;

/// Largest JSON answer easel reads from a backend or publisher (task states, queues,
/// uploads, notes): a thousand times any real one. Answers that carry images (OpenAI's
/// base64) and ComfyUI's node catalogue have their own, larger bounds.
pub const MAX_ANSWER_BYTES: usize = 8 * 1024 * 1024;

/// Most redirects an image download follows.
const MAX_REDIRECTS: usize = 5;

/// Largest video (MP4, WebM, known by its first bytes) easel downloads: minutes of 1080p
/// H.264, far beyond the seconds-long clips video workflows (Wan, LTX, Hunyuan) make, and
/// a bound on what one download holds in memory.
pub const MAX_VIDEO_BYTES: usize = 256 * 1024 * 1024;

/// Bytes enough to tell a video container from an image.
const SNIFF_BYTES: usize = 4096;

/// Longest wait for a TCP (and TLS) connection to be set up, whatever the request's time-out.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A client whose requests time out after `timeout` (from connecting to the end of the body).
/// Never sets an `Origin` header.
///
/// Each backend builds its own client (a client's connection pool belongs to the tokio
/// runtime it first ran on), but all of them share one TLS configuration: loading the
/// system's root certificates takes ~3.5 ms and was most of easel's cold start when every
/// client did it.
pub fn client(timeout: Duration) -> Result<reqwest::Client, BackendError> {
    let fail = |e: String| {
        BackendError::new(
            ErrorKind::Unreachable,
            format!("cannot build an HTTP client: {e}"),
        )
    };
    let tls = tls_config().map_err(fail)?;
    reqwest::Client::builder()
        .user_agent(concat!("easel/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(CONNECT_TIMEOUT.min(timeout))
        .timeout(timeout)
        .redirect(redirects())
        .tls_backend_preconfigured(tls)
        .build()
        .map_err(|e| fail(e.to_string()))
}

/// At most [`MAX_REDIRECTS`] redirects, and only to http(s). reqwest drops credentials
/// (`Authorization`, cookies) when a redirect changes host or port, and easel never sends
/// them on image downloads at all. Private and loopback targets stay allowed: a self-hosted
/// ComfyUI or gateway on the LAN is the common case, and the URLs come from the backend the
/// user configured, not from the caller.
fn redirects() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        // `previous` holds the first URL and every hop so far.
        if attempt.previous().len() > MAX_REDIRECTS {
            attempt.error(format!("more than {MAX_REDIRECTS} redirects"))
        } else if !matches!(attempt.url().scheme(), "http" | "https") {
            let scheme = attempt.url().scheme().to_owned();
            attempt.error(format!(
                "a redirect to a {scheme}: URL, which easel never follows"
            ))
        } else {
            attempt.follow()
        }
    })
}

/// The TLS configuration every client uses, built on first use: the platform's certificate
/// verifier (system roots, as reqwest would set up itself) and ALPN for HTTP/2 and 1.1.
pub(crate) fn tls_config() -> Result<rustls::ClientConfig, String> {
    static TLS: OnceLock<Result<rustls::ClientConfig, String>> = OnceLock::new();
    TLS.get_or_init(|| {
        let provider = rustls::crypto::CryptoProvider::get_default()
            .cloned()
            .unwrap_or_else(|| std::sync::Arc::new(rustls::crypto::ring::default_provider()));
        let verifier = rustls_platform_verifier::Verifier::new(provider.clone())
            .map_err(|e| format!("cannot load the system's root certificates: {e}"))?;
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            // "dangerous" only names the API for custom verifiers; this one is the platform's
            // full verification, as reqwest installs by itself.
            .dangerous()
            .with_custom_certificate_verifier(std::sync::Arc::new(verifier))
            .with_no_client_auth();
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(config)
    })
    .clone()
}

/// How often and how patiently transient failures are retried.
#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    pub max_retries: u32,
    pub base: Duration,
    /// Retry errors that happen after the request may have reached the server (time-outs).
    /// Off for submissions, which must never be doubled.
    pub retry_ambiguous: bool,
}

/// Whether an answer is worth retrying: rate limits and server errors.
pub fn is_transient(status: StatusCode) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error()
}

/// Sends the request built by `build`, retrying transient answers and connection failures.
/// Returns the last answer (which may still be a 429/5xx once retries are spent) or the last
/// transport error.
pub async fn send_retrying(
    policy: RetryPolicy,
    build: impl Fn() -> RequestBuilder,
) -> Result<Response, reqwest::Error> {
    let mut attempt = 0;
    loop {
        let result = build().send().await;
        let wait = match &result {
            Ok(resp) if is_transient(resp.status()) => retry_after(resp),
            Ok(_) => return result,
            Err(e) if e.is_connect() || (policy.retry_ambiguous && e.is_timeout()) => None,
            Err(_) => return result,
        };
        if attempt >= policy.max_retries {
            return result;
        }
        let delay = wait.unwrap_or_else(|| backoff(policy.base, attempt));
        tracing::debug!(attempt, ?delay, "transient answer; retrying");
        tokio::time::sleep(delay).await;
        attempt += 1;
    }
}

/// Exponential backoff with full jitter in [50 %, 100 %] of the step.
fn backoff(base: Duration, attempt: u32) -> Duration {
    let step = base.saturating_mul(1u32 << attempt.min(10));
    let factor = rand::rng().random_range(0.5..=1.0);
    step.mul_f64(factor).min(Duration::from_secs(60))
}

/// `Retry-After` in seconds (the HTTP-date form is rare on APIs and ignored), capped.
fn retry_after(resp: &Response) -> Option<Duration> {
    let secs = resp
        .headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()?;
    Some(Duration::from_secs(secs.min(120)))
}

/// Downloads an image URL exactly as given, with only the headers given (never the
/// credentials of another host), refusing non-200 answers
/// and bodies over [`MAX_IMAGE_BYTES`]. A body that breaks off is an error, so no partial
/// image ever reaches the disk.
pub async fn download(
    client: &reqwest::Client,
    headers: &reqwest::header::HeaderMap,
    policy: RetryPolicy,
    url: &str,
    what: &str,
) -> Result<Fetched, BackendError> {
    let fail = |msg: String| BackendError::new(ErrorKind::Download, msg);
    let resp = send_retrying(policy, || client.get(url).headers(headers.clone()))
        .await
        .map_err(|e| {
            fail(format!(
                "could not download {what} from {url}: {}; nothing was saved",
                transport_reason(&e)
            ))
        })?;
    let status = resp.status();
    if status.is_redirection() {
        // reqwest hands back a redirect it will not follow (another scheme) as the answer.
        let scheme = resp
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|l| l.split_once(':'))
            .map_or("an unreadable", |(scheme, _)| scheme);
        return Err(fail(format!(
            "downloading {what} from {url} answered HTTP {status}, a redirect to a {scheme}: URL, which easel never follows"
        )));
    }
    if status != StatusCode::OK {
        let hint = if status == StatusCode::NOT_FOUND || status == StatusCode::FORBIDDEN {
            " (result URLs expire; generate again if this persists)"
        } else {
            ""
        };
        return Err(fail(format!(
            "downloading {what} from {url} answered HTTP {status}{hint}"
        )));
    }
    let content_type = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let bytes = read_sniffed(resp, MAX_VIDEO_BYTES, body_limit).await.map_err(|e| {
        fail(match e {
            BodyError::TooLarge { limit } => format!(
                "{what} at {url} is larger than {} MiB (the limit for {}); refusing to download it",
                limit >> 20,
                if limit == MAX_VIDEO_BYTES { "videos" } else { "images; videos may have 256 MiB" }
            ),
            BodyError::Broken(e) => {
                format!("the download of {what} from {url} broke off: {e}; nothing was saved")
            }
        })
    })?;
    Ok(Fetched {
        bytes,
        content_type,
    })
}

/// Why an answer's body could not be read.
#[derive(Debug)]
pub enum BodyError {
    /// Longer than `limit` bytes: reading stopped there (or before, by `Content-Length`).
    TooLarge { limit: usize },
    /// The connection broke off; the reason.
    Broken(String),
}

impl BodyError {
    /// The error for a JSON answer from `service` to `what`, worded for the agent.
    pub fn answer_error(&self, service: &str, what: &str) -> BackendError {
        match self {
            Self::TooLarge { limit } => BackendError::new(
                ErrorKind::Protocol,
                format!(
                    "{service}'s answer to {what} is larger than {} MiB, far beyond any real answer; easel stopped reading it. The service (or a proxy in front of it) is misbehaving: check its URL and retry later.",
                    limit >> 20
                ),
            ),
            Self::Broken(reason) => BackendError::new(
                ErrorKind::Unreachable,
                format!("{service}'s answer to {what} broke off: {reason}"),
            ),
        }
    }
}

/// The whole body, refused as soon as it is known to exceed `limit` bytes (by its
/// `Content-Length`, or while reading), so a hostile answer costs at most `limit` bytes.
pub async fn read_limited(resp: Response, limit: usize) -> Result<Bytes, BodyError> {
    read_sniffed(resp, limit, |_| limit).await
}

/// Like [`read_limited`], with the limit decided by `limit_for` from the first bytes (a
/// video may be larger than an image; the type comes from the bytes, never from a name or
/// header) and never above `most`.
pub async fn read_sniffed(
    mut resp: Response,
    most: usize,
    limit_for: impl Fn(&[u8]) -> usize,
) -> Result<Bytes, BodyError> {
    if resp.content_length().is_some_and(|n| n > most as u64) {
        return Err(BodyError::TooLarge { limit: most });
    }
    let mut buf = Vec::with_capacity(resp.content_length().unwrap_or(0).min(1 << 24) as usize);
    let mut limit = None;
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| BodyError::Broken(transport_reason(&e)))?
    {
        buf.extend_from_slice(&chunk);
        if limit.is_none() && buf.len() >= SNIFF_BYTES {
            limit = Some(limit_for(&buf).min(most));
        }
        let max = limit.unwrap_or_else(|| limit_for(&[]).min(most));
        if buf.len() > max {
            return Err(BodyError::TooLarge { limit: max });
        }
    }
    let max = limit_for(&buf).min(most);
    if buf.len() > max {
        return Err(BodyError::TooLarge { limit: max });
    }
    Ok(Bytes::from(buf))
}

/// How large a body starting with `head` may be.
fn body_limit(head: &[u8]) -> usize {
    if crate::outputs::VideoKind::sniff(head).is_some() {
        MAX_VIDEO_BYTES
    } else {
        MAX_IMAGE_BYTES
    }
}

/// A short reason for a transport error, without the URL query (which could carry tokens on
/// some services) and with its causes.
pub fn transport_reason(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else if e.is_body() || e.is_decode() {
        "connection lost while reading the answer"
    } else if e.is_request() {
        "the connection broke off"
    } else {
        "request failed"
    };
    let mut source = std::error::Error::source(e);
    let mut detail = Vec::new();
    while let Some(s) = source {
        detail.push(s.to_string());
        source = s.source();
    }
    if detail.is_empty() {
        kind.to_string()
    } else {
        format!("{kind} ({})", detail.join(": "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::extract::Path;
    use axum::http::{StatusCode as Code, header};
    use axum::response::IntoResponse;
    use axum::routing::get;
    use reqwest::header::HeaderMap;

    /// A loopback server: `/hop/{n}` redirects n more times then serves a PNG; `/file` and
    /// `/ftp` redirect to other schemes.
    async fn redirector() -> String {
        let png = easel_sim::picture::png(4, 4, "r");
        let app = axum::Router::new()
            .route(
                "/hop/{n}",
                get(move |Path(n): Path<u32>| {
                    let png = png.clone();
                    async move {
                        if n == 0 {
                            ([(header::CONTENT_TYPE, "image/png")], png).into_response()
                        } else {
                            let to = format!("/hop/{}", n - 1);
                            (Code::FOUND, [(header::LOCATION, to)]).into_response()
                        }
                    }
                }),
            )
            .route(
                "/file",
                get(|| async { (Code::FOUND, [(header::LOCATION, "file:///etc/passwd")]) }),
            )
            .route(
                "/ftp",
                get(|| async { (Code::FOUND, [(header::LOCATION, "ftp://127.0.0.1/x.png")]) }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{addr}")
    }

    #[tokio::test]
    async fn redirects_are_bounded_and_http_only() {
        crate::logging::install_tls_provider();
        let base = redirector().await;
        let client = client(Duration::from_secs(10)).expect("client");
        let policy = RetryPolicy {
            max_retries: 0,
            base: Duration::from_millis(1),
            retry_ambiguous: false,
        };
        let get = |path: &str| {
            let url = format!("{base}{path}");
            let client = client.clone();
            async move { download(&client, &HeaderMap::new(), policy, &url, "image").await }
        };
        let fetched = get("/hop/5").await.expect("five redirects are followed");
        assert!(fetched.bytes.starts_with(b"\x89PNG"));
        let err = get("/hop/6").await.expect_err("six are too many");
        assert!(err.message.contains("more than 5 redirects"), "{err}");
        for path in ["/file", "/ftp"] {
            let err = get(path).await.expect_err(path);
            assert!(err.message.contains("never follows"), "{path}: {err}");
        }
    }
}

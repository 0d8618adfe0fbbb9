//! URL images (contract 5.2 step 2): really downloaded, as the service does, so tests
//! can serve images from another fake. A browser-like `User-Agent`, `Referer` set to the
//! image's origin, redirects followed, 30 s overall, and the answer must be 200 with
//! bytes that sniff as an image. Errors carry the service's (Go's) texts.
//!
//! Only `http://` is fetched: the simulator carries no TLS, so an `https://` URL fails
//! like an unreachable host.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Empty};
use hyper::Uri;
use hyper::header::{HOST, LOCATION, REFERER, USER_AGENT};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// The service's `User-Agent` for downloads.
const BROWSER_UA: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";

/// Go's `http.Client.Timeout` in the service.
const TIMEOUT: Duration = Duration::from_secs(30);

/// Go's client gives up after 10 redirects.
const MAX_REDIRECTS: usize = 10;

/// Whether an `images` entry is a URL (`http://`/`https://`, any case).
pub fn is_url(image: &str) -> bool {
    let lower = image.to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
}

/// Downloads `url`; the error is the text after `下载图片失败 <url>: `.
pub async fn download(url: &str) -> Result<Bytes, String> {
    let uri: Uri = match url.parse::<Uri>() {
        Ok(uri) if uri.host().is_some_and(|h| !h.is_empty()) => uri,
        _ => return Err("invalid image URL format".to_owned()),
    };
    let fetched = tokio::time::timeout(TIMEOUT, follow(uri, url)).await;
    let (status, body) = match fetched {
        Ok(result) => result.map_err(|e| format!("failed to download image from {url}: {e}"))?,
        Err(_) => {
            return Err(format!(
                "failed to download image from {url}: Get \"{url}\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
            ));
        }
    };
    if status != 200 {
        return Err(format!(
            "download failed with status {status} for URL: {url}"
        ));
    }
    if sniff(&body).is_none() {
        return Err("downloaded file is not a valid image".to_owned());
    }
    Ok(body)
}

/// GETs `uri`, following redirects; the error is Go's `*url.Error` text.
async fn follow(mut uri: Uri, original: &str) -> Result<(u16, Bytes), String> {
    for _ in 0..=MAX_REDIRECTS {
        let (status, location, body) =
            get(&uri).await.map_err(|e| format!("Get \"{uri}\": {e}"))?;
        let redirect = matches!(status, 301 | 302 | 303 | 307 | 308);
        match location.filter(|_| redirect) {
            Some(location) => {
                uri = resolve(&uri, &location).ok_or_else(|| {
                    format!("Get \"{uri}\": failed to parse Location header \"{location}\"")
                })?
            }
            None => return Ok((status, body)),
        }
    }
    Err(format!("Get \"{original}\": stopped after 10 redirects"))
}

/// A `Location` relative to `base`.
fn resolve(base: &Uri, location: &str) -> Option<Uri> {
    if is_url(location) {
        return location.parse().ok();
    }
    let authority = base.authority()?;
    let scheme = base.scheme_str().unwrap_or("http");
    let path = if location.starts_with('/') {
        location.to_owned()
    } else {
        let dir = base.path().rsplit_once('/').map_or("", |(dir, _)| dir);
        format!("{dir}/{location}")
    };
    format!("{scheme}://{authority}{path}").parse().ok()
}

/// One HTTP/1.1 GET: status, `Location`, body.
async fn get(uri: &Uri) -> Result<(u16, Option<String>, Bytes), String> {
    if uri.scheme_str() != Some("http") {
        return Err(format!(
            "unsupported protocol scheme \"{}\" (the simulator fetches http:// only)",
            uri.scheme_str().unwrap_or_default()
        ));
    }
    let host = uri.host().unwrap_or_default();
    let port = uri.port_u16().unwrap_or(80);
    let target = format!("{host}:{port}");
    let stream = TcpStream::connect((host.trim_matches(['[', ']']), port))
        .await
        .map_err(|e| dial_error(&target, &e))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::debug!(%error, "image download connection ended");
        }
    });
    let authority = uri.authority().map_or(host, |a| a.as_str());
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let request = hyper::Request::get(path)
        .header(HOST, authority)
        .header(USER_AGENT, BROWSER_UA)
        .header(REFERER, format!("http://{authority}/"))
        .body(Empty::<Bytes>::new())
        .map_err(|e| e.to_string())?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let location = response
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    Ok((status, location, body))
}

/// Go's `net.OpError` text for a failed dial.
fn dial_error(target: &str, error: &std::io::Error) -> String {
    match error.kind() {
        std::io::ErrorKind::ConnectionRefused => {
            format!("dial tcp {target}: connect: connection refused")
        }
        _ => format!("dial tcp {target}: {error}"),
    }
}

/// The image type `bytes` sniff as, like `filetype.IsImage` (magic numbers only).
pub fn sniff(bytes: &[u8]) -> Option<&'static str> {
    let starts = |magic: &[u8]| bytes.starts_with(magic);
    if starts(&[0xff, 0xd8, 0xff]) {
        Some("jpeg")
    } else if starts(&[0x89, b'P', b'N', b'G']) {
        Some("png")
    } else if starts(b"GIF8") {
        Some("gif")
    } else if bytes.len() >= 12 && starts(b"RIFF") && &bytes[8..12] == b"WEBP" {
        Some("webp")
    } else if starts(b"BM") {
        Some("bmp")
    } else if starts(b"II*\0") || starts(b"MM\0*") {
        Some("tiff")
    } else if starts(&[0, 0, 1, 0]) {
        Some("ico")
    } else if starts(b"8BPS") {
        Some("psd")
    } else if bytes.len() >= 12 && &bytes[4..8] == b"ftyp" {
        match &bytes[8..12] {
            b"heic" | b"heix" | b"mif1" | b"msf1" => Some("heif"),
            b"avif" | b"avis" => Some("avif"),
            _ => None,
        }
    } else if starts(&[0xff, 0x0a]) || starts(&[0, 0, 0, 0x0c, b'J', b'X', b'L', b' ']) {
        Some("jxl")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_common_images_only() {
        assert_eq!(sniff(&crate::picture::png(2, 2, "x")), Some("png"));
        assert_eq!(sniff(&crate::picture::jpeg(2, 2, "x")), Some("jpeg"));
        assert_eq!(sniff(b"<html></html>"), None);
        assert_eq!(sniff(b""), None);
    }

    #[test]
    fn urls_are_recognised_in_any_case() {
        assert!(is_url("HTTPS://example.com/a.png"));
        assert!(!is_url("/data/a.png"));
        assert!(!is_url("file:///data/a.png"));
    }
}

//! A request's source images as bytes, for backends that send them (ComfyUI uploads them,
//! OpenAI-compatible edits post them): a local file checked when the request was made and
//! read again here, or a URL downloaded without credentials. Either way the bytes must be an
//! image, and a refusal describes them without quoting them: a caller could otherwise name
//! a private URL or file and read its answer back.

use reqwest::header::HeaderMap;

use super::http::{self, RetryPolicy};
use super::{BackendError, ErrorKind};
use crate::outputs::{ImageInfo, inspect_named, read_source_image};
use crate::request::Source;

/// The bytes and type of `source`.
pub async fn load(
    client: &reqwest::Client,
    policy: RetryPolicy,
    source: &Source,
) -> Result<(Vec<u8>, ImageInfo), BackendError> {
    let refused = |why: String| {
        BackendError::new(
            ErrorKind::Rejected,
            format!("source {:?} {why}", source.label),
        )
    };
    match (&source.path, &source.url) {
        (Some(path), _) => {
            let path = path.clone();
            tokio::task::spawn_blocking(move || read_source_image(&path))
                .await
                .map_err(|e| refused(format!("could not be read ({e})")))?
                .map_err(refused)
        }
        (None, Some(url)) => {
            let fetched =
                http::download(client, &HeaderMap::new(), policy, url, "source image").await?;
            let bytes = fetched.bytes.to_vec();
            let info =
                inspect_named(&bytes).map_err(|why| refused(format!("(downloaded) {why}")))?;
            Ok((bytes, info))
        }
        (None, None) => Err(refused("has neither a file nor a URL".into())),
    }
}

//! Making the answer's pictures: real images of the requested size and format
//! (contract 9.4), encoded off the async threads.

use bytes::Bytes;

use crate::picture;

/// An output file format (`output_format`, contract 2.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Png,
    Jpeg,
    Webp,
}

/// The `output_format` values, in OpenAI's order.
pub const FORMATS: &[&str] = &["png", "jpeg", "webp"];

impl Format {
    /// The format named `name` (one of [`FORMATS`]).
    pub fn named(name: &str) -> Option<Format> {
        match name {
            "png" => Some(Format::Png),
            "jpeg" => Some(Format::Jpeg),
            "webp" => Some(Format::Webp),
            _ => None,
        }
    }

    /// Its `output_format` name.
    pub fn name(self) -> &'static str {
        match self {
            Format::Png => "png",
            Format::Jpeg => "jpeg",
            Format::Webp => "webp",
        }
    }

    /// Its media type.
    pub fn mime(self) -> &'static str {
        match self {
            Format::Png => "image/png",
            Format::Jpeg => "image/jpeg",
            Format::Webp => "image/webp",
        }
    }
}

/// One picture to make.
#[derive(Clone, Debug)]
pub struct Spec {
    pub width: u32,
    pub height: u32,
    /// Passed to [`crate::picture`]: the same key gives the same picture.
    pub key: String,
    pub format: Format,
}

/// Encodes every picture on the blocking pool, so big images do not stall other
/// requests.
pub async fn encode(specs: Vec<Spec>) -> Result<Vec<Bytes>, tokio::task::JoinError> {
    tokio::task::spawn_blocking(move || {
        specs
            .iter()
            .map(|spec| {
                let bytes = match spec.format {
                    Format::Png => picture::png(spec.width, spec.height, &spec.key),
                    Format::Jpeg => picture::jpeg(spec.width, spec.height, &spec.key),
                    Format::Webp => picture::webp(spec.width, spec.height, &spec.key),
                };
                Bytes::from(bytes)
            })
            .collect()
    })
    .await
}

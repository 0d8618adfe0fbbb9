//! Multipart forms (contract 3.1): reading them, and describing them for the request log
//! so tests can assert part names, file names and content types.

use std::io::Cursor;

use axum::http::{HeaderMap, header};
use bytes::Bytes;
use serde_json::{Map, Value, json};

/// One part of a form. A part with a file name is a file; one without is a text field.
#[derive(Clone, Debug)]
pub struct Part {
    pub name: String,
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub data: Bytes,
}

impl Part {
    pub fn is_file(&self) -> bool {
        self.filename.is_some()
    }
}

/// A parsed form, parts in arrival order.
#[derive(Clone, Debug, Default)]
pub struct Form {
    pub parts: Vec<Part>,
}

/// Whether `headers` announce a multipart body.
pub fn is_multipart(headers: &HeaderMap) -> bool {
    content_type(headers).is_some_and(|ct| {
        ct.trim_start()
            .to_ascii_lowercase()
            .starts_with("multipart/form-data")
    })
}

fn content_type(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
}

/// Parses a whole `multipart/form-data` body.
pub async fn parse(headers: &HeaderMap, body: Bytes) -> Result<Form, String> {
    let content_type = content_type(headers).ok_or("no Content-Type header")?;
    let boundary = multer::parse_boundary(content_type).map_err(|e| e.to_string())?;
    let stream = futures::stream::once(async move { Ok::<_, std::convert::Infallible>(body) });
    let mut multipart = multer::Multipart::new(stream, boundary);
    let mut form = Form::default();
    while let Some(field) = multipart.next_field().await.map_err(|e| e.to_string())? {
        let name = field.name().unwrap_or_default().to_owned();
        let filename = field.file_name().map(str::to_owned);
        let content_type = field.content_type().map(|m| m.to_string());
        let data = field.bytes().await.map_err(|e| e.to_string())?;
        form.parts.push(Part {
            name,
            filename,
            content_type,
            data,
        });
    }
    Ok(form)
}

impl Form {
    /// The text fields, as `(name, text)`.
    pub fn texts(&self) -> impl Iterator<Item = (&str, &str)> {
        self.parts.iter().filter(|p| !p.is_file()).map(|p| {
            let text = std::str::from_utf8(&p.data).unwrap_or_default();
            (p.name.as_str(), text)
        })
    }

    /// Every part name, files included, once each, in name order.
    pub fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.parts.iter().map(|p| p.name.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        names
    }

    /// The parts named `name` (files or not), in order.
    pub fn named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Part> + 'a {
        self.parts.iter().filter(move |p| p.name == name)
    }

    /// The request-log body: `{"parts": [{"name", "filename", "content_type", "text"}
    /// or {…, "bytes", "width", "height"}]}`; sizes only for decodable images.
    pub fn describe(&self) -> Value {
        let parts: Vec<Value> = self
            .parts
            .iter()
            .map(|part| {
                let mut entry = Map::new();
                entry.insert("name".into(), part.name.clone().into());
                entry.insert("filename".into(), json!(part.filename));
                entry.insert("content_type".into(), json!(part.content_type));
                if part.is_file() {
                    entry.insert("bytes".into(), part.data.len().into());
                    if let Some((width, height)) = dimensions(&part.data) {
                        entry.insert("width".into(), width.into());
                        entry.insert("height".into(), height.into());
                    }
                } else {
                    let text = String::from_utf8_lossy(&part.data).into_owned();
                    entry.insert("text".into(), text.into());
                }
                Value::Object(entry)
            })
            .collect();
        json!({ "parts": parts })
    }
}

/// The size of an image file, read from its header, if its format is recognised.
pub fn dimensions(data: &[u8]) -> Option<(u32, u32)> {
    image::ImageReader::new(Cursor::new(data))
        .with_guessed_format()
        .ok()?
        .into_dimensions()
        .ok()
}

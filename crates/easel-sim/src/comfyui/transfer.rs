//! `GET /view` and `POST /upload/image` (contract 6).

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{FromRequest as _, Multipart, Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse as _, Response};
use bytes::Bytes;

use super::files::{self, Folder, ViewError};
use super::json::obj;
use super::state::Shared;
use super::wire;

/// `GET /view?filename=&subfolder=&type=` (plus `preview=` and `channel=`).
pub async fn view(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let param = |name: &str| query.get(name).map(String::as_str);
    let found = shared.files(|f| {
        f.view(param("filename"), param("type"), param("subfolder"))
            .map(|(stored, name)| (stored.bytes.clone(), name))
    });
    let (bytes, name) = match found {
        Ok(found) => found,
        Err(ViewError::BadRequest) => return wire::empty(StatusCode::BAD_REQUEST),
        Err(ViewError::Forbidden) => return wire::empty(StatusCode::FORBIDDEN),
        Err(ViewError::NotFound) => return wire::empty(StatusCode::NOT_FOUND),
    };
    let disposition = format!(
        "filename=\"{}\"",
        name.replace('\\', "\\\\").replace('"', "\\\"")
    );
    let (body, content_type) = match files::reencode(&bytes, param("preview"), param("channel")) {
        None => (bytes, files::content_type(&name)),
        Some(Ok((encoded, content_type))) => (Bytes::from(encoded), content_type),
        Some(Err(_)) => return wire::crash(),
    };
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// `POST /upload/image`: multipart fields `image`, `type`, `subfolder`, `overwrite`.
/// 400 with an empty body when there is no file.
pub async fn upload(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let Ok(mut multipart) = Multipart::from_request(request, &()).await else {
        return wire::empty(StatusCode::BAD_REQUEST);
    };
    let mut image: Option<(String, Bytes)> = None;
    let mut fields: HashMap<String, String> = HashMap::new();
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(_) => return wire::empty(StatusCode::BAD_REQUEST),
        };
        let name = field.name().unwrap_or("").to_owned();
        let file_name = field.file_name().map(str::to_owned);
        let Ok(data) = field.bytes().await else {
            return wire::empty(StatusCode::BAD_REQUEST);
        };
        match (name.as_str(), file_name) {
            ("image", Some(file_name)) if image.is_none() => image = Some((file_name, data)),
            (_, _) => {
                fields
                    .entry(name)
                    .or_insert_with(|| String::from_utf8_lossy(&data).into_owned());
            }
        }
    }
    let Some((file_name, bytes)) = image.filter(|(name, _)| !name.is_empty()) else {
        return wire::empty(StatusCode::BAD_REQUEST);
    };
    let kind = fields.get("type").map_or("input", String::as_str);
    // Upstream leaves its directory unset for any other type and raises.
    let Some(folder) = Folder::parse(kind) else {
        return wire::crash();
    };
    let subfolder = fields.get("subfolder").cloned().unwrap_or_default();
    let overwrite = matches!(
        fields.get("overwrite").map(String::as_str),
        Some("true" | "1")
    );
    let stored = shared.files_mut(|f| f.upload(folder, &subfolder, &file_name, bytes, overwrite));
    let Some(name) = stored else {
        return wire::empty(StatusCode::BAD_REQUEST);
    };
    shared.note_upload(if subfolder.is_empty() {
        name.clone()
    } else {
        format!("{subfolder}/{name}")
    });
    wire::ok(&obj! {"name" => name, "subfolder" => subfolder, "type" => folder.name()})
}

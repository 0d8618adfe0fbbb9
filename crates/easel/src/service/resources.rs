//! Saved images as MCP resources, so that clients which cannot read easel's disk can still
//! fetch results: `easel://jobs/{job_id}/images/{index}`.

use base64::Engine;
use rmcp::ErrorData as McpError;
use rmcp::model::{
    ListResourceTemplatesResult, ListResourcesResult, PaginatedRequestParams, ReadResourceResult,
    Resource, ResourceContents, ResourceTemplate,
};
use serde_json::json;

use super::report::image_uri;
use crate::jobs::{JobFilter, Jobs};

const PAGE: usize = 50;

pub fn templates() -> ListResourceTemplatesResult {
    ListResourceTemplatesResult::with_all_items(vec![
        ResourceTemplate::new("easel://jobs/{job_id}/images/{index}", "job-image")
            .with_description("Image number {index} (0-based) saved by job {job_id}"),
    ])
}

/// Newest jobs first, one entry per saved image; the cursor is the offset in jobs.
pub fn list(
    jobs: &Jobs,
    request: Option<PaginatedRequestParams>,
) -> Result<ListResourcesResult, McpError> {
    let offset = request
        .and_then(|r| r.cursor)
        .map(|c| c.parse::<usize>())
        .transpose()
        .map_err(|_| McpError::invalid_params("cursor is not one easel issued", None))?
        .unwrap_or(0);
    let all = jobs
        .list(&JobFilter {
            limit: offset + PAGE + 1,
            ..JobFilter::default()
        })
        .map_err(|e| McpError::internal_error(e.to_string(), None))?;
    let more = all.len() > offset + PAGE;
    let resources = all
        .iter()
        .skip(offset)
        .take(PAGE)
        .flat_map(|job| {
            job.images.iter().map(move |img| {
                let name = img
                    .path
                    .file_name()
                    .map_or_else(|| job.id.clone(), |n| n.to_string_lossy().into_owned());
                Resource::new(image_uri(&job.id, img.index), name)
                    .with_mime_type(img.mime.clone())
                    .with_size(img.bytes)
                    .with_description(job.request.prompt.chars().take(200).collect::<String>())
            })
        })
        .collect();
    Ok(ListResourcesResult {
        resources,
        next_cursor: more.then(|| (offset + PAGE).to_string()),
        ..Default::default()
    })
}

fn not_found(uri: &str, why: &str) -> McpError {
    McpError::resource_not_found(format!("{why}: {uri}"), Some(json!({ "uri": uri })))
}

/// Reads an image resource. Ids are checked strictly and the file must still lie inside the
/// output root, so a URI can never name another file.
pub async fn read(jobs: &Jobs, uri: &str) -> Result<ReadResourceResult, McpError> {
    let rest = uri
        .strip_prefix("easel://jobs/")
        .ok_or_else(|| not_found(uri, "not an easel resource"))?;
    let (job_id, index) = rest
        .split_once("/images/")
        .ok_or_else(|| not_found(uri, "expected easel://jobs/{job_id}/images/{index}"))?;
    if job_id.is_empty()
        || !job_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        return Err(not_found(uri, "malformed job id"));
    }
    let index: u32 = index
        .parse()
        .map_err(|_| not_found(uri, "malformed image index"))?;
    let job = jobs
        .get(job_id)
        .map_err(|e| McpError::internal_error(e.to_string(), None))?
        .ok_or_else(|| not_found(uri, "no such job"))?;
    let image = job
        .images
        .iter()
        .find(|i| i.index == index)
        .ok_or_else(|| not_found(uri, "no such image in this job"))?;
    if !jobs.outputs().contains(&image.path) {
        return Err(not_found(
            uri,
            "the file is no longer inside the output root",
        ));
    }
    let bytes = tokio::fs::read(&image.path)
        .await
        .map_err(|e| not_found(uri, &format!("cannot read {}: {e}", image.path.display())))?;
    let blob = base64::engine::general_purpose::STANDARD.encode(bytes);
    Ok(ReadResourceResult::new(vec![
        ResourceContents::blob(blob, uri.to_string()).with_mime_type(image.mime.clone()),
    ]))
}

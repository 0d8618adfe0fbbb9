//! list_jobs: a compact view of many jobs.

use rmcp::model::{CallToolResult, ContentBlock};
use schemars::JsonSchema;
use serde::Serialize;

use crate::jobs::{Job, JobStatus};

/// One line of list_jobs.
#[derive(Debug, Serialize, JsonSchema)]
pub struct JobSummary {
    pub job_id: String,
    pub status: JobStatus,
    pub backend: String,
    pub model: String,
    /// The first 80 characters of the prompt.
    pub prompt: String,
    pub created_at_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at_ms: Option<u64>,
    /// Absolute paths of the saved files.
    pub files: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Structured result of list_jobs.
#[derive(Debug, Serialize, JsonSchema)]
pub struct JobList {
    pub jobs: Vec<JobSummary>,
}

fn clip(text: &str, n: usize) -> String {
    let mut out: String = text.chars().take(n).collect();
    if out.len() < text.len() {
        out.push('…');
    }
    out
}

pub fn job_list(jobs: &[Job]) -> CallToolResult {
    let list = JobList {
        jobs: jobs
            .iter()
            .map(|j| JobSummary {
                job_id: j.id.clone(),
                status: j.status,
                backend: j.backend.clone(),
                model: j.request.describe_model(),
                prompt: clip(&j.request.prompt, 80),
                created_at_ms: j.created_at_ms,
                finished_at_ms: j.finished_at_ms,
                files: j
                    .images
                    .iter()
                    .map(|i| i.path.display().to_string())
                    .collect(),
                error: j.error.as_ref().map(|e| e.message.clone()),
            })
            .collect(),
    };
    let mut text = format!("{} job(s), newest first:", list.jobs.len());
    for j in &list.jobs {
        text.push_str(&format!(
            "\n- {} {} {} \"{}\" ({} file(s))",
            j.job_id,
            j.status.as_str(),
            j.model,
            j.prompt,
            j.files.len()
        ));
    }
    let mut result = CallToolResult::success(vec![ContentBlock::text(text)]);
    result.structured_content = serde_json::to_value(&list).ok();
    result
}

//! What the gallery shows of a job: a card in the grid (bounded: the prompt is cut, no
//! paths), and the whole job for its view. Built from the stored job only, never from the
//! files, so a page of cards costs no disk access.

use serde::Serialize;
use serde_json::Value;

use crate::jobs::{Job, JobProgress};

/// Prompt characters on a card; the job view has the whole prompt.
pub const CARD_PROMPT_CHARS: usize = 300;

#[derive(Debug, Serialize)]
pub struct ImageCard {
    pub index: u32,
    pub width: u32,
    pub height: u32,
    pub mime: String,
    pub media: Value,
    pub name: String,
    pub thumb: String,
    pub full: String,
}

#[derive(Debug, Serialize)]
pub struct JobCard {
    pub id: String,
    pub status: &'static str,
    pub backend: String,
    pub model: Option<String>,
    pub workflow: Option<String>,
    pub size: String,
    pub seeds: Vec<u64>,
    pub prompt: String,
    pub prompt_truncated: bool,
    pub batch: Option<String>,
    pub created_at_ms: u64,
    pub finished_at_ms: Option<u64>,
    pub duration_ms: Option<u64>,
    pub progress: JobProgress,
    pub error: Option<String>,
    pub count: u32,
    pub edit: bool,
    pub images: Vec<ImageCard>,
}

#[derive(Debug, Serialize)]
pub struct Failure {
    pub index: u32,
    pub error: String,
}

/// The job view: the card (with the whole prompt) and everything else that was asked.
#[derive(Debug, Serialize)]
pub struct JobDetail {
    #[serde(flatten)]
    pub card: JobCard,
    pub negative_prompt: Option<String>,
    pub steps: Option<u32>,
    pub guidance: Option<f64>,
    pub loras: Option<Value>,
    pub params: serde_json::Map<String, Value>,
    /// What the caller named as sources (labels only: never where they were read from).
    pub sources: Vec<String>,
    pub warnings: Vec<String>,
    pub failures: Vec<Failure>,
    /// The absolute path of each saved image, in image order.
    pub paths: Vec<String>,
    /// The equivalent `easel generate …` line.
    pub command: String,
}

/// The seeds of the job's images: each saved image's own, else the one the request gives it.
fn seeds(job: &Job) -> Vec<u64> {
    (0..job.request.count)
        .map(|i| {
            job.images
                .iter()
                .find(|img| img.index == i)
                .and_then(|img| img.seed)
                .unwrap_or_else(|| job.request.seed_for(i))
        })
        .collect()
}

/// `prompt` cut at `max` characters (never inside a character), and whether it was cut.
fn cut(prompt: &str, max: usize) -> (String, bool) {
    match prompt.char_indices().nth(max) {
        Some((at, _)) => (prompt[..at].to_string(), true),
        None => (prompt.to_string(), false),
    }
}

pub fn card(job: &Job) -> JobCard {
    card_with_prompt(job, CARD_PROMPT_CHARS)
}

fn card_with_prompt(job: &Job, max_prompt: usize) -> JobCard {
    let r = &job.request;
    let (prompt, prompt_truncated) = cut(&r.prompt, max_prompt);
    let mut images: Vec<ImageCard> = job
        .images
        .iter()
        .map(|img| ImageCard {
            index: img.index,
            width: img.width,
            height: img.height,
            mime: img.mime.clone(),
            media: serde_json::to_value(img.media).unwrap_or(Value::Null),
            name: img
                .path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            thumb: format!("/gallery/thumb/{}/{}", job.id, img.index),
            full: format!("/gallery/img/{}/{}", job.id, img.index),
        })
        .collect();
    images.sort_by_key(|i| i.index);
    JobCard {
        id: job.id.clone(),
        status: job.status.as_str(),
        backend: job.backend.clone(),
        model: r.model.clone(),
        workflow: r.workflow.clone(),
        size: r.size.to_string(),
        seeds: seeds(job),
        prompt,
        prompt_truncated,
        batch: job.batch_key().map(str::to_string),
        created_at_ms: job.created_at_ms,
        finished_at_ms: job.finished_at_ms,
        duration_ms: job
            .finished_at_ms
            .map(|f| f.saturating_sub(job.created_at_ms)),
        progress: job.progress.clone(),
        error: job.error.as_ref().map(ToString::to_string),
        count: r.count,
        edit: r.is_edit(),
        images,
    }
}

pub fn detail(job: &Job, command: String) -> JobDetail {
    let r = &job.request;
    let mut images: Vec<_> = job.images.iter().collect();
    images.sort_by_key(|i| i.index);
    JobDetail {
        card: card_with_prompt(job, usize::MAX),
        negative_prompt: r.negative_prompt.clone(),
        steps: r.steps,
        guidance: r.guidance,
        loras: r.loras.as_ref().and_then(|l| serde_json::to_value(l).ok()),
        params: r.params.clone(),
        sources: r
            .sources
            .iter()
            .chain(r.mask.iter())
            .map(|s| s.label.clone())
            .collect(),
        warnings: job.warnings.clone(),
        failures: job
            .failures
            .iter()
            .map(|f| Failure {
                index: f.index,
                error: f.error.to_string(),
            })
            .collect(),
        paths: images
            .iter()
            .map(|i| i.path.display().to_string())
            .collect(),
        command,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompts_are_cut_at_characters() {
        assert_eq!(cut("猫猫猫", 2), ("猫猫".to_string(), true));
        assert_eq!(cut("cat", 3), ("cat".to_string(), false));
        assert_eq!(cut("", 3), (String::new(), false));
    }
}

//! A job request as typed input, and its conversion into a job and a wait budget.

use std::time::Duration;

use rand::Rng;
use serde_json::{Map, Value};

use super::face::Face;
use crate::backend::Backend;
use crate::jobs::{Job, Jobs, NewJob, OutputSpec, Submitted};
use crate::outputs::{OutputFormat, PreviewMode};
use crate::request::{
    DEFAULT_COUNT, DEFAULT_SIZE, DEFAULT_WAIT_SECONDS, GenerateRequest, InvalidInput, Loras,
    MAX_SEED, MAX_WAIT_SECONDS, Size, Source,
};

/// How long a call may wait for its job: the default when the caller names none, and the
/// ceiling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WaitLimits {
    pub default_secs: u64,
    pub max_secs: u64,
}

impl Default for WaitLimits {
    fn default() -> Self {
        WaitLimits {
            default_secs: DEFAULT_WAIT_SECONDS,
            max_secs: MAX_WAIT_SECONDS,
        }
    }
}

impl WaitLimits {
    /// The wait a caller asked for (or the default), refused above the ceiling.
    pub fn budget(&self, asked: Option<u64>) -> Result<Duration, InvalidInput> {
        let secs = asked.unwrap_or(self.default_secs);
        if secs > self.max_secs {
            return Err(InvalidInput::new(
                "wait_seconds",
                format!("{secs} is above the maximum of {}", self.max_secs),
                "Use 0 to 600; a job that takes longer keeps running and get_job waits again.",
            ));
        }
        Ok(Duration::from_secs(secs))
    }
}

/// What a caller asks for, typed; `None` means "the default".
#[derive(Clone, Debug, Default, PartialEq)]
pub struct JobInput {
    pub prompt: String,
    pub negative_prompt: Option<String>,
    pub backend: Option<String>,
    /// `None`: the backend's default (its edit model for an edit).
    pub model: Option<String>,
    /// `WIDTHxHEIGHT`; `None`: [`DEFAULT_SIZE`].
    pub size: Option<String>,
    /// `None`: a random seed, chosen here so that it is stored and reported.
    pub seed: Option<u64>,
    pub steps: Option<u32>,
    pub guidance: Option<f64>,
    pub loras: Option<Loras>,
    /// `None`: [`DEFAULT_COUNT`].
    pub count: Option<u32>,
    /// `None`: the backend's default workflow (its edit workflow for an edit).
    pub workflow: Option<String>,
    pub params: Map<String, Value>,
    pub output_dir: Option<String>,
    pub filename: Option<String>,
    pub format: OutputFormat,
    pub preview: PreviewMode,
    /// `None`: the [`WaitLimits`] default.
    pub wait_seconds: Option<u64>,
    pub idempotency_key: Option<String>,
    /// Whether this edits images; its sources are resolved by the caller (reading files is
    /// the transport's business: it knows which roots it may read).
    pub edit: bool,
    pub sources: Vec<Source>,
    pub mask: Option<Source>,
}

/// A job recorded from a [`JobInput`], with how the caller wants it shown and waited for.
pub struct Accepted {
    pub submitted: Submitted,
    pub preview: PreviewMode,
    pub budget: Duration,
}

impl JobInput {
    pub fn new(prompt: impl Into<String>) -> Self {
        JobInput {
            prompt: prompt.into(),
            ..JobInput::default()
        }
    }

    /// The same request as a stored job, to run again (a new seed when `new_seed`), into
    /// the same folder with the same name and format; a new job, not the old one.
    pub fn again(job: &Job, new_seed: bool) -> Self {
        let r = &job.request;
        JobInput {
            prompt: r.prompt.clone(),
            negative_prompt: r.negative_prompt.clone(),
            backend: Some(job.backend.clone()),
            model: r.model.clone(),
            size: Some(r.size.to_string()),
            seed: (!new_seed).then_some(r.seed),
            steps: r.steps,
            guidance: r.guidance,
            loras: r.loras.clone(),
            count: Some(r.count),
            workflow: r.workflow.clone(),
            params: r.params.clone(),
            output_dir: job.output.dir.clone(),
            filename: job.output.stem.clone(),
            format: job.output.format,
            preview: PreviewMode::default(),
            wait_seconds: None,
            idempotency_key: None,
            edit: r.is_edit(),
            sources: r.sources.clone(),
            mask: r.mask.clone(),
        }
    }

    /// The backend this input names (or the default one).
    pub fn backend(&self, jobs: &Jobs, face: Face) -> Result<std::sync::Arc<dyn Backend>, String> {
        jobs.backend(self.backend.as_deref())
            .map_err(|e| face.submit_error(&e))
    }

    /// The job this input asks for: the backend's default model and workflow filled in, a
    /// random seed chosen when none was given (and always reported).
    pub fn into_job(self, jobs: &Jobs, face: Face) -> Result<NewJob, String> {
        let backend = self.backend(jobs, face)?;
        let size = Size::parse(self.size.as_deref().unwrap_or(DEFAULT_SIZE))
            .map_err(|e| face.invalid(&e))?;
        let default_model = if self.edit {
            backend.default_edit_model()
        } else {
            backend.default_model()
        };
        let request = GenerateRequest {
            prompt: self.prompt,
            negative_prompt: self.negative_prompt,
            model: self.model.or_else(|| default_model.map(str::to_string)),
            size,
            seed: self
                .seed
                .unwrap_or_else(|| rand::rng().random_range(0..=MAX_SEED)),
            steps: self.steps,
            guidance: self.guidance,
            loras: self.loras,
            count: self.count.unwrap_or(DEFAULT_COUNT),
            workflow: self
                .workflow
                .or_else(|| backend.default_workflow(self.edit)),
            params: self.params,
            sources: self.sources,
            mask: self.mask,
        };
        Ok(NewJob {
            backend: Some(backend.name().to_string()),
            request,
            output: OutputSpec {
                dir: self.output_dir,
                stem: self.filename,
                format: self.format,
            },
            idempotency_key: self.idempotency_key,
        })
    }

    /// Checks the wait, builds the job and records it (nothing is sent before it is stored).
    pub fn submit(self, jobs: &Jobs, limits: WaitLimits, face: Face) -> Result<Accepted, String> {
        let budget = limits
            .budget(self.wait_seconds)
            .map_err(|e| face.invalid(&e))?;
        let preview = self.preview;
        let new = self.into_job(jobs, face)?;
        let submitted = jobs.submit(new).map_err(|e| face.submit_error(&e))?;
        Ok(Accepted {
            submitted,
            preview,
            budget,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_defaults_to_45_and_stops_at_600() {
        let limits = WaitLimits::default();
        assert_eq!(limits.budget(None), Ok(Duration::from_secs(45)));
        assert_eq!(limits.budget(Some(600)), Ok(Duration::from_secs(600)));
        let e = limits.budget(Some(601)).expect_err("over");
        assert_eq!(e.field, "wait_seconds");
        assert_eq!(
            Face::Mcp.invalid(&e),
            "wait_seconds: 601 is above the maximum of 600. Use 0 to 600; a job that takes longer keeps running and get_job waits again."
        );
    }

    /// The gallery's "run again": a stored job back into the input that asked for it.
    #[test]
    fn a_stored_job_runs_again_as_it_was_asked() {
        let job: Job = serde_json::from_value(serde_json::json!({
            "id": "j1", "backend": "modelscope",
            "request": {"prompt": "a cat", "model": "Qwen/Qwen-Image", "size": {"width": 1664, "height": 928}, "seed": 42, "count": 2, "steps": 30},
            "output": {"dir": "cats/2026", "stem": "cat", "format": "png"},
            "status": "succeeded", "progress": {"fraction": 1.0, "message": "done"},
            "ticket": null, "images": [], "failures": [], "error": null,
            "idempotency_key": "k", "created_at_ms": 1, "updated_at_ms": 1, "finished_at_ms": 2
        }))
        .expect("job");
        let same = JobInput::again(&job, false);
        assert_eq!(same.backend.as_deref(), Some("modelscope"));
        assert_eq!(same.size.as_deref(), Some("1664x928"));
        assert_eq!(
            (same.seed, same.count, same.steps),
            (Some(42), Some(2), Some(30))
        );
        assert_eq!(same.output_dir.as_deref(), Some("cats/2026"));
        assert_eq!(same.filename.as_deref(), Some("cat"));
        assert_eq!(same.format, OutputFormat::Png);
        assert_eq!(same.idempotency_key, None, "a new job, not the old one");
        assert!(!same.edit);
        assert_eq!(JobInput::again(&job, true).seed, None);
    }
}

//! ComfyUI (contracts/comfyui.md): the user's own workflows, submitted with easel's
//! `client_id` and a `prompt_id` chosen before submission (stored first, so a restart can
//! find the job), tracked over one shared WebSocket with `/history` polling as fallback,
//! results downloaded over `/view`.

mod api;
pub mod doctor;
mod errors;
mod events;
mod hub;
mod inputs;
mod track;

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::{
    Backend, BackendError, BackendStatus, CancelOutcome, ErrorKind, EventSink, Fetched,
    ImageOutcome, RemoteImage, Ticket,
};
use crate::clock::now_ms;
use crate::config::ComfySettings;
use crate::outputs::OutputRoot;
use crate::request::{GenerateRequest, InvalidInput};
use crate::workflows::{Library, StandardInputs, Workflow, WorkflowError};

pub use api::QueuePlace;

/// The built-in workflow edits use when the caller names none.
const EDIT_WORKFLOW: &str = "img2img";

/// What easel stores for a ComfyUI job.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ComfyTicket {
    /// The server the prompt was sent to.
    pub server: String,
    pub prompt_id: String,
    pub submitted_at_ms: u64,
    /// Node id → class, for progress and error messages.
    #[serde(default)]
    pub nodes: BTreeMap<String, String>,
    pub seed: u64,
}

impl ComfyTicket {
    fn from_ticket(t: &Ticket) -> Result<ComfyTicket, BackendError> {
        serde_json::from_value(t.0.clone()).map_err(|e| {
            BackendError::new(
                ErrorKind::Protocol,
                format!("stored ComfyUI ticket is unreadable: {e}"),
            )
        })
    }

    fn to_ticket(&self) -> Ticket {
        Ticket(serde_json::to_value(self).unwrap_or_default())
    }
}

pub struct ComfyUi {
    settings: ComfySettings,
    api: api::Api,
    hub: Arc<hub::Hub>,
    library: Arc<Library>,
    /// Where image parameters are read from.
    inputs: OutputRoot,
}

impl ComfyUi {
    pub fn new(
        settings: ComfySettings,
        library: Arc<Library>,
        inputs: OutputRoot,
    ) -> Result<ComfyUi, BackendError> {
        let api = api::Api::new(&settings)?;
        // One client id per process: ComfyUI replaces an older socket with the same id.
        let client_id = uuid::Uuid::new_v4().to_string();
        let hub = hub::Hub::new(api.base(), api.headers().clone(), &client_id);
        Ok(ComfyUi {
            settings,
            api,
            hub,
            library,
            inputs,
        })
    }

    pub fn library(&self) -> &Arc<Library> {
        &self.library
    }

    fn workflow(&self, request: &GenerateRequest) -> Result<Arc<Workflow>, InvalidInput> {
        let name = match (&request.workflow, request.is_edit()) {
            (Some(w), _) => w.as_str(),
            (None, true) => EDIT_WORKFLOW,
            (None, false) => &self.settings.default_workflow,
        };
        self.library.get(name).map_err(workflow_invalid)
    }

    fn standard(request: &GenerateRequest, images: Vec<String>) -> StandardInputs {
        StandardInputs {
            prompt: request.prompt.clone(),
            negative_prompt: request.negative_prompt.clone(),
            width: request.size.width,
            height: request.size.height,
            seed: request.seed,
            steps: request.steps,
            guidance: request.guidance,
            batch: request.count,
            images,
            model: request.model.clone(),
        }
    }
}

fn workflow_invalid(e: WorkflowError) -> InvalidInput {
    match e {
        WorkflowError::Invalid(invalid) => invalid,
        other => InvalidInput::new(
            "workflow",
            other.to_string(),
            "Call list_workflows to see the workflows and their parameters.",
        ),
    }
}

#[async_trait]
impl Backend for ComfyUi {
    fn name(&self) -> &str {
        "comfyui"
    }

    fn default_model(&self) -> Option<&str> {
        None
    }

    fn validate(&self, request: &GenerateRequest) -> Result<Vec<String>, InvalidInput> {
        let workflow = self.workflow(request)?;
        let inputs::Split {
            params,
            images,
            mut warnings,
        } = inputs::split(&workflow, request, &self.inputs)?;
        // A dry run with stand-in names catches wrong types and ranges before anything is sent.
        let stand_ins = images
            .iter()
            .map(|i| format!("easel/{}", i.upload_name))
            .collect();
        let applied = workflow
            .apply(&Self::standard(request, stand_ins), &params)
            .map_err(workflow_invalid)?;
        // Size and seed always carry a value (defaulted, or randomized), so a workflow that
        // fixes them (image-to-image) is not worth a warning; everything else the caller
        // gave and the workflow cannot take is.
        warnings.extend(
            applied
                .unmatched
                .iter()
                .filter(|p| !matches!(p.as_str(), "width" | "height" | "seed"))
                .map(|p| {
                    format!(
                        "workflow {} has no place for {p:?}; it was not used",
                        workflow.name
                    )
                }),
        );
        Ok(warnings)
    }

    fn prepare(&self, request: &GenerateRequest) -> Option<Ticket> {
        Some(
            ComfyTicket {
                server: self.api.base().to_string(),
                prompt_id: uuid::Uuid::new_v4().to_string(),
                submitted_at_ms: now_ms(),
                nodes: BTreeMap::new(),
                seed: request.seed,
            }
            .to_ticket(),
        )
    }

    async fn submit(
        &self,
        request: &GenerateRequest,
        prepared: Option<&Ticket>,
    ) -> Result<Ticket, BackendError> {
        let mut ticket = match prepared {
            Some(t) => ComfyTicket::from_ticket(t)?,
            None => ComfyTicket::from_ticket(
                &self
                    .prepare(request)
                    .unwrap_or(Ticket(serde_json::Value::Null)),
            )?,
        };
        let invalid = |e: InvalidInput| BackendError::new(ErrorKind::Rejected, e.to_string());
        let workflow = self.workflow(request).map_err(invalid)?;
        let inputs::Split { params, images, .. } =
            inputs::split(&workflow, request, &self.inputs).map_err(invalid)?;
        let mut names = Vec::with_capacity(images.len());
        for image in images {
            let bytes = match (&image.path, &image.url) {
                (Some(path), _) => std::fs::read(path).map_err(|e| {
                    BackendError::new(
                        ErrorKind::Rejected,
                        format!("cannot read input image {}: {e}", path.display()),
                    )
                })?,
                (None, Some(url)) => self.api.download_public(url).await?.bytes.to_vec(),
                (None, None) => continue,
            };
            names.push(self.api.upload(bytes, &image.upload_name).await?);
        }
        let applied = workflow
            .apply(&Self::standard(request, names), &params)
            .map_err(workflow_invalid)
            .map_err(invalid)?;
        ticket.nodes = applied
            .graph
            .as_object()
            .map(|g| {
                g.iter()
                    .filter_map(|(id, n)| {
                        Some((id.clone(), n.get("class_type")?.as_str()?.to_string()))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let partial = self
            .api
            .post_prompt(&applied.graph, self.hub_client_id(), &ticket.prompt_id)
            .await?;
        for line in partial {
            tracing::warn!(prompt_id = %ticket.prompt_id, "ComfyUI will skip an output: {line}");
        }
        tracing::info!(prompt_id = %ticket.prompt_id, workflow = %workflow.name, "ComfyUI prompt queued");
        Ok(ticket.to_ticket())
    }

    async fn track(
        &self,
        ticket: &Ticket,
        events: &EventSink,
    ) -> Result<Vec<ImageOutcome>, BackendError> {
        let ticket = ComfyTicket::from_ticket(ticket)?;
        let files = track::follow(self, &ticket, events).await?;
        Ok(files
            .iter()
            .enumerate()
            .map(|(i, f)| {
                Ok(RemoteImage {
                    index: i as u32,
                    seed: Some(ticket.seed),
                    url: Some(self.api.view_url(f)),
                    revised_prompt: None,
                    usage: None,
                })
            })
            .collect())
    }

    async fn fetch(&self, _ticket: &Ticket, image: &RemoteImage) -> Result<Fetched, BackendError> {
        let url = image
            .url
            .as_deref()
            .ok_or_else(|| BackendError::new(ErrorKind::Protocol, "ComfyUI image has no URL"))?;
        self.api
            .fetch(url, &format!("image {}", image.index + 1))
            .await
    }

    async fn status(&self) -> BackendStatus {
        let report = doctor::check(self).await;
        let ready = report.reachable;
        let summary = match (&report.error, &report.version) {
            (Some(e), _) => e.clone(),
            (None, version) => format!(
                "ComfyUI {} at {}, {} in queue; {} of {} workflow(s) ready",
                version.as_deref().unwrap_or("?"),
                report.url,
                report.queue_remaining.unwrap_or(0),
                report.workflows.iter().filter(|w| w.ready).count(),
                report.workflows.len()
            ),
        };
        BackendStatus {
            name: "comfyui".into(),
            ready,
            summary,
            details: serde_json::to_value(&report).unwrap_or_default(),
        }
    }

    async fn cancel(&self, ticket: &Ticket) -> CancelOutcome {
        let Ok(ticket) = ComfyTicket::from_ticket(ticket) else {
            return CancelOutcome::NotSupported("the stored ticket is unreadable".into());
        };
        let id = &ticket.prompt_id;
        let done = match self.api.queue_place(id).await {
            Ok(QueuePlace::Pending(_)) => self.api.delete_pending(id).await,
            Ok(QueuePlace::Running) => self.api.interrupt(id).await,
            Ok(QueuePlace::Absent) => Ok(()),
            Err(e) => Err(e),
        };
        match done {
            Ok(()) => CancelOutcome::Cancelled,
            Err(e) => {
                CancelOutcome::NotSupported(format!("ComfyUI could not be told to stop: {e}"))
            }
        }
    }
}

impl ComfyUi {
    fn hub_client_id(&self) -> &str {
        self.hub.client_id()
    }

    pub(crate) fn api(&self) -> &api::Api {
        &self.api
    }
}

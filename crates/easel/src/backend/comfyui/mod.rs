//! ComfyUI (docs/contracts/comfyui.md): the user's own workflows, submitted with easel's
//! `client_id` and a `prompt_id` chosen before submission (stored first, so a restart can
//! find the job), tracked over one shared WebSocket per server with `/history` polling as
//! fallback, results downloaded over `/view`. One server or several: the `comfyui` backend
//! spreads jobs over every configured server and each pool name is a backend over its
//! servers ([`pool`]).

mod api;
pub mod doctor;
mod errors;
mod events;
mod hub;
mod inputs;
pub mod pool;
mod submit;
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
use crate::outputs::InputRoots;
use crate::request::{GenerateRequest, InvalidInput};
use crate::workflows::{Library, StandardInputs, Workflow, WorkflowError};

pub use api::QueuePlace;

/// The built-in workflow edits use when the caller names none.
const EDIT_WORKFLOW: &str = "img2img";

/// What easel stores for a ComfyUI job.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ComfyTicket {
    /// The name of the server that accepted the prompt; empty until one did. Tickets from
    /// before pools hold the server's base URL.
    pub server: String,
    pub prompt_id: String,
    pub submitted_at_ms: u64,
    /// Node id → class, for progress and error messages.
    #[serde(default)]
    pub nodes: BTreeMap<String, String>,
    pub seed: u64,
    /// The workflow has no seed input, so `seed` made nothing and is not reported.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub seedless: bool,
    /// Servers that did not accept the job before `server` did, for the progress report.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refused_by: Vec<String>,
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

/// One backend over ComfyUI servers: `comfyui` (all of them) or a named pool.
pub struct ComfyUi {
    group: pool::Group,
    pool: Arc<pool::Pool>,
    settings: Arc<ComfySettings>,
    library: Arc<Library>,
    /// Where image parameters are read from.
    inputs: InputRoots,
}

impl ComfyUi {
    /// The `comfyui` backend and one backend per pool name, all sharing the same servers
    /// (their health, queues, jobs in flight and WebSockets).
    pub fn backends(
        settings: ComfySettings,
        library: Arc<Library>,
        inputs: InputRoots,
    ) -> Result<Vec<ComfyUi>, BackendError> {
        let pool = pool::Pool::new(&settings)?;
        let groups = pool.groups(&settings.pools());
        let settings = Arc::new(settings);
        Ok(groups
            .into_iter()
            .map(|group| ComfyUi {
                group,
                pool: pool.clone(),
                settings: settings.clone(),
                library: library.clone(),
                inputs: inputs.clone(),
            })
            .collect())
    }

    pub fn library(&self) -> &Arc<Library> {
        &self.library
    }

    pub(crate) fn group(&self) -> &pool::Group {
        &self.group
    }

    pub(crate) fn pool(&self) -> &Arc<pool::Pool> {
        &self.pool
    }

    fn new_ticket(&self, request: &GenerateRequest) -> ComfyTicket {
        ComfyTicket {
            server: String::new(),
            prompt_id: uuid::Uuid::new_v4().to_string(),
            submitted_at_ms: now_ms(),
            nodes: BTreeMap::new(),
            seed: request.seed,
            seedless: false,
            refused_by: Vec::new(),
        }
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

    /// The server a stored ticket names.
    async fn server_of(&self, ticket: &ComfyTicket) -> Result<Arc<pool::Server>, BackendError> {
        if let Some(server) = self.pool.find(&ticket.server) {
            return Ok(server);
        }
        if !ticket.server.is_empty() {
            return Err(BackendError::new(
                ErrorKind::Failed,
                format!(
                    "this job ran on ComfyUI server {:?}, which is no longer configured; add it back to [[comfyui.servers]] to collect its images, or generate again",
                    ticket.server
                ),
            ));
        }
        // easel stopped while submitting: the prompt id tells which server (if any) has it.
        let id = &ticket.prompt_id;
        for server in &self.group.members {
            let queued = matches!(
                server.api.queue_place(id).await,
                Ok(QueuePlace::Pending(_) | QueuePlace::Running)
            );
            if queued || matches!(server.api.history(id).await, Ok(Some(_))) {
                return Ok(server.clone());
            }
        }
        Err(BackendError::new(
            ErrorKind::Failed,
            format!(
                "easel stopped while submitting this job to {}, and no server there knows prompt {id}: it was not queued (or the server forgot it). Generate again.",
                self.group.name
            ),
        ))
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
        &self.group.name
    }

    fn default_model(&self) -> Option<&str> {
        None
    }

    /// The user's own GPU: generating costs nothing per image.
    fn paid(&self) -> bool {
        false
    }

    fn default_workflow(&self, edit: bool) -> Option<String> {
        Some(if edit {
            EDIT_WORKFLOW.to_string()
        } else {
            self.settings.default_workflow.clone()
        })
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
        // The server is chosen at submission; the prompt id alone finds it after a restart.
        Some(self.new_ticket(request).to_ticket())
    }

    async fn submit(
        &self,
        request: &GenerateRequest,
        prepared: Option<&Ticket>,
    ) -> Result<Ticket, BackendError> {
        self.send(request, prepared).await
    }

    async fn track(
        &self,
        ticket: &Ticket,
        events: &EventSink,
    ) -> Result<Vec<ImageOutcome>, BackendError> {
        self.pool.start_health();
        let ticket = ComfyTicket::from_ticket(ticket)?;
        let server = self.server_of(&ticket).await?;
        let patience = track::Patience {
            poll: self.settings.poll,
            lost_after: self.settings.lost_after,
        };
        let files = track::follow(&server, &ticket, &patience, events).await?;
        Ok(files
            .iter()
            .enumerate()
            .map(|(i, f)| {
                // A batch shares the sampler's one seed (ComfyUI draws the batch's noise
                // from it), so every image reports that seed, as it would reproduce them.
                Ok(RemoteImage {
                    index: i as u32,
                    seed: (!ticket.seedless).then_some(ticket.seed),
                    seedless: ticket.seedless,
                    url: Some(server.api.view_url(f)),
                    revised_prompt: None,
                    usage: None,
                })
            })
            .collect())
    }

    fn resubmit_after(&self, error: &BackendError) -> bool {
        self.settings.resubmit_lost && errors::is_lost(error)
    }

    async fn fetch(&self, ticket: &Ticket, image: &RemoteImage) -> Result<Fetched, BackendError> {
        let url = image
            .url
            .as_deref()
            .ok_or_else(|| BackendError::new(ErrorKind::Protocol, "ComfyUI image has no URL"))?;
        // The URL names the server; its headers go with the download.
        let server = match self.pool.for_url(url) {
            Some(s) => s,
            None => self.server_of(&ComfyTicket::from_ticket(ticket)?).await?,
        };
        server
            .api
            .fetch(url, &format!("image {}", image.index + 1))
            .await
    }

    async fn status(&self) -> BackendStatus {
        self.pool.start_health();
        doctor::status(self).await
    }

    /// Progress arrives over the WebSocket as it happens; `/history` is read at this
    /// interval when it is down, so looking more often than that learns nothing more.
    fn poll_interval(&self) -> std::time::Duration {
        self.settings.poll
    }

    async fn cancel(&self, ticket: &Ticket) -> CancelOutcome {
        let Ok(ticket) = ComfyTicket::from_ticket(ticket) else {
            return CancelOutcome::NotSupported("the stored ticket is unreadable".into());
        };
        let server = match self.server_of(&ticket).await {
            Ok(s) => s,
            Err(e) => return CancelOutcome::NotSupported(e.message),
        };
        let id = &ticket.prompt_id;
        let done = match server.api.queue_place(id).await {
            Ok(QueuePlace::Pending(_)) => server.api.delete_pending(id).await,
            Ok(QueuePlace::Running) => server.api.interrupt(id).await,
            Ok(QueuePlace::Absent) => Ok(()),
            Err(e) => Err(e),
        };
        server.release(id);
        match done {
            Ok(()) => CancelOutcome::Cancelled,
            Err(e) => {
                CancelOutcome::NotSupported(format!("ComfyUI could not be told to stop: {e}"))
            }
        }
    }
}

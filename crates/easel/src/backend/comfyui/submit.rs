//! Submitting a job to the pool: choose a server, upload the input images there, post the
//! graph with easel's prompt id. A server that fails before accepting the job (no
//! connection, a 5xx, …) is taken out and the next best one is tried; a server that
//! refuses the graph itself (400: a validation error) ends the submission, since every
//! server would refuse it alike.

use std::collections::HashSet;
use std::sync::Arc;

use super::pool::{self, Server};
use super::{ComfyTicket, ComfyUi, inputs, workflow_invalid};
use crate::backend::{BackendError, ErrorKind, Ticket};
use crate::request::{GenerateRequest, InvalidInput};
use crate::workflows::{Requirements, Workflow};

/// An input image's bytes, read once and uploaded to whichever server takes the job.
struct Upload {
    bytes: Vec<u8>,
    name: String,
}

fn invalid(e: InvalidInput) -> BackendError {
    BackendError::new(ErrorKind::Rejected, e.to_string())
}

impl ComfyUi {
    pub(super) async fn send(
        &self,
        request: &GenerateRequest,
        prepared: Option<&Ticket>,
    ) -> Result<Ticket, BackendError> {
        self.pool.start_health();
        let mut ticket = match prepared {
            Some(t) => ComfyTicket::from_ticket(t)?,
            None => self.new_ticket(request),
        };
        let workflow = self.workflow(request).map_err(invalid)?;
        let split = inputs::split(&workflow, request, &self.inputs).map_err(invalid)?;
        let uploads = self.read_inputs(split.images).await?;
        // What the graph needs decides which servers may take it; one server is checked the
        // same way, so a missing model file is named before anything is sent.
        let stand_ins = uploads
            .iter()
            .map(|u| format!("easel/{}", u.name))
            .collect();
        let applied = workflow
            .apply(&Self::standard(request, stand_ins), &split.params)
            .map_err(workflow_invalid)
            .map_err(invalid)?;
        let needs = Requirements::of_graph(&applied.graph);
        ticket.seedless = applied.unmatched.iter().any(|p| p == "seed");
        let mut refused: Vec<(String, BackendError)> = Vec::new();
        loop {
            let skip: HashSet<String> = refused.iter().map(|(n, _)| n.clone()).collect();
            let (server, reservation) = match self
                .pool
                .pick(&self.group, Some(&needs), &skip, &ticket.prompt_id)
                .await
            {
                Ok(chosen) => chosen,
                Err(e) => {
                    if refused.is_empty() {
                        return Err(e);
                    }
                    // One server tried: its own error is the clearest.
                    if self.group.members.len() == 1 {
                        return Err(refused.remove(0).1);
                    }
                    if let Some(all_down) = self.pool.all_down(&self.group) {
                        return Err(all_down);
                    }
                    let mut none = pool::none_accepted(&self.group.name, &refused);
                    none.message
                        .push_str(&format!("\nThe other servers: {}", e.message));
                    return Err(none);
                }
            };
            let sent = self
                .send_to(
                    &server,
                    &workflow,
                    request,
                    &split.params,
                    &uploads,
                    &mut ticket,
                )
                .await;
            match sent {
                Ok(()) => {
                    reservation.keep();
                    ticket.server = server.name.clone();
                    ticket.refused_by = refused.iter().map(|(n, _)| n.clone()).collect();
                    tracing::info!(prompt_id = %ticket.prompt_id, server = %server.name, workflow = %workflow.name, "ComfyUI prompt queued");
                    return Ok(ticket.to_ticket());
                }
                Err(e) => {
                    drop(reservation);
                    if e.kind != ErrorKind::Unreachable {
                        return Err(e);
                    }
                    // Not accepted there: out of the pool until it answers; next server.
                    server.report_failure(&e);
                    tracing::warn!(server = %server.name, error = %e, prompt_id = %ticket.prompt_id, "ComfyUI server did not accept the job; trying another");
                    refused.push((server.name.clone(), e));
                }
            }
        }
    }

    /// Reads local inputs and downloads remote ones, before any server is chosen.
    async fn read_inputs(
        &self,
        images: Vec<inputs::InputImage>,
    ) -> Result<Vec<Upload>, BackendError> {
        let mut out = Vec::with_capacity(images.len());
        for image in images {
            let source = crate::request::Source {
                label: image.upload_name.clone(),
                path: image.path,
                url: image.url,
            };
            if source.path.is_none() && source.url.is_none() {
                continue;
            }
            let Some(server) = self.group.members.first() else {
                continue;
            };
            let (bytes, _) = server.api.load_source(&source).await?;
            out.push(Upload {
                bytes,
                name: image.upload_name,
            });
        }
        Ok(out)
    }

    /// Uploads the inputs to `server` and posts the graph there.
    async fn send_to(
        &self,
        server: &Arc<Server>,
        workflow: &Workflow,
        request: &GenerateRequest,
        params: &serde_json::Map<String, serde_json::Value>,
        uploads: &[Upload],
        ticket: &mut ComfyTicket,
    ) -> Result<(), BackendError> {
        let mut names = Vec::with_capacity(uploads.len());
        for upload in uploads {
            names.push(
                server
                    .api
                    .upload(upload.bytes.clone(), &upload.name)
                    .await?,
            );
        }
        let applied = workflow
            .apply(&Self::standard(request, names), params)
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
        let partial = server
            .api
            .post_prompt(&applied.graph, server.hub.client_id(), &ticket.prompt_id)
            .await?;
        for line in partial {
            tracing::warn!(prompt_id = %ticket.prompt_id, server = %server.name, "ComfyUI will skip an output: {line}");
        }
        Ok(())
    }
}

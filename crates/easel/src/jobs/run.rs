//! Running one job: submit (ticket stored before tracking), track, then fetch and save each
//! image. Runs on its own task; a cancelled token stops it at the next await.

use std::sync::Arc;
use std::time::SystemTime;

use futures::future::join_all;
use tokio::sync::OwnedSemaphorePermit;
use tokio_util::sync::CancellationToken;

use super::Jobs;
use super::model::{ImageFailure, Job, JobStatus, PendingFile, SavedImage};
use super::slots::Waiting;
use crate::backend::{Backend, BackendError, ErrorKind, EventSink, RemoteImage};
use crate::outputs::{SaveRequest, SavedMedia, default_stem, inspect_media};

/// Progress fractions of the phases: submitting, backend work, saving.
pub(super) const SUBMITTED: f64 = 0.05;
pub(super) const TRACKED: f64 = 0.85;

pub(super) async fn run(
    jobs: Jobs,
    id: String,
    backend: Arc<dyn Backend>,
    slot: Result<OwnedSemaphorePermit, Waiting>,
    cancel: CancellationToken,
) {
    // Wait for a slot on this backend; the permit is held until the job ends.
    let _permit = match slot {
        Ok(permit) => permit,
        Err(waiting) => {
            announce(&jobs, &waiting, backend.name());
            let permit = tokio::select! {
                permit = waiting.take() => permit,
                _ = cancel.cancelled() => None,
            };
            announce(&jobs, &waiting, backend.name());
            match permit {
                Some(permit) => permit,
                None => return stop(&jobs, &id, &*backend).await,
            }
        }
    };
    tokio::select! {
        biased;
        _ = cancel.cancelled() => stop(&jobs, &id, &*backend).await,
        result = drive(&jobs, &id, &*backend) => match result {
            Ok(()) => {}
            Err(error) => jobs.finish(&id, |job| {
                job.status = JobStatus::Failed;
                job.progress.message = format!("failed: {}", error.message);
                job.error = Some(error);
            }),
        },
    }
}

/// Tells every job waiting in this line where it stands.
fn announce(jobs: &Jobs, waiting: &Waiting, backend: &str) {
    for (id, position) in waiting.positions() {
        jobs.update(&id, false, |j| {
            j.progress.queue_position = Some(position);
            j.progress.message = format!("waiting for a free {backend} slot (position {position})");
        });
    }
}

/// Cancels at the backend (when the job got that far) and records the outcome.
async fn stop(jobs: &Jobs, id: &str, backend: &dyn Backend) {
    let ticket = jobs.get(id).ok().flatten().and_then(|j| j.ticket);
    let note = super::cancel::stop_at_backend(ticket.as_ref(), Some(backend)).await;
    jobs.finish(id, |job| super::cancel::mark(job, note));
}

fn raise(job: &mut Job, fraction: f64, message: String) {
    job.progress.fraction = job.progress.fraction.max(fraction.min(1.0));
    job.progress.message = message;
}

async fn drive(jobs: &Jobs, id: &str, backend: &dyn Backend) -> Result<(), BackendError> {
    let gone = || BackendError::new(ErrorKind::Protocol, "job vanished while running");
    let job = jobs.get(id).ok().flatten().ok_or_else(gone)?;
    let job = adopt_pending(jobs, job).await;
    if job.ticket.is_none() && job.status == JobStatus::Running {
        // Resumed after easel stopped between sending the job and storing the answer: the
        // backend may or may not have it, and submitting again could pay twice.
        return Err(BackendError::new(
            ErrorKind::Failed,
            format!(
                "easel stopped while submitting this job to {}; it may or may not have been received there, so easel did not submit it again. Generate again if no images appear.",
                backend.name()
            ),
        ));
    }
    let mut ticket = match job.ticket.clone() {
        Some(ticket) => ticket,
        None => submit(jobs, id, backend, &job, "submitting").await?,
    };

    let sink = {
        let (jobs, id) = (jobs.clone(), id.to_string());
        EventSink::new(move |p| {
            let share = match p.total {
                Some(total) if total > 0 => p.done as f64 / total as f64,
                _ => 0.0,
            };
            jobs.update(&id, false, |j| {
                raise(
                    j,
                    SUBMITTED + (TRACKED - SUBMITTED) * share,
                    p.message.clone(),
                );
                j.progress.queue_position = p.queue_position;
            });
        })
    };
    let mut resubmitted = 0;
    let outcomes = loop {
        match backend.track(&ticket, &sink).await {
            Ok(outcomes) => break outcomes,
            // The backend lost the work (a server died mid-run) and the user allowed
            // submitting it again: same request, new ticket.
            Err(e) if resubmitted < MAX_RESUBMISSIONS && backend.resubmit_after(&e) => {
                resubmitted += 1;
                tracing::warn!(job = id, error = %e, "job lost at the backend; submitting it again");
                jobs.update(id, true, |j| {
                    j.warnings
                        .push(format!("submitted again after: {}", e.message));
                });
                ticket = submit(jobs, id, backend, &job, "submitting again").await?;
            }
            Err(e) => return Err(e),
        }
    };

    let total = outcomes.len();
    jobs.update(id, true, |j| {
        raise(j, TRACKED, format!("downloading {total} image(s)"))
    });
    let (job, ticket) = (&job, &ticket);
    let saves = outcomes.into_iter().map(|outcome| async move {
        match outcome {
            Ok(image) if job.images.iter().any(|s| s.index == image.index) => Ok(None),
            Ok(image) => collect(jobs, job, backend, ticket, image).await.map(Some),
            Err(e) => Err((None, None, e)),
        }
    });
    let mut failures = Vec::new();
    for result in join_all(saves).await {
        if let Err((index, seed, error)) = result {
            failures.push((index, seed, error));
        }
    }
    let mut images = jobs
        .get(id)
        .ok()
        .flatten()
        .map(|j| j.images)
        .unwrap_or_default();
    images.sort_by_key(|s| s.index);
    let failures: Vec<ImageFailure> = failures
        .into_iter()
        .map(|(index, seed, error)| ImageFailure {
            index: index.unwrap_or(u32::MAX),
            seed,
            error,
        })
        .collect();
    if images.is_empty() {
        let error = summarize(&failures);
        jobs.finish(id, |j| {
            j.status = JobStatus::Failed;
            j.progress.message = format!("failed: {}", error.message);
            j.failures = failures;
            j.error = Some(error);
        });
        return Ok(());
    }
    jobs.finish(id, |j| {
        j.status = JobStatus::Succeeded;
        raise(j, 1.0, format!("saved {} image(s)", images.len()));
        j.images = images;
        j.failures = failures;
    });
    Ok(())
}

/// How often one job may be submitted again after its backend lost it.
const MAX_RESUBMISSIONS: u32 = 2;

/// Prepares, stores and sends the job; returns the ticket, stored before anything tracks it
/// so that a restart resumes from here.
async fn submit(
    jobs: &Jobs,
    id: &str,
    backend: &dyn Backend,
    job: &Job,
    doing: &str,
) -> Result<crate::backend::Ticket, BackendError> {
    let prepared = backend.prepare(&job.request);
    jobs.update(id, true, |j| {
        j.status = JobStatus::Running;
        j.ticket = prepared.clone();
        j.progress.queue_position = None;
        raise(j, 0.01, format!("{doing} to {}", backend.name()));
    });
    let ticket = backend.submit(&job.request, prepared.as_ref()).await?;
    jobs.update(id, true, |j| {
        j.ticket = Some(ticket.clone());
        raise(j, SUBMITTED, format!("submitted to {}", backend.name()));
    });
    Ok(ticket)
}

type Failure = (Option<u32>, Option<u64>, BackendError);

/// Finishes the saves a crash interrupted: a file already in place as recorded is the image
/// (recorded as saved, not downloaded again); any other pending record is dropped and that
/// image is fetched as usual. Returns the job as it is now.
async fn adopt_pending(jobs: &Jobs, job: Job) -> Job {
    if job.pending_files.is_empty() {
        return job;
    }
    let outputs = jobs.outputs().clone();
    let pending = job.pending_files.clone();
    let found = tokio::task::spawn_blocking(move || {
        pending
            .into_iter()
            .map(|p| {
                let there = outputs.holds(&p.image.path, p.image.bytes, &p.sha256);
                (p, there)
            })
            .collect::<Vec<_>>()
    })
    .await
    .unwrap_or_default();
    jobs.update(&job.id, true, |j| {
        for (p, there) in found {
            j.pending_files.retain(|q| q.image.index != p.image.index);
            if there && !j.images.iter().any(|s| s.index == p.image.index) {
                tracing::info!(job = %j.id, path = %p.image.path.display(), "adopting an image saved before easel stopped");
                j.images.push(p.image);
            }
        }
    })
    .unwrap_or(job)
}

/// The record of an image saved as `file`.
fn saved_image(file: &SavedMedia, image: &RemoteImage, seed: Option<u64>) -> SavedImage {
    SavedImage {
        index: image.index,
        path: file.path.clone(),
        url: image.url.clone(),
        mime: file.mime.to_string(),
        width: file.width,
        height: file.height,
        bytes: file.bytes,
        seed,
        revised_prompt: image.revised_prompt.clone(),
        usage: image.usage.clone(),
        media: file.class,
    }
}

/// Downloads one image, checks it, and saves it under the output root.
async fn collect(
    jobs: &Jobs,
    job: &Job,
    backend: &dyn Backend,
    ticket: &crate::backend::Ticket,
    image: RemoteImage,
) -> Result<SavedImage, Failure> {
    let fail = |e: BackendError| (Some(image.index), image.seed, e);
    // Held until the image is on disk, so its bytes are in memory only while it has a slot.
    let _slot = transfer_slots().acquire().await.ok();
    let fetched = backend.fetch(ticket, &image).await.map_err(fail)?;
    inspect_media(&fetched.bytes, fetched.content_type.as_deref())
        .map_err(|e| fail(BackendError::new(ErrorKind::Download, e.to_string())))?;
    let seed = (!image.seedless).then(|| {
        image
            .seed
            .unwrap_or_else(|| job.request.seed_for(image.index))
    });
    let base = match &job.output.stem {
        Some(stem) => stem.clone(),
        None => default_stem(&job.request.prompt, seed, SystemTime::now()),
    };
    // Images of one call share a time and may share a seed (a ComfyUI batch): the index
    // keeps their names apart and in order.
    let stem = if job.request.count > 1 {
        format!("{base}-{}", image.index + 1)
    } else {
        base
    };
    jobs.update(&job.id, false, |j| {
        j.progress.message = format!("saving image {} of {}", image.index + 1, job.request.count);
    });
    let outputs = jobs.outputs().clone();
    let dir = job.output.dir.clone();
    let format = job.output.format;
    let bytes = fetched.bytes.clone();
    let (owner, id, remote) = (jobs.clone(), job.id.clone(), image.clone());
    let saved = tokio::task::spawn_blocking(move || {
        // The name is recorded before the file takes it, so a crash at any point leaves a
        // record that finds the file (see `adopt_pending`).
        outputs.save_media(
            &SaveRequest {
                dir: dir.as_deref(),
                stem: &stem,
                bytes: &bytes,
                format,
            },
            &mut |file, sha256| {
                owner.record_pending(
                    &id,
                    PendingFile {
                        image: saved_image(file, &remote, seed),
                        sha256: sha256.to_string(),
                    },
                )
            },
        )
    })
    .await
    .map_err(|e| format!("saving was interrupted: {e}"))
    .and_then(|saved| saved.map_err(|e| e.to_string()));
    let saved = match saved {
        Ok(file) => saved_image(&file, &image, seed),
        Err(message) => {
            jobs.update(&job.id, true, |j| {
                j.pending_files.retain(|p| p.image.index != image.index)
            });
            return Err(fail(BackendError::new(
                ErrorKind::Save,
                format!("{message}. {RETRY_SAVE_HINT}"),
            )));
        }
    };
    tracing::info!(job = %job.id, path = %saved.path.display(), "image saved");
    // Recorded at once, so that a restart never downloads or writes this image again.
    jobs.update(&job.id, true, |j| {
        j.pending_files.retain(|p| p.image.index != saved.index);
        j.images.push(saved.clone());
    });
    Ok(saved)
}

/// How to get an image whose save failed without generating it again.
pub(super) const RETRY_SAVE_HINT: &str = "The backend made the image: once the cause is fixed, get_job with retry_save: true fetches and saves it again without a new generation";

/// Images downloaded and saved at once, process-wide.
///
/// A burst of finished jobs (256 at once in the benchmark) would otherwise hold every image's
/// bytes in memory together; 16 transfers keep local disks and networks busy while memory
/// stays at a few dozen megabytes.
const TRANSFER_SLOTS: usize = 16;

fn transfer_slots() -> &'static tokio::sync::Semaphore {
    static SLOTS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    SLOTS.get_or_init(|| tokio::sync::Semaphore::new(TRANSFER_SLOTS))
}

/// One error for a job none of whose images could be made.
fn summarize(failures: &[ImageFailure]) -> BackendError {
    match failures {
        [] => BackendError::new(
            ErrorKind::Failed,
            "the backend returned no images; generate again",
        ),
        [one] => one.error.clone(),
        [first, rest @ ..] => {
            let mut e = first.error.clone();
            if rest.iter().all(|f| f.error.message == first.error.message) {
                e.message = format!("all {} images failed: {}", failures.len(), e.message);
            } else {
                let others: Vec<String> = rest.iter().map(|f| f.error.to_string()).collect();
                e.message = format!(
                    "all {} images failed: {}; {}",
                    failures.len(),
                    e.message,
                    others.join("; ")
                );
            }
            e
        }
    }
}

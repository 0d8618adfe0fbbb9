//! Assembling easel from its configuration: the output root, the backends, the job store.

use std::sync::Arc;

use crate::backend::Backend;
use crate::backend::modelscope::ModelScope;
use crate::config::Config;
use crate::jobs::{Jobs, MemoryStore};
use crate::outputs::OutputRoot;
use crate::service::{EaselServer, ServiceOptions};

/// Why easel could not start; each names what to fix.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(
        "output root {path}: {message}. Set EASEL_OUTPUT_DIR or output_dir in the configuration file to a writable folder."
    )]
    Output { path: String, message: String },
    #[error("backend {name}: {message}")]
    Backend { name: &'static str, message: String },
}

/// The job manager for `config`.
pub fn jobs(config: &Config) -> Result<Jobs, StartError> {
    let outputs = OutputRoot::new(&config.output_dir).map_err(|e| StartError::Output {
        path: config.output_dir.display().to_string(),
        message: e.to_string(),
    })?;
    let modelscope =
        ModelScope::new(config.modelscope.clone()).map_err(|e| StartError::Backend {
            name: "modelscope",
            message: e.to_string(),
        })?;
    let backends: Vec<Arc<dyn Backend>> = vec![Arc::new(modelscope)];
    Ok(Jobs::new(
        Arc::new(MemoryStore::default()),
        backends,
        config.default_backend.clone(),
        outputs,
    ))
}

/// The MCP server for `config`, over the given jobs.
pub fn server(config: &Config, jobs: Jobs) -> EaselServer {
    EaselServer::new(
        jobs,
        ServiceOptions {
            wait_seconds: config.wait_seconds,
            ..ServiceOptions::default()
        },
    )
}

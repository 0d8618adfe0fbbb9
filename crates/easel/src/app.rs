//! Assembling easel from its configuration: the output root, the backends, the job store.

use std::sync::Arc;

use crate::backend::Backend;
use crate::backend::comfyui::ComfyUi;
use crate::backend::modelscope::ModelScope;
use crate::backend::openai::OpenAiCompat;
use crate::config::Config;
use crate::jobs::{JobStore, Jobs, MemoryStore, PgStore, SqliteStore};
use crate::outputs::{InputRoots, OutputRoot};
use crate::service::{EaselServer, ServiceOptions};
use crate::workflows::Library;
use secrecy::ExposeSecret;

/// File name of the job store inside the data dir.
pub const JOB_STORE_FILE: &str = "jobs.db";

/// Why easel could not start; each names what to fix.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(
        "output root {path}: {message}. Set EASEL_OUTPUT_DIR or output_dir in the configuration file to a writable folder."
    )]
    Output { path: String, message: String },
    #[error("backend {name}: {message}")]
    Backend { name: &'static str, message: String },
    #[error("{0}")]
    Store(String),
}

/// Where jobs are kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Storage {
    /// SQLite in the data dir: survives restarts (serving, the CLI).
    Durable,
    /// Memory only (`easel demo`, whose simulator is gone after it ends).
    Ephemeral,
}

/// A running easel: its jobs and the workflow library they share with the MCP tools.
#[derive(Clone)]
pub struct App {
    pub jobs: Jobs,
    pub library: Arc<Library>,
    /// Shared by every server value, so publishes to one account never overlap.
    pub publishers: crate::publish::Publishers,
}

/// Builds easel for `config`. Call [`Jobs::start_background`] once a runtime runs.
pub fn build(config: &Config, storage: Storage) -> Result<App, StartError> {
    let outputs = OutputRoot::new(&config.output_dir).map_err(|e| StartError::Output {
        path: config.output_dir.display().to_string(),
        message: e.to_string(),
    })?;
    let library = Arc::new(Library::new(Some(config.comfyui.workflows_dir.clone())));
    let modelscope =
        ModelScope::new(config.modelscope.clone()).map_err(|e| StartError::Backend {
            name: "modelscope",
            message: e.to_string(),
        })?;
    // `comfyui` and one backend per pool, over the same servers.
    let comfyui = ComfyUi::backends(
        config.comfyui.clone(),
        library.clone(),
        InputRoots::new(outputs.clone(), &config.input_dirs),
    )
    .map_err(|e| StartError::Backend {
        name: "comfyui",
        message: e.to_string(),
    })?;
    let mut backends: Vec<Arc<dyn Backend>> = vec![Arc::new(modelscope)];
    backends.extend(comfyui.into_iter().map(|b| Arc::new(b) as Arc<dyn Backend>));
    for provider in &config.providers {
        let backend = OpenAiCompat::new(provider.clone()).map_err(|e| StartError::Backend {
            name: "providers",
            message: e.to_string(),
        })?;
        backends.push(Arc::new(backend));
    }
    let store: Arc<dyn JobStore> = match storage {
        Storage::Durable => match &config.jobs.database_url {
            Some(url) => Arc::new(
                PgStore::open(url.expose_secret()).map_err(|e| StartError::Store(e.to_string()))?,
            ),
            None => Arc::new(
                SqliteStore::open(&config.data_dir.join(JOB_STORE_FILE))
                    .map_err(|e| StartError::Store(e.to_string()))?,
            ),
        },
        Storage::Ephemeral => Arc::new(MemoryStore::default()),
    };
    let jobs = Jobs::new(
        store,
        backends,
        config.default_backend.clone(),
        outputs,
        config.jobs.clone(),
    );
    Ok(App {
        jobs,
        library,
        publishers: crate::publish::Publishers::new(config.publishing.clone()),
    })
}

impl App {
    /// The MCP server for `config` over this app's jobs.
    pub fn server(&self, config: &Config) -> EaselServer {
        EaselServer::new(
            self.jobs.clone(),
            self.library.clone(),
            ServiceOptions {
                wait_seconds: config.wait_seconds,
                heartbeat: config.jobs.heartbeat,
                workflow_tools: config.comfyui.workflow_tools,
                input_dirs: config.input_dirs.clone(),
                publishers: self.publishers.clone(),
                confirm: config.confirm.clone(),
                ..ServiceOptions::default()
            },
        )
    }
}

//! Simulators of the services easel talks to, written from `docs/contracts/`.
//!
//! Production code must never know it is talking to a simulator: each one serves the
//! real protocol over real HTTP on a local port, so only the base URL differs. Tests,
//! benchmarks and `easel demo` use them to run the whole flow offline, and switch on
//! faults (errors, quotas, slow or broken answers) that the real services show only
//! rarely.

#![warn(missing_docs)]

pub mod bomb;
pub mod clip;
pub mod comfyui;
pub mod modelscope;
pub mod openai;
pub mod picture;
pub mod record;
mod serve;
pub mod webhook;
pub mod xhs;

pub use comfyui::{ComfyConfig, ComfySim};
pub use modelscope::{ModelScopeConfig, ModelScopeSim};
pub use openai::{OpenAiConfig, OpenAiSim, ProviderMode};
pub use record::RecordedRequest;
pub use webhook::{WebhookConfig, WebhookSink};
pub use xhs::{XhsConfig, XhsSim};

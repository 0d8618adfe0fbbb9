//! easel's integration tests, as one test binary (ripgrep's layout): each behaviour is a
//! module, all share the harness in `common`. One binary links the easel crate once instead
//! of once per file, which was most of the test build's time. Select a group by its module
//! path: `cargo test -p easel --test tests surface::`.
//!
//! The tests share one process, so none may change process-wide state (environment, current
//! directory): children get their environment through `Command::envs`, easel in-process
//! through `Config`, and the rustls provider is installed idempotently by every harness.

// A test reports by failing: unwrap, expect and panic are its assertions here (the workspace
// denies them in production code; clippy.toml allows them only inside #[test] functions,
// not in the harness and helpers these modules share).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

mod batch;
mod binary;
mod comfy_pool;
mod comfyui;
mod confirm;
mod files_and_previews;
mod gallery;
mod generate_errors;
mod generate_modelscope;
mod http;
mod jobs_durable;
mod jobs_wait;
mod mcp_app;
mod providers_and_edits;
mod publish;
mod replica;
mod shared_store;
mod store_migrate;
mod surface;
mod tasks;
mod tasks_durable;

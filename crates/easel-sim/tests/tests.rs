//! The simulators' tests, as one test binary (ripgrep's layout): a module per simulator,
//! each driving it over real HTTP as a production client would. One binary links the crate
//! once instead of once per file. Select a group by its module path:
//! `cargo test -p easel-sim --test tests comfyui::`.

// A test reports by failing: unwrap, expect and panic are its assertions here (the workspace
// denies them in production code; clippy.toml allows them only inside #[test] functions,
// not in the harness and helpers these modules share).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

mod comfyui;
mod modelscope;
mod openai;
mod webhook;
mod xhs;

//! easel: an MCP server and command line that make images and put them to use.
//!
//! Data flows down once: `service` (MCP) and `cli` parse and validate, `jobs` runs every
//! generation through a [`backend::Backend`], and `outputs` saves the files.

pub mod app;
pub mod backend;
pub mod batch;
pub mod cli;
pub mod clock;
pub mod config;
pub mod gallery;
pub mod intake;
pub mod jobs;
pub mod logging;
pub mod outputs;
pub mod process;
pub mod publish;
pub mod request;
pub mod serve;
pub mod service;
pub mod since;
pub mod sources;
pub mod workflows;

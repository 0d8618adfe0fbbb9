//! easel: an MCP server and command line that make images and put them to use.
//!
//! Data flows down once: `service` (MCP) and `cli` parse and validate, `jobs` runs every
//! generation through a [`backend::Backend`], and `outputs` saves the files.

pub mod config;
pub mod backend;
pub mod request;
pub mod clock;
pub mod jobs;
pub mod service;
pub mod app;
pub mod cli;
pub mod logging;
pub mod serve;

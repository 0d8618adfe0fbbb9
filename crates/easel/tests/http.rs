//! `easel serve --http`: Streamable HTTP at /mcp, legacy SSE at /sse + /messages, /healthz;
//! bearer auth, Host/Origin checks, limits, session clean-up and graceful shutdown. Drives
//! an in-process server on 127.0.0.1:0 with raw HTTP, rmcp's HTTP client and a small SSE
//! client, and the real binary where start-up and signals matter. `versions` also runs the
//! protocol-version matrix over stdio, so that every transport is checked in one table.

// A test reports by failing: unwrap, expect and panic are its assertions here (the workspace
// denies them in production code; clippy.toml allows them only inside #[test] functions).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "common/mod.rs"]
mod common;

#[path = "http/support.rs"]
mod support;

#[path = "http/auth.rs"]
mod auth;
#[path = "http/connections.rs"]
mod connections;
#[path = "http/flow.rs"]
mod flow;
#[path = "http/guard.rs"]
mod guard;
#[path = "http/jsonrpc.rs"]
mod jsonrpc;
#[path = "http/lifecycle.rs"]
mod lifecycle;
#[path = "http/limits.rs"]
mod limits;
#[path = "http/versions.rs"]
mod versions;

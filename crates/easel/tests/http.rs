//! `easel serve --http`: Streamable HTTP at /mcp, legacy SSE at /sse + /messages, /healthz;
//! bearer auth, Host/Origin checks, limits, session clean-up and graceful shutdown. Drives
//! an in-process server on 127.0.0.1:0 with raw HTTP, rmcp's HTTP client and a small SSE
//! client, and the real binary where start-up and signals matter. `versions` also runs the
//! protocol-version matrix over stdio, so that every transport is checked in one table.

pub(crate) mod support;

mod auth;
mod connections;
mod flow;
mod guard;
mod jsonrpc;
mod lifecycle;
mod limits;
mod versions;

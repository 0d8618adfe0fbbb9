//! easel: an MCP server and command line that make images and put them to use.

pub mod outputs;

//! The one way parameters become a job, whatever the transport: MCP tools, per-workflow
//! tools, batch lines, `easel generate`/`easel batch`, MCP tasks, and a stored job run
//! again. Callers convert what they were given into a typed [`JobInput`] (JSON only where
//! the input is JSON by nature: MCP arguments, .jsonl lines); defaults, the wait budget and
//! the backend's default model and workflow are filled in here, and refusals name the field
//! as the caller spelled it ([`Face`]).

mod face;
mod input;

pub use face::{Face, Field};
pub use input::{Accepted, JobInput, WaitLimits};

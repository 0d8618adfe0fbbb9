//! Workflows shipped inside the binary. Between them they use all three ways of finding
//! parameters: `flux-dev` and `img2img` are found by detection, `sd-checkpoint` by title
//! markers, `qwen-image` by placeholders (plus detection for the sampler settings it
//! leaves literal).

use std::sync::Arc;

use super::workflow::{Workflow, WorkflowSource};

/// (name, API-format JSON with an `"easel"` metadata block).
pub const SOURCES: &[(&str, &str)] = &[
    ("flux-dev", include_str!("builtin/flux-dev.json")),
    ("img2img", include_str!("builtin/img2img.json")),
    ("qwen-image", include_str!("builtin/qwen-image.json")),
    ("sd-checkpoint", include_str!("builtin/sd-checkpoint.json")),
];

/// The built-ins that load. A failure is a bug caught by the tests; at run time it is
/// logged and that one workflow is left out rather than taking the server down.
pub fn all() -> Vec<Arc<Workflow>> {
    SOURCES
        .iter()
        .filter_map(|(name, text)| {
            match Workflow::from_json(name, text, None, WorkflowSource::Builtin) {
                Ok(w) => Some(Arc::new(w)),
                Err(e) => {
                    tracing::error!(workflow = name, error = %e, "built-in workflow does not load");
                    None
                }
            }
        })
        .collect()
}

//! Why a workflow cannot be loaded or applied. Every message names what is wrong and what
//! to do about it, since it reaches the user through the agent.

use crate::request::InvalidInput;

#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum WorkflowError {
    #[error(
        "workflow {name:?} is a UI-format export (nodes/links); in ComfyUI use Workflow → Export (API) and save that file instead"
    )]
    UiFormat { name: String },

    #[error(
        "workflow {name:?} is not valid JSON: {message}. Fix the file, or export it again from ComfyUI with Workflow → Export (API)"
    )]
    Json { name: String, message: String },

    #[error("workflow {name:?}: the parameter metadata ({place}) {message}")]
    Sidecar {
        name: String,
        /// "the \"easel\" block" or the sidecar's file name.
        place: String,
        message: String,
    },

    #[error(
        "workflow {name:?} is not an API-format graph: {reason}. Export it from ComfyUI with Workflow → Export (API)"
    )]
    Graph { name: String, reason: String },

    #[error("workflow {name:?}: placeholder in node {node_id} input {input:?}: {reason}")]
    Placeholder {
        name: String,
        node_id: String,
        input: String,
        reason: String,
    },

    #[error("workflow {name:?}: title marker ${marker} on node {node_id}: {reason}")]
    Marker {
        name: String,
        node_id: String,
        /// The token without its `$`, e.g. "prompt.text".
        marker: String,
        reason: String,
    },

    #[error(
        "workflow {name:?} has no place for the prompt: no KSampler/SamplerCustom whose positive input leads to a text encoder, no {{{{prompt}}}} placeholder and no $prompt.<input> title marker. Rename the prompt node in ComfyUI to include \"$prompt.text\" (or write \"{{{{prompt}}}}\" as its text) and export again"
    )]
    NoPrompt { name: String },

    #[error("unknown workflow {name:?}; available: {}. Put {name}.json (an API-format export) in the workflows folder to add it", known.join(", "))]
    Unknown { name: String, known: Vec<String> },

    #[error("workflow file {name:?} cannot be used: {reason}")]
    BadName { name: String, reason: String },

    #[error("workflow {name:?} could not be read: {message}")]
    Io { name: String, message: String },

    #[error(transparent)]
    Invalid(#[from] InvalidInput),
}

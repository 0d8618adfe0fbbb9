//! ComfyUI workflows: the user's own API-format JSON files plus built-ins, and how a
//! request's parameters are written into them.
//!
//! A workflow is a file `<name>.json` in the workflows folder, exported from ComfyUI with
//! **Workflow → Export (API)** (the plain "Save" format, with top-level `nodes` and `links`
//! arrays, is refused with that instruction). Its name is the file stem; a user file
//! overrides a built-in of the same name. Files are re-read when their modification time
//! or size changes.
//!
//! # How parameters reach the graph
//!
//! Three ways, in this precedence **per parameter**: a parameter bound one way is not
//! bound by a lower way, and no input is written by two parameters.
//!
//! ## 1. Placeholders in values
//!
//! A string input value that is exactly one placeholder is replaced by the typed value:
//!
//! | written            | meaning                                           |
//! |--------------------|---------------------------------------------------|
//! | `"{{name}}"`       | parameter `name` (type: the standard one, else string) |
//! | `"{{name:int}}"`   | typed: `string`, `int`, `float`, `bool`, `image`   |
//! | `"{{name:float=3.5}}"` | typed, with a default (parsed as that type)    |
//! | `"{{name=text}}"`  | default without a type (`{{negative_prompt=}}`: empty) |
//!
//! e.g. `"seed": "{{seed:int}}"` becomes `"seed": 42` and `"cfg": "{{guidance:float=3.5}}"`
//! becomes `"cfg": 3.5`. Inside longer text a placeholder is replaced by the value's text:
//! `"a photo of {{subject}}, 8k"`. Placeholders are also found inside
//! `{"__value__": [...]}` literal lists; links (`["4", 0]`) are never touched. Names are a
//! letter or `_` followed by letters, digits and `_`; `{{` not followed by a valid name
//! stays literal text, but a valid name with an unknown type is an error. A parameter used
//! in several places must have one type and at most one default. A placeholder without a
//! default makes the parameter required (except `negative_prompt`, which defaults to "").
//!
//! ## 2. Title markers
//!
//! So that parameters can be marked in the ComfyUI editor (rename the node, then export),
//! a node's title (`_meta.title`) may hold tokens `$name.input[!][:description]`:
//! `$prompt.text`, `$seed.seed`, `$width.width $height.height`,
//! `$style.text!:Art style to apply`. `!` makes the parameter required; the description
//! runs from `:` to the next token or the end of the title. The input must exist and hold
//! a typed-in value (not a link). The type is the current value's (string, int, float,
//! bool), except `LoadImage.image` (image) and well-known float inputs such as `cfg` and
//! `denoise`, which stay floats when an export writes `8` for 8.0. The default is the
//! current value. `$output.…` tokens (Pixelle-MCP's output markers) are ignored.
//!
//! ## 3. Structural detection
//!
//! For unmarked graphs, from each sampler (KSampler, KSamplerAdvanced, SamplerCustom,
//! SamplerCustomAdvanced with its RandomNoise/CFGGuider/KSamplerSelect/BasicScheduler):
//! `positive` and `negative` are followed through links (FluxGuidance,
//! ConditioningCombine, ControlNetApply, …) to the text encoders that feed each; the prompt
//! goes only to positive-path encoders and the negative prompt only to negative-path ones
//! (never "every CLIPTextEncode"). A `ConditioningZeroOut` on the negative path means the
//! workflow has no negative prompt. Width, height and batch come from the empty-latent node
//! the first pass's `latent_image` starts from; seed goes to every sampler; steps,
//! sampler_name, scheduler and denoise to the first pass; guidance to a FluxGuidance on the
//! positive path, else the sampler's cfg; model to the CheckpointLoaderSimple `ckpt_name`
//! or UNETLoader `unet_name` behind the sampler's model; images to `LoadImage` nodes in
//! node-id order (`image`, or `image_1`, `image_2`, … when there are several; skipped if
//! a placeholder or marker already declared an image).
//!
//! # Metadata
//!
//! A sidecar `<name>.meta.json`, or a top-level `"easel"` block in the workflow file (which
//! is removed before the graph is sent to ComfyUI), documents the workflow:
//!
//! ```json
//! {"description": "What this workflow makes",
//!  "params": {"subject": {"description": "…", "default": "a cat", "min": 1, "max": 10,
//!                         "choices": ["a", "b"], "type": "string", "required": true}}}
//! ```
//!
//! Every key is optional; unknown keys and entries for parameters the workflow does not
//! have are errors (so typos surface). The sidecar wins over the inline block field by
//! field. `type` overrides what a placeholder or marker implies.
//!
//! # Standard parameters
//!
//! `prompt`, `negative_prompt`, `width`, `height`, `seed`, `steps`, `guidance`, `batch`
//! (the request's count), `sampler_name`, `scheduler`, `denoise`, `model`, and images
//! (`image`, `image_N`) have fixed types and ComfyUI's own bounds, and are filled from
//! [`StandardInputs`]; everything else comes from the `params` map of
//! [`Workflow::apply`], which may also name standard parameters (and then wins).
//! `prompt` never has a default. Standard inputs that carry a value but have no place in
//! the graph, and `params` keys that name nothing, are returned in [`Applied::unmatched`].
//!
//! A workflow must take a prompt, an image or a workflow-specific parameter; one that takes
//! none of these is refused ([`WorkflowError::NoPrompt`]), since detection evidently did
//! not understand it. An image-only workflow (an upscaler, image-to-image with a fixed
//! prompt) is fine: the request's prompt is then reported as unmatched.
//!
//! # Values
//!
//! Values are checked before anything is sent: `string` takes JSON strings; `int` takes
//! integers, integral floats (`20.0`) and numeric strings (`"20"`), and refuses `7.5`;
//! `float` takes numbers and numeric strings; `bool` takes `true`/`false` and the strings
//! "true"/"false"; `image` takes a non-empty string. `null` means "not given". Then `min`,
//! `max` and `choices` apply. Errors are [`InvalidInput`](crate::request::InvalidInput)s
//! naming the parameter, the reason and the fix.

mod bind;
mod builtin;
mod detect;
mod error;
mod graph;
mod library;
mod markers;
mod meta;
mod params;
mod placeholder;
mod schema;
mod workflow;

#[cfg(test)]
mod tests;

pub use library::{Library, Problem};
pub use schema::workflow_schema;
pub use workflow::{
    Applied, Binding, BindingVia, MODEL_INPUTS, ModelRef, ParamKind, ParamSpec, Requirements,
    StandardInputs, Workflow, WorkflowError, WorkflowSource,
};

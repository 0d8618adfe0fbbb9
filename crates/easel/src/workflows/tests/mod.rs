//! Tests of the workflows module, one file per behaviour.

mod builtins;
mod detection;
mod library;
mod markers;
mod placeholders;
mod schema;
mod values;

use serde_json::{Map, Value};

use super::{Applied, StandardInputs, Workflow, WorkflowError, WorkflowSource};

/// Loads a graph written with `json!`.
fn load(graph: &Value) -> Workflow {
    try_load(graph).unwrap_or_else(|e| panic!("{e}"))
}

fn try_load(graph: &Value) -> Result<Workflow, WorkflowError> {
    Workflow::from_json("t", &graph.to_string(), None, WorkflowSource::Builtin)
}

fn builtin(name: &str) -> Workflow {
    let (_, text) = super::builtin::SOURCES
        .iter()
        .find(|(n, _)| *n == name)
        .expect("built-in exists");
    Workflow::from_json(name, text, None, WorkflowSource::Builtin).unwrap_or_else(|e| panic!("{e}"))
}

fn inputs(prompt: &str) -> StandardInputs {
    StandardInputs {
        prompt: prompt.into(),
        ..StandardInputs::default()
    }
}

fn no_params() -> Map<String, Value> {
    Map::new()
}

fn params(v: Value) -> Map<String, Value> {
    v.as_object().expect("object").clone()
}

/// The value of a node's input in an applied graph.
fn at<'a>(a: &'a Applied, node: &str, input: &str) -> &'a Value {
    &a.graph[node]["inputs"][input]
}

fn names(w: &Workflow) -> Vec<&str> {
    w.params.iter().map(|p| p.name.as_str()).collect()
}

/// KSampler + two encoders + empty latent: the smallest graph detection understands.
fn basic_graph() -> Value {
    serde_json::json!({
        "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sd.safetensors"}},
        "5": {"class_type": "EmptyLatentImage", "inputs": {"width": 512, "height": 512, "batch_size": 1}},
        "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "pos", "clip": ["4", 1]}},
        "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "neg", "clip": ["4", 1]}},
        "3": {"class_type": "KSampler", "inputs": {
            "seed": 1, "steps": 20, "cfg": 7, "sampler_name": "euler", "scheduler": "normal", "denoise": 1,
            "model": ["4", 0], "positive": ["6", 0], "negative": ["7", 0], "latent_image": ["5", 0]}},
        "8": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["4", 2]}},
        "9": {"class_type": "SaveImage", "inputs": {"images": ["8", 0], "filename_prefix": "easel"}}
    })
}

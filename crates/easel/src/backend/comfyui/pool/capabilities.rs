//! What a server can run, digested from its `/object_info` (docs/contracts/comfyui.md §7): the
//! node classes it has and, for loader inputs that name model files, the files it offers.
//! A real server's `/object_info` is megabytes; only this digest is kept.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::workflows::{MODEL_INPUTS, ModelRef, Requirements};

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Capabilities {
    pub node_classes: BTreeSet<String>,
    /// (class, input) → the files that input offers.
    models: BTreeMap<(String, String), Vec<String>>,
}

/// One thing a server lacks for a job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lack {
    NodeType(String),
    Model(ModelRef),
}

impl Lack {
    /// "checkpoint flux1-dev.safetensors", "node type Foo (a custom node)", for messages.
    pub fn describe(&self) -> String {
        match self {
            Lack::NodeType(class) => format!("node type {class} (a custom node)"),
            Lack::Model(m) => format!("{} {}", model_kind(&m.input), m.file),
        }
    }
}

/// What people call the file a loader input names.
pub fn model_kind(input: &str) -> &'static str {
    match input {
        "ckpt_name" => "checkpoint",
        "unet_name" => "diffusion model",
        "vae_name" => "VAE",
        "lora_name" => "LoRA",
        "control_net_name" => "ControlNet model",
        "style_model_name" => "style model",
        i if i.starts_with("clip_name") => "text encoder",
        _ => "model file",
    }
}

/// Loader inputs whose folder easel can name in a hint.
pub const MODEL_INPUTS_WITH_FOLDERS: &[&str] = &[
    "ckpt_name",
    "unet_name",
    "clip_name",
    "clip_name1",
    "clip_name2",
    "vae_name",
    "lora_name",
];

/// Where ComfyUI looks for the files a loader input names.
pub fn model_folder(input: &str) -> &'static str {
    match input {
        "ckpt_name" => "models/checkpoints",
        "unet_name" => "models/diffusion_models",
        "vae_name" => "models/vae",
        "lora_name" => "models/loras",
        "control_net_name" => "models/controlnet",
        "style_model_name" => "models/style_models",
        i if i.starts_with("clip_name") => "models/text_encoders",
        _ => "models",
    }
}

/// The options of a combo input, in the old `[[...], {...}]` and the new
/// `["COMBO", {"options": [...]}]` forms.
fn combo(spec: &Value) -> Option<Vec<String>> {
    let list = match spec.get(0)? {
        Value::Array(items) => items,
        Value::String(s) if s == "COMBO" => spec.get(1)?.get("options")?.as_array()?,
        _ => return None,
    };
    Some(
        list.iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
    )
}

impl Capabilities {
    pub fn from_object_info(info: &Value) -> Capabilities {
        let mut caps = Capabilities::default();
        let Some(classes) = info.as_object() else {
            return caps;
        };
        for (class, spec) in classes {
            caps.node_classes.insert(class.clone());
            for section in ["required", "optional"] {
                let Some(inputs) = spec.pointer(&format!("/input/{section}")) else {
                    continue;
                };
                for input in MODEL_INPUTS {
                    if let Some(files) = inputs.get(*input).and_then(combo) {
                        caps.models
                            .insert((class.clone(), (*input).to_string()), files);
                    }
                }
            }
        }
        caps
    }

    /// The files `class.input` offers, when the server lists them.
    pub fn options(&self, class: &str, input: &str) -> Option<&[String]> {
        self.models
            .get(&(class.to_string(), input.to_string()))
            .map(Vec::as_slice)
    }

    /// Everything of `needs` this server lacks. A model input whose options the server does
    /// not list cannot be checked and counts as present (ComfyUI itself will judge it).
    pub fn lacks(&self, needs: &Requirements) -> Vec<Lack> {
        let mut out: Vec<Lack> = needs
            .node_classes
            .iter()
            .filter(|c| !self.node_classes.contains(*c))
            .map(|c| Lack::NodeType(c.clone()))
            .collect();
        for m in &needs.models {
            if let Some(files) = self.options(&m.class_type, &m.input)
                && !files.contains(&m.file)
            {
                out.push(Lack::Model(m.clone()));
            }
        }
        out
    }

    /// Files offered by every loader input called `input` (all checkpoint loaders, …).
    fn files_of(&self, input: &str) -> BTreeSet<&str> {
        self.models
            .iter()
            .filter(|((_, i), _)| i == input)
            .flat_map(|(_, files)| files.iter().map(String::as_str))
            .collect()
    }

    pub fn checkpoints(&self) -> usize {
        self.files_of("ckpt_name").len()
    }

    pub fn loras(&self) -> usize {
        self.files_of("lora_name").len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn info() -> Value {
        json!({
            "CheckpointLoaderSimple": {"input": {"required": {"ckpt_name": [["a.safetensors", "b.safetensors"], {}]}}},
            "LoraLoader": {"input": {"required": {"lora_name": ["COMBO", {"options": ["style.safetensors"]}], "strength_model": ["FLOAT", {}]}}},
            "KSampler": {"input": {"required": {"seed": ["INT", {}]}}},
        })
    }

    fn needs(classes: &[&str], models: &[(&str, &str, &str)]) -> Requirements {
        Requirements {
            node_classes: classes.iter().map(|c| c.to_string()).collect(),
            models: models
                .iter()
                .map(|(class, input, file)| ModelRef {
                    node_id: "1".into(),
                    class_type: class.to_string(),
                    input: input.to_string(),
                    file: file.to_string(),
                })
                .collect(),
        }
    }

    #[test]
    fn digests_classes_and_model_files_in_both_combo_forms() {
        let caps = Capabilities::from_object_info(&info());
        assert_eq!(caps.node_classes.len(), 3);
        assert_eq!(caps.checkpoints(), 2);
        assert_eq!(caps.loras(), 1);
        assert_eq!(
            caps.options("LoraLoader", "lora_name"),
            Some(&["style.safetensors".to_string()][..])
        );
    }

    #[test]
    fn names_what_is_missing() {
        let caps = Capabilities::from_object_info(&info());
        let ok = needs(
            &["CheckpointLoaderSimple", "KSampler"],
            &[("CheckpointLoaderSimple", "ckpt_name", "b.safetensors")],
        );
        assert!(caps.lacks(&ok).is_empty());
        let bad = needs(
            &["CheckpointLoaderSimple", "FancyNode"],
            &[
                ("CheckpointLoaderSimple", "ckpt_name", "flux.safetensors"),
                ("LoraLoader", "lora_name", "style.safetensors"),
            ],
        );
        let lacks: Vec<String> = caps.lacks(&bad).iter().map(Lack::describe).collect();
        assert_eq!(
            lacks,
            vec![
                "node type FancyNode (a custom node)".to_string(),
                "checkpoint flux.safetensors".to_string()
            ]
        );
    }
}

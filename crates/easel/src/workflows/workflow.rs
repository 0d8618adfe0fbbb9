//! One workflow: its graph, the parameters it accepts, and how a request's values are
//! written into a copy of the graph.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Map, Value};

use super::bind::bind;
use super::detect::Place;
use super::graph::{Graph, check_shape, id_order, is_ui_format};
use super::meta::Meta;
use super::placeholder;
use crate::request::InvalidInput;

pub use super::error::WorkflowError;
pub use super::params::{Binding, BindingVia, ParamKind, ParamSpec};

/// Where a workflow came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkflowSource {
    /// Shipped inside easel.
    Builtin,
    /// A file in the user's workflows folder.
    File(PathBuf),
}

/// A ComfyUI workflow in API format and the parameters it accepts.
#[derive(Clone, Debug)]
pub struct Workflow {
    /// The file stem ("my-flux" for my-flux.json).
    pub name: String,
    pub description: String,
    pub source: WorkflowSource,
    /// Every parameter the workflow accepts: standard ones first (prompt, negative_prompt,
    /// width, height, seed, steps, guidance, batch, sampler_name, scheduler, denoise,
    /// model), then images, then workflow-specific ones.
    pub params: Vec<ParamSpec>,
    /// The graph without the `"easel"` metadata block.
    graph: Map<String, Value>,
    /// Inputs holding placeholders; rendered from the original text on every apply.
    templates: Vec<Place>,
}

/// What every generation asks for, whichever workflow runs it.
#[derive(Clone, Debug, PartialEq)]
pub struct StandardInputs {
    pub prompt: String,
    pub negative_prompt: Option<String>,
    pub width: u32,
    pub height: u32,
    pub seed: u64,
    pub steps: Option<u32>,
    pub guidance: Option<f64>,
    /// Images per run (the request's `count`).
    pub batch: u32,
    /// Names of images already uploaded to ComfyUI ("easel/abc.png"), for the image
    /// parameters in order.
    pub images: Vec<String>,
    /// Checkpoint or diffusion-model file to load instead of the workflow's.
    pub model: Option<String>,
}

impl Default for StandardInputs {
    fn default() -> Self {
        StandardInputs {
            prompt: String::new(),
            negative_prompt: None,
            width: 1024,
            height: 1024,
            seed: 0,
            steps: None,
            guidance: None,
            batch: 1,
            images: Vec::new(),
            model: None,
        }
    }
}

/// A graph ready for `POST /prompt`, and what happened to each input.
#[derive(Clone, Debug, PartialEq)]
pub struct Applied {
    /// API format, without easel's metadata block.
    pub graph: Value,
    /// Inputs the workflow has no place for: standard ones ("negative_prompt", "guidance",
    /// "count", "width", …) that carried a value, extra images ("image_2"), and `params`
    /// keys that name no parameter. Reported to the user, never silently dropped. Width,
    /// height and seed always carry a value, so a workflow without a place for them (an
    /// img2img graph keeps its input's size) always lists them.
    pub unmatched: Vec<String>,
    /// (parameter, "node 6 CLIPTextEncode.text") for every input set from the caller's
    /// values; inputs left at the workflow's defaults are not listed.
    pub applied: Vec<(String, String)>,
}

/// What a workflow needs from the ComfyUI server, for `easel doctor`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, JsonSchema)]
pub struct Requirements {
    pub node_classes: BTreeSet<String>,
    pub models: Vec<ModelRef>,
}

/// A model file named by a loader input.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct ModelRef {
    pub node_id: String,
    pub class_type: String,
    /// ckpt_name, unet_name, clip_name, vae_name, lora_name, …
    pub input: String,
    pub file: String,
}

impl Requirements {
    /// What a filled-in graph (every placeholder replaced, as sent to ComfyUI) needs: its
    /// node classes and the model files its loaders name. Used to pick a server that has
    /// them; a graph that is not an object needs nothing.
    pub fn of_graph(graph: &Value) -> Requirements {
        let mut req = Requirements::default();
        let Some(nodes) = graph.as_object() else {
            return req;
        };
        let g = Graph::new(nodes);
        for id in g.ids() {
            req.node_classes.insert(g.class(id).to_string());
            for input in MODEL_INPUTS {
                if let Some(Value::String(file)) = g.literal(id, input) {
                    req.models.push(ModelRef {
                        node_id: id.to_string(),
                        class_type: g.class(id).to_string(),
                        input: (*input).to_string(),
                        file: file.clone(),
                    });
                }
            }
        }
        req
    }
}

/// Loader inputs that name a model file.
pub const MODEL_INPUTS: &[&str] = &[
    "ckpt_name",
    "unet_name",
    "clip_name",
    "clip_name1",
    "clip_name2",
    "clip_name3",
    "clip_name4",
    "vae_name",
    "lora_name",
    "control_net_name",
    "style_model_name",
    "model_name",
];

impl Workflow {
    /// Reads an API-format workflow. `sidecar` is the text of `<name>.meta.json`, if any.
    pub fn from_json(
        name: &str,
        text: &str,
        sidecar: Option<&str>,
        source: WorkflowSource,
    ) -> Result<Workflow, WorkflowError> {
        let root: Value = serde_json::from_str(text).map_err(|e| WorkflowError::Json {
            name: name.to_string(),
            message: e.to_string(),
        })?;
        let Value::Object(mut root) = root else {
            return Err(WorkflowError::Graph {
                name: name.to_string(),
                reason: "the file holds a JSON value that is not an object of nodes".into(),
            });
        };
        if is_ui_format(&root) {
            return Err(WorkflowError::UiFormat {
                name: name.to_string(),
            });
        }
        let inline = root.remove("easel");
        let place = match (&inline, sidecar) {
            (Some(_), Some(_)) => format!("the \"easel\" block and {name}.meta.json"),
            (None, Some(_)) => format!("{name}.meta.json"),
            _ => "the \"easel\" block".to_string(),
        };
        let meta_err = |message: String| WorkflowError::Sidecar {
            name: name.to_string(),
            place: place.clone(),
            message,
        };
        let mut meta = match inline {
            Some(v) => Meta::parse(v).map_err(|e| WorkflowError::Sidecar {
                name: name.to_string(),
                place: "the \"easel\" block".into(),
                message: format!("is malformed: {e}"),
            })?,
            None => Meta::default(),
        };
        if let Some(text) = sidecar {
            let side_err = |e: String| WorkflowError::Sidecar {
                name: name.to_string(),
                place: format!("{name}.meta.json"),
                message: format!("is malformed: {e}"),
            };
            let v: Value = serde_json::from_str(text).map_err(|e| side_err(e.to_string()))?;
            meta = meta.merged(Meta::parse(v).map_err(side_err)?);
        }
        check_shape(&root).map_err(|reason| WorkflowError::Graph {
            name: name.to_string(),
            reason,
        })?;

        let g = Graph::new(&root);
        let bound = bind(name, g, &meta)?;
        let mut params = bound.params;
        meta.apply_to(&mut params).map_err(meta_err)?;
        params.sort_by(param_order);

        let takes_something = params
            .iter()
            .any(|p| p.name == "prompt" || p.kind == ParamKind::Image || !p.standard);
        if !takes_something {
            return Err(WorkflowError::NoPrompt {
                name: name.to_string(),
            });
        }
        let description = meta
            .description
            .clone()
            .unwrap_or_else(|| default_description(name, &source, &root));
        Ok(Workflow {
            name: name.to_string(),
            description,
            source,
            params,
            graph: root,
            templates: bound.templates,
        })
    }

    /// The parameter called `name`.
    pub fn param(&self, name: &str) -> Option<&ParamSpec> {
        self.params.iter().find(|p| p.name == name)
    }

    /// The graph as loaded (API format, metadata block removed, placeholders unfilled).
    pub fn graph(&self) -> &Map<String, Value> {
        &self.graph
    }

    /// How many image parameters it takes (LoadImage inputs).
    pub fn image_inputs(&self) -> usize {
        self.image_params().count()
    }

    fn image_params(&self) -> impl Iterator<Item = &ParamSpec> {
        self.params.iter().filter(|p| p.kind == ParamKind::Image)
    }

    /// A copy of the graph with the request's values written in. `params` holds
    /// workflow-specific values (and may name standard parameters too, which then win over
    /// `std`); `null` means "not given".
    pub fn apply(
        &self,
        std: &StandardInputs,
        params: &Map<String, Value>,
    ) -> Result<Applied, WorkflowError> {
        let mut values: BTreeMap<String, Value> = BTreeMap::new();
        let mut unmatched = Vec::new();
        for (key, value) in params {
            match self.param(key) {
                Some(spec) if !value.is_null() => {
                    values.insert(key.clone(), spec.coerce(value)?);
                }
                Some(_) => {}
                None => unmatched.push(key.clone()),
            }
        }
        let images: Vec<&ParamSpec> = self.image_params().collect();
        for spec in &self.params {
            if values.contains_key(&spec.name) {
                continue;
            }
            if let Some(v) = standard_value(std, spec, &images) {
                values.insert(spec.name.clone(), spec.coerce(&v)?);
            }
        }
        let given: BTreeSet<String> = values.keys().cloned().collect();
        unmatched.extend(self.unplaced(std, params));
        for spec in &self.params {
            if values.contains_key(&spec.name) {
                continue;
            }
            match &spec.default {
                Some(d) => {
                    values.insert(spec.name.clone(), d.clone());
                }
                None => return Err(self.missing(spec, std).into()),
            }
        }

        let mut graph = self.graph.clone();
        let g = Graph::new(&self.graph);
        for (node, input) in &self.templates {
            let Some(original) = g.input(node, input) else {
                continue;
            };
            let rendered = placeholder::render(original, &values).map_err(|missing| {
                WorkflowError::Placeholder {
                    name: self.name.clone(),
                    node_id: node.clone(),
                    input: input.clone(),
                    reason: format!("no value for {{{{{missing}}}}}"),
                }
            })?;
            set_input(&mut graph, node, input, rendered);
        }
        let mut applied = Vec::new();
        for spec in &self.params {
            let Some(value) = values.get(&spec.name) else {
                continue;
            };
            for b in &spec.bindings {
                if b.via != BindingVia::Placeholder {
                    set_input(&mut graph, &b.node_id, &b.input, value.clone());
                }
                if given.contains(&spec.name) {
                    applied.push((spec.name.clone(), g.describe(&b.node_id, &b.input)));
                }
            }
        }
        Ok(Applied {
            graph: Value::Object(graph),
            unmatched,
            applied,
        })
    }

    /// Standard inputs that carry a value the workflow has no parameter for.
    fn unplaced(&self, std: &StandardInputs, params: &Map<String, Value>) -> Vec<String> {
        let lacks = |name: &str| self.param(name).is_none() && !params.contains_key(name);
        let mut out = Vec::new();
        let mut report = |name: &str, has_value: bool, std_name: &str| {
            if has_value && lacks(name) {
                out.push(std_name.to_string());
            }
        };
        report("prompt", !std.prompt.trim().is_empty(), "prompt");
        let negative = std
            .negative_prompt
            .as_ref()
            .is_some_and(|n| !n.trim().is_empty());
        report("negative_prompt", negative, "negative_prompt");
        report("width", true, "width");
        report("height", true, "height");
        report("seed", true, "seed");
        report("steps", std.steps.is_some(), "steps");
        report("guidance", std.guidance.is_some(), "guidance");
        report("batch", std.batch > 1, "count");
        report("model", std.model.is_some(), "model");
        let takes = self.image_inputs();
        out.extend((takes..std.images.len()).map(|i| format!("image_{}", i + 1)));
        out
    }

    fn missing(&self, spec: &ParamSpec, std: &StandardInputs) -> InvalidInput {
        if spec.kind == ParamKind::Image {
            let names: Vec<&str> = self.image_params().map(|p| p.name.as_str()).collect();
            return InvalidInput::new(
                "images",
                format!(
                    "workflow {:?} takes {} input image(s) ({}) and {} were given; {:?} has none",
                    self.name,
                    names.len(),
                    names.join(", "),
                    std.images.len(),
                    spec.name
                ),
                format!(
                    "Pass {} image(s), in this order: {}.",
                    names.len(),
                    names.join(", ")
                ),
            );
        }
        let about = if spec.description.is_empty() {
            String::new()
        } else {
            format!(" ({})", spec.description)
        };
        spec.invalid_with(
            format!("is required by workflow {:?} and was not given", self.name),
            format!("Give {} a value{about}.", spec.name),
        )
    }

    /// Node classes the graph uses and the model files its loaders name, for `easel
    /// doctor`. A placeholder in a loader input counts with its default, if it has one.
    pub fn requirements(&self) -> Requirements {
        let g = Graph::new(&self.graph);
        let mut req = Requirements::default();
        for id in g.ids() {
            req.node_classes.insert(g.class(id).to_string());
            for input in MODEL_INPUTS {
                let Some(Value::String(text)) = g.literal(id, input) else {
                    continue;
                };
                let file = match placeholder::whole(text) {
                    Some(p) => match self.param(&p.name).and_then(|s| s.default.as_ref()) {
                        Some(Value::String(d)) => d.clone(),
                        _ => continue,
                    },
                    None if text.contains("{{") => continue,
                    None => text.clone(),
                };
                req.models.push(ModelRef {
                    node_id: id.to_string(),
                    class_type: g.class(id).to_string(),
                    input: (*input).to_string(),
                    file,
                });
            }
        }
        req
    }
}

/// The value `std` gives a parameter: its field for standard names, and the next uploaded
/// image for image parameters (in parameter order).
fn standard_value(std: &StandardInputs, spec: &ParamSpec, images: &[&ParamSpec]) -> Option<Value> {
    if spec.kind == ParamKind::Image {
        let i = images.iter().position(|p| p.name == spec.name)?;
        return std.images.get(i).map(|s| Value::String(s.clone()));
    }
    match spec.name.as_str() {
        "prompt" => Some(Value::String(std.prompt.clone())),
        "negative_prompt" => std.negative_prompt.clone().map(Value::String),
        "width" => Some(Value::from(std.width)),
        "height" => Some(Value::from(std.height)),
        "seed" => Some(Value::from(std.seed)),
        "steps" => std.steps.map(Value::from),
        "guidance" => std.guidance.map(Value::from),
        "batch" => Some(Value::from(std.batch)),
        "model" => std.model.clone().map(Value::String),
        _ => None,
    }
}

fn set_input(graph: &mut Map<String, Value>, node: &str, input: &str, value: Value) {
    if let Some(inputs) = graph
        .get_mut(node)
        .and_then(|n| n.get_mut("inputs"))
        .and_then(Value::as_object_mut)
    {
        inputs.insert(input.to_string(), value);
    }
}

/// Standard parameters in their fixed order, then images, then the workflow's own, each
/// group by the node that first uses it.
fn param_order(a: &ParamSpec, b: &ParamSpec) -> Ordering {
    let group = |p: &ParamSpec| match (p.kind, p.standard) {
        (ParamKind::Image, _) => 1,
        (_, true) => 0,
        (_, false) => 2,
    };
    let first = |p: &ParamSpec| {
        p.bindings
            .first()
            .map(|b| b.node_id.clone())
            .unwrap_or_default()
    };
    group(a)
        .cmp(&group(b))
        .then_with(|| {
            let rank = |p: &ParamSpec| super::params::standard_rank(&p.name).unwrap_or(usize::MAX);
            if group(a) == 0 {
                rank(a).cmp(&rank(b))
            } else {
                Ordering::Equal
            }
        })
        .then_with(|| id_order(&first(a), &first(b)))
        .then_with(|| a.name.cmp(&b.name))
}

fn default_description(name: &str, source: &WorkflowSource, root: &Map<String, Value>) -> String {
    let g = Graph::new(root);
    let mut models: Vec<&str> = Vec::new();
    for id in g.ids() {
        for input in ["ckpt_name", "unet_name"] {
            if let Some(Value::String(f)) = g.literal(id, input)
                && !f.contains("{{")
                && !models.contains(&f.as_str())
            {
                models.push(f);
            }
        }
    }
    let from = match source {
        WorkflowSource::File(p) => p
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_else(|| format!("{name}.json")),
        WorkflowSource::Builtin => name.to_string(),
    };
    if models.is_empty() {
        format!("ComfyUI workflow from {from}")
    } else {
        format!("ComfyUI workflow from {from} ({})", models.join(", "))
    }
}

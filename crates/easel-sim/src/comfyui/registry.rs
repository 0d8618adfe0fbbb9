//! The node classes the simulator knows, and their `/object_info` entries.
//!
//! A stock ComfyUI knows about 800 classes; the simulator knows the model-free nodes of
//! contract section 10 plus the loaders, encoders and samplers of the usual text-to-image
//! graphs (SD1.5/SDXL checkpoints, Flux, Qwen-Image). Input definitions copy the real
//! ones (types, defaults, min/max, combo options, output types) because clients build and
//! check graphs from `/object_info`, and validation (contract 3.3) reads the same
//! definitions. Combo options that list files come from the configuration and the input
//! store, so the registry is rebuilt for each use: it is a few dozen small values.

use super::config::ComfyConfig;
use super::json::{Json, obj};

/// What a link into an input must carry, or what a literal must convert to.
#[derive(Clone, Debug, PartialEq)]
pub enum Kind {
    /// `int()` with min/max.
    Int,
    /// `float()` with min/max.
    Float,
    /// `bool()`.
    Boolean,
    /// `str()`.
    String,
    /// One of these strings.
    Combo(Vec<String>),
    /// A link carrying this type (`IMAGE`, `MODEL`, …).
    Link(&'static str),
}

impl Kind {
    /// The type name as it appears first in an input definition: `"INT"`, `"IMAGE"`, or
    /// the list of options for a combo.
    pub fn type_json(&self) -> Json {
        match self {
            Kind::Int => "INT".into(),
            Kind::Float => "FLOAT".into(),
            Kind::Boolean => "BOOLEAN".into(),
            Kind::String => "STRING".into(),
            Kind::Combo(options) => Json::from(options.clone()),
            Kind::Link(name) => (*name).into(),
        }
    }

    /// The name used in type-mismatch messages.
    pub fn type_name(&self) -> String {
        match self {
            Kind::Combo(options) => Json::from(options.clone()).py_repr(),
            other => other.type_json().py_str(),
        }
    }
}

/// One input of a node class.
#[derive(Clone, Debug)]
pub struct Input {
    /// The input's name in the graph's `inputs`.
    pub name: &'static str,
    /// Its type.
    pub kind: Kind,
    /// The options dict (`default`, `min`, `tooltip`, …), if the definition has one.
    pub extra: Option<Json>,
    /// Required (else optional).
    pub required: bool,
}

impl Input {
    /// The definition as `/object_info` shows it: `[type]` or `[type, extra]`.
    pub fn definition(&self) -> Json {
        let mut parts = vec![self.kind.type_json()];
        if let Some(extra) = &self.extra {
            parts.push(extra.clone());
        }
        Json::Array(parts)
    }

    /// `input_config` of validation errors: always `[type, extra]`, extra `{}` if none.
    pub fn config(&self) -> Json {
        Json::Array(vec![
            self.kind.type_json(),
            self.extra.clone().unwrap_or_else(Json::object),
        ])
    }

    /// An option of the definition (`min`, `max`, `default`).
    pub fn option(&self, key: &str) -> Option<&Json> {
        self.extra.as_ref().and_then(|extra| extra.get(key))
    }
}

/// One node class.
#[derive(Clone, Debug)]
pub struct Node {
    /// The class name used as `class_type`.
    pub name: &'static str,
    /// `display_name` in `/object_info`.
    pub display_name: &'static str,
    /// `description` in `/object_info`.
    pub description: &'static str,
    /// `category` in `/object_info`.
    pub category: &'static str,
    /// `python_module` in `/object_info`.
    pub python_module: &'static str,
    /// Required inputs first, then optional ones, each group in definition order.
    pub inputs: Vec<Input>,
    /// Hidden inputs (`prompt`, `extra_pnginfo`), name and kind.
    pub hidden: Vec<(&'static str, &'static str)>,
    /// Output types and names.
    pub outputs: Vec<(&'static str, &'static str)>,
    /// Output tooltips, when the class declares them.
    pub output_tooltips: Option<Vec<&'static str>>,
    /// Output nodes are what a graph runs for (contract 2).
    pub output_node: bool,
    /// Inputs checked by the class's own `VALIDATE_INPUTS` instead of min/max/combo
    /// rules (LoadImage's file check, contract 3.3 `custom_validation_failed`).
    pub custom_validated: &'static [&'static str],
    /// The class says it changes on every run (`IS_CHANGED` returns the time), so it is
    /// never served from cache (SaveImageWebsocket, contract 2).
    pub always_changed: bool,
    /// `search_aliases` in `/object_info`.
    pub search_aliases: &'static [&'static str],
    /// `essentials_category`, when the class has one.
    pub essentials_category: Option<&'static str>,
}

impl Node {
    /// The input called `name`.
    #[cfg(test)]
    pub fn input(&self, name: &str) -> Option<&Input> {
        self.inputs.iter().find(|i| i.name == name)
    }

    /// The `/object_info` entry, fields in the order the real server writes them.
    pub fn info(&self) -> Json {
        let group = |required: bool| -> Vec<&Input> {
            self.inputs
                .iter()
                .filter(|i| i.required == required)
                .collect()
        };
        let (required, optional) = (group(true), group(false));
        let mut input = obj! {
            "required" => Json::Object(required.iter().map(|i| (i.name.to_owned(), i.definition())).collect()),
        };
        let mut order = obj! {
            "required" => Json::Array(required.iter().map(|i| Json::from(i.name)).collect()),
        };
        if !optional.is_empty() {
            input.insert(
                "optional",
                Json::Object(
                    optional
                        .iter()
                        .map(|i| (i.name.to_owned(), i.definition()))
                        .collect(),
                ),
            );
            order.insert(
                "optional",
                Json::Array(optional.iter().map(|i| Json::from(i.name)).collect()),
            );
        }
        if !self.hidden.is_empty() {
            input.insert(
                "hidden",
                Json::Object(
                    self.hidden
                        .iter()
                        .map(|(n, k)| ((*n).to_owned(), Json::from(*k)))
                        .collect(),
                ),
            );
            order.insert(
                "hidden",
                Json::Array(self.hidden.iter().map(|(n, _)| Json::from(*n)).collect()),
            );
        }
        let types: Vec<Json> = self.outputs.iter().map(|(t, _)| Json::from(*t)).collect();
        let names: Vec<Json> = self.outputs.iter().map(|(_, n)| Json::from(*n)).collect();
        let mut info = obj! {
            "input" => input,
            "input_order" => order,
            "is_input_list" => false,
            "output" => types,
            "output_is_list" => vec![Json::Bool(false); self.outputs.len()],
            "output_name" => names,
            "name" => self.name,
            "display_name" => self.display_name,
            "description" => self.description,
            "python_module" => self.python_module,
            "category" => self.category,
            "output_node" => self.output_node,
            "has_intermediate_output" => false,
        };
        if let Some(tooltips) = &self.output_tooltips {
            info.insert("output_tooltips", Json::from(tooltips.as_slice()));
        }
        info.insert("search_aliases", Json::from(self.search_aliases));
        if let Some(category) = self.essentials_category {
            info.insert("essentials_category", category);
        }
        info
    }
}

/// The classes available right now.
#[derive(Clone, Debug)]
pub struct Registry {
    nodes: Vec<Node>,
}

impl Registry {
    /// The registry for `config`, with `input_files` (top-level files of the input
    /// folder, as `LoadImage` lists them) as LoadImage's options.
    pub fn build(config: &ComfyConfig, input_files: Vec<String>) -> Registry {
        let nodes = all_nodes(config, input_files)
            .into_iter()
            .filter(|n| !config.missing_nodes.iter().any(|m| m == n.name))
            .collect();
        Registry { nodes }
    }

    /// The class called `name`.
    pub fn get(&self, name: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.name == name)
    }

    /// Every class, in registration order.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }
}

/// The samplers of `comfy.samplers.KSampler.SAMPLERS` (more than 20, so a wrong value is
/// reported as "(list of length N)", as the real server does).
pub const SAMPLERS: &[&str] = &[
    "euler",
    "euler_cfg_pp",
    "euler_ancestral",
    "euler_ancestral_cfg_pp",
    "heun",
    "heunpp2",
    "dpm_2",
    "dpm_2_ancestral",
    "lms",
    "dpm_fast",
    "dpm_adaptive",
    "dpmpp_2s_ancestral",
    "dpmpp_2s_ancestral_cfg_pp",
    "dpmpp_sde",
    "dpmpp_sde_gpu",
    "dpmpp_2m",
    "dpmpp_2m_cfg_pp",
    "dpmpp_2m_sde",
    "dpmpp_2m_sde_gpu",
    "dpmpp_3m_sde",
    "dpmpp_3m_sde_gpu",
    "ddpm",
    "lcm",
    "ipndm",
    "ipndm_v",
    "deis",
    "res_multistep",
    "res_multistep_cfg_pp",
    "res_multistep_ancestral",
    "res_multistep_ancestral_cfg_pp",
    "gradient_estimation",
    "er_sde",
    "seeds_2",
    "seeds_3",
    "ddim",
    "uni_pc",
    "uni_pc_bh2",
];

/// The schedulers of `comfy.samplers.KSampler.SCHEDULERS`.
pub const SCHEDULERS: &[&str] = &[
    "simple",
    "sgm_uniform",
    "karras",
    "exponential",
    "ddim_uniform",
    "beta",
    "normal",
    "linear_quadratic",
    "kl_optimal",
];

const CLIP_TYPES: &[&str] = &[
    "stable_diffusion",
    "stable_cascade",
    "sd3",
    "stable_audio",
    "mochi",
    "ltxv",
    "pixart",
    "cosmos",
    "lumina2",
    "wan",
    "hidream",
    "chroma",
    "ace",
    "omnigen2",
    "qwen_image",
    "hunyuan_image",
    "flux2",
    "ovis",
    "longcat_image",
];

const DUAL_CLIP_TYPES: &[&str] = &[
    "sdxl",
    "sd3",
    "flux",
    "hunyuan_video",
    "hidream",
    "hunyuan_image",
    "hunyuan_video_15",
    "kandinsky5",
    "kandinsky5_image",
    "ltxv",
    "newbie",
    "ace",
];

const SAVE_DESCRIPTION: &str = "Saves the input images to your ComfyUI output directory.";
const SAVE_ALIASES: &[&str] = &[
    "save",
    "save image",
    "export image",
    "output image",
    "write image",
    "download",
];
const MAX_RESOLUTION: i64 = 16384;

fn input(name: &'static str, kind: Kind, extra: Option<Json>) -> Input {
    Input {
        name,
        kind,
        extra,
        required: true,
    }
}

fn optional(name: &'static str, kind: Kind, extra: Option<Json>) -> Input {
    Input {
        required: false,
        ..input(name, kind, extra)
    }
}

fn combo(options: &[&str]) -> Kind {
    Kind::Combo(options.iter().map(|s| (*s).to_owned()).collect())
}

fn link(name: &'static str, kind: &'static str) -> Input {
    input(name, Kind::Link(kind), None)
}

fn link_tip(name: &'static str, kind: &'static str, tooltip: &str) -> Input {
    input(name, Kind::Link(kind), Some(obj! {"tooltip" => tooltip}))
}

fn tip(tooltip: &str) -> Option<Json> {
    Some(obj! {"tooltip" => tooltip})
}

/// A node with the common defaults; callers fill in the rest.
fn node(name: &'static str, display_name: &'static str, category: &'static str) -> Node {
    Node {
        name,
        display_name,
        description: "",
        category,
        python_module: "nodes",
        inputs: Vec::new(),
        hidden: Vec::new(),
        outputs: Vec::new(),
        output_tooltips: None,
        output_node: false,
        custom_validated: &[],
        always_changed: false,
        search_aliases: &[],
        essentials_category: None,
    }
}

fn seed(name: &'static str, tooltip: Option<&str>) -> Input {
    let mut extra = obj! {
        "default" => 0,
        "min" => 0,
        "max" => u64::MAX,
        "control_after_generate" => true,
    };
    if let Some(tooltip) = tooltip {
        extra.insert("tooltip", tooltip);
    }
    input(name, Kind::Int, Some(extra))
}

fn all_nodes(config: &ComfyConfig, input_files: Vec<String>) -> Vec<Node> {
    let size = |default: i64, min: i64, step: i64| {
        obj! {"default" => default, "min" => min, "max" => MAX_RESOLUTION, "step" => step}
    };
    let batch = obj! {"default" => 1, "min" => 1, "max" => 4096};
    let mut nodes = vec![
        Node {
            inputs: vec![
                input("width", Kind::Int, Some(size(512, 1, 1))),
                input("height", Kind::Int, Some(size(512, 1, 1))),
                input("batch_size", Kind::Int, Some(batch.clone())),
                input(
                    "color",
                    Kind::Int,
                    Some(
                        obj! {"default" => 0, "min" => 0, "max" => 0xFF_FFFF, "step" => 1, "display" => "color"},
                    ),
                ),
            ],
            outputs: vec![("IMAGE", "IMAGE")],
            ..node("EmptyImage", "Empty Image", "image")
        },
        Node {
            inputs: vec![
                link("image", "IMAGE"),
                seed("seed", Some("The random seed used for creating the noise.")),
                input(
                    "strength",
                    Kind::Float,
                    Some(obj! {"default" => 0.5, "min" => 0.0, "max" => 1.0, "step" => 0.01}),
                ),
            ],
            outputs: vec![("IMAGE", "IMAGE")],
            python_module: "comfy_extras.nodes_images",
            ..node("ImageAddNoise", "ImageAddNoise", "image")
        },
        Node {
            inputs: vec![link("image", "IMAGE")],
            outputs: vec![("IMAGE", "IMAGE")],
            ..node("ImageInvert", "Invert Image", "image")
        },
        Node {
            inputs: vec![
                link("image", "IMAGE"),
                input(
                    "upscale_method",
                    combo(&["nearest-exact", "bilinear", "area", "bicubic", "lanczos"]),
                    None,
                ),
                input("width", Kind::Int, Some(size(512, 0, 1))),
                input("height", Kind::Int, Some(size(512, 0, 1))),
                input("crop", combo(&["disabled", "center"]), None),
            ],
            outputs: vec![("IMAGE", "IMAGE")],
            ..node("ImageScale", "Upscale Image", "image/upscaling")
        },
        Node {
            inputs: vec![input(
                "image",
                Kind::Combo(input_files),
                Some(obj! {"image_upload" => true}),
            )],
            outputs: vec![("IMAGE", "IMAGE"), ("MASK", "MASK")],
            custom_validated: &["image"],
            ..node("LoadImage", "Load Image", "image")
        },
        Node {
            description: SAVE_DESCRIPTION,
            inputs: vec![
                link_tip("images", "IMAGE", "The images to save."),
                input(
                    "filename_prefix",
                    Kind::String,
                    Some(obj! {
                        "default" => "ComfyUI",
                        "tooltip" => "The prefix for the file to save. This may include formatting information such as %date:yyyy-MM-dd% or %Empty Latent Image.width% to include values from nodes.",
                    }),
                ),
            ],
            hidden: vec![("prompt", "PROMPT"), ("extra_pnginfo", "EXTRA_PNGINFO")],
            outputs: vec![("IMAGE", "images")],
            output_node: true,
            search_aliases: SAVE_ALIASES,
            essentials_category: Some("Basics"),
            ..node("SaveImage", "Save Image", "image")
        },
        Node {
            description: SAVE_DESCRIPTION,
            inputs: vec![link("images", "IMAGE")],
            hidden: vec![("prompt", "PROMPT"), ("extra_pnginfo", "EXTRA_PNGINFO")],
            output_node: true,
            ..node("PreviewImage", "Preview Image", "image")
        },
        Node {
            inputs: vec![link("images", "IMAGE")],
            output_node: true,
            always_changed: true,
            python_module: "custom_nodes.websocket_image_save",
            ..node("SaveImageWebsocket", "SaveImageWebsocket", "api node/image")
        },
        Node {
            description: "Loads a diffusion model checkpoint, diffusion models are used to denoise latents.",
            inputs: vec![input(
                "ckpt_name",
                Kind::Combo(config.checkpoints.clone()),
                tip("The name of the checkpoint (model) to load."),
            )],
            outputs: vec![("MODEL", "MODEL"), ("CLIP", "CLIP"), ("VAE", "VAE")],
            output_tooltips: Some(vec![
                "The model used for denoising latents.",
                "The CLIP model used for encoding text prompts.",
                "The VAE model used for encoding and decoding images to and from latent space.",
            ]),
            ..node("CheckpointLoaderSimple", "Load Checkpoint", "loaders")
        },
        Node {
            inputs: vec![
                input(
                    "unet_name",
                    Kind::Combo(config.diffusion_models.clone()),
                    None,
                ),
                input(
                    "weight_dtype",
                    combo(&["default", "fp8_e4m3fn", "fp8_e4m3fn_fast", "fp8_e5m2"]),
                    None,
                ),
            ],
            outputs: vec![("MODEL", "MODEL")],
            ..node("UNETLoader", "Load Diffusion Model", "advanced/loaders")
        },
        Node {
            inputs: vec![
                input("clip_name", Kind::Combo(config.text_encoders.clone()), None),
                input("type", combo(CLIP_TYPES), None),
                optional(
                    "device",
                    combo(&["default", "cpu"]),
                    Some(obj! {"advanced" => true}),
                ),
            ],
            outputs: vec![("CLIP", "CLIP")],
            ..node("CLIPLoader", "Load CLIP", "advanced/loaders")
        },
        Node {
            inputs: vec![
                input(
                    "clip_name1",
                    Kind::Combo(config.text_encoders.clone()),
                    None,
                ),
                input(
                    "clip_name2",
                    Kind::Combo(config.text_encoders.clone()),
                    None,
                ),
                input("type", combo(DUAL_CLIP_TYPES), None),
                optional(
                    "device",
                    combo(&["default", "cpu"]),
                    Some(obj! {"advanced" => true}),
                ),
            ],
            outputs: vec![("CLIP", "CLIP")],
            ..node("DualCLIPLoader", "DualCLIPLoader", "advanced/loaders")
        },
        Node {
            inputs: vec![input("vae_name", Kind::Combo(config.vaes.clone()), None)],
            outputs: vec![("VAE", "VAE")],
            ..node("VAELoader", "Load VAE", "loaders")
        },
        Node {
            description: "LoRAs are used to modify diffusion and CLIP models, altering the way in which latents are denoised such as applying styles. Multiple LoRA nodes can be linked together.",
            inputs: vec![
                link_tip(
                    "model",
                    "MODEL",
                    "The diffusion model the LoRA will be applied to.",
                ),
                link_tip(
                    "clip",
                    "CLIP",
                    "The CLIP model the LoRA will be applied to.",
                ),
                input(
                    "lora_name",
                    Kind::Combo(config.loras.clone()),
                    tip("The name of the LoRA."),
                ),
                input(
                    "strength_model",
                    Kind::Float,
                    Some(
                        obj! {"default" => 1.0, "min" => -100.0, "max" => 100.0, "step" => 0.01, "tooltip" => "How strongly to modify the diffusion model. This value can be negative."},
                    ),
                ),
                input(
                    "strength_clip",
                    Kind::Float,
                    Some(
                        obj! {"default" => 1.0, "min" => -100.0, "max" => 100.0, "step" => 0.01, "tooltip" => "How strongly to modify the CLIP model. This value can be negative."},
                    ),
                ),
            ],
            outputs: vec![("MODEL", "MODEL"), ("CLIP", "CLIP")],
            output_tooltips: Some(vec![
                "The modified diffusion model.",
                "The modified CLIP model.",
            ]),
            ..node("LoraLoader", "Load LoRA", "loaders")
        },
        Node {
            description: "Encodes a text prompt using a CLIP model into an embedding that can be used to guide the diffusion model towards generating specific images.",
            inputs: vec![
                input(
                    "text",
                    Kind::String,
                    Some(
                        obj! {"multiline" => true, "dynamicPrompts" => true, "tooltip" => "The text to be encoded."},
                    ),
                ),
                link_tip("clip", "CLIP", "The CLIP model used for encoding the text."),
            ],
            outputs: vec![("CONDITIONING", "CONDITIONING")],
            output_tooltips: Some(vec![
                "A conditioning containing the embedded text used to guide the diffusion model.",
            ]),
            ..node(
                "CLIPTextEncode",
                "CLIP Text Encode (Prompt)",
                "conditioning",
            )
        },
        Node {
            inputs: vec![
                link("conditioning", "CONDITIONING"),
                input(
                    "guidance",
                    Kind::Float,
                    Some(obj! {"default" => 3.5, "min" => 0.0, "max" => 100.0, "step" => 0.1}),
                ),
            ],
            outputs: vec![("CONDITIONING", "CONDITIONING")],
            python_module: "comfy_extras.nodes_flux",
            ..node("FluxGuidance", "FluxGuidance", "advanced/conditioning/flux")
        },
        Node {
            inputs: vec![
                link("conditioning_1", "CONDITIONING"),
                link("conditioning_2", "CONDITIONING"),
            ],
            outputs: vec![("CONDITIONING", "CONDITIONING")],
            ..node(
                "ConditioningCombine",
                "Conditioning (Combine)",
                "conditioning",
            )
        },
        ksampler(),
        ksampler_advanced(),
        Node {
            description: "Create a new batch of empty latent images to be denoised via sampling.",
            inputs: vec![
                input(
                    "width",
                    Kind::Int,
                    Some(
                        obj! {"default" => 512, "min" => 16, "max" => MAX_RESOLUTION, "step" => 8, "tooltip" => "The width of the latent images in pixels."},
                    ),
                ),
                input(
                    "height",
                    Kind::Int,
                    Some(
                        obj! {"default" => 512, "min" => 16, "max" => MAX_RESOLUTION, "step" => 8, "tooltip" => "The height of the latent images in pixels."},
                    ),
                ),
                input(
                    "batch_size",
                    Kind::Int,
                    Some(
                        obj! {"default" => 1, "min" => 1, "max" => 4096, "tooltip" => "The number of latent images in the batch."},
                    ),
                ),
            ],
            outputs: vec![("LATENT", "LATENT")],
            output_tooltips: Some(vec!["The empty latent image batch."]),
            ..node("EmptyLatentImage", "Empty Latent Image", "latent")
        },
        Node {
            inputs: vec![
                input("width", Kind::Int, Some(size(1024, 16, 16))),
                input("height", Kind::Int, Some(size(1024, 16, 16))),
                input("batch_size", Kind::Int, Some(batch)),
            ],
            outputs: vec![("LATENT", "LATENT")],
            python_module: "comfy_extras.nodes_sd3",
            ..node("EmptySD3LatentImage", "EmptySD3LatentImage", "latent/sd3")
        },
        Node {
            description: "Decodes latent images back into pixel space images.",
            inputs: vec![
                link_tip("samples", "LATENT", "The latent to be decoded."),
                link_tip("vae", "VAE", "The VAE model used for decoding the latent."),
            ],
            outputs: vec![("IMAGE", "IMAGE")],
            output_tooltips: Some(vec!["The decoded image."]),
            ..node("VAEDecode", "VAE Decode", "latent")
        },
        Node {
            inputs: vec![link("pixels", "IMAGE"), link("vae", "VAE")],
            outputs: vec![("LATENT", "LATENT")],
            ..node("VAEEncode", "VAE Encode", "latent")
        },
        Node {
            inputs: vec![
                link("model", "MODEL"),
                input(
                    "shift",
                    Kind::Float,
                    Some(obj! {"default" => 1.73, "min" => 0.0, "max" => 100.0, "step" => 0.01}),
                ),
            ],
            outputs: vec![("MODEL", "MODEL")],
            python_module: "comfy_extras.nodes_model_advanced",
            ..node(
                "ModelSamplingAuraFlow",
                "ModelSamplingAuraFlow",
                "advanced/model",
            )
        },
    ];
    nodes.extend(animation_nodes());
    nodes
}

/// Nodes that save a batch of images as an animation or a video (see `animate.rs`), and
/// VideoHelperSuite's `VHS_VideoCombine`, the custom node most video workflows (Wan, LTX,
/// Hunyuan) end in; `missing_nodes` can take it away like any other.
fn animation_nodes() -> Vec<Node> {
    let prefix = |default: &str| {
        input(
            "filename_prefix",
            Kind::String,
            Some(obj! {"default" => default}),
        )
    };
    let fps = |default: f64| {
        input(
            "fps",
            Kind::Float,
            Some(obj! {"default" => default, "min" => 0.01, "max" => 1000.0, "step" => 0.01}),
        )
    };
    let hidden = vec![("prompt", "PROMPT"), ("extra_pnginfo", "EXTRA_PNGINFO")];
    vec![
        Node {
            inputs: vec![
                link("images", "IMAGE"),
                prefix("ComfyUI"),
                fps(6.0),
                input("lossless", Kind::Boolean, Some(obj! {"default" => true})),
                input(
                    "quality",
                    Kind::Int,
                    Some(obj! {"default" => 80, "min" => 0, "max" => 100}),
                ),
                input("method", combo(&["default", "fastest", "slowest"]), None),
            ],
            hidden: hidden.clone(),
            output_node: true,
            python_module: "comfy_extras.nodes_images",
            ..node("SaveAnimatedWEBP", "SaveAnimatedWEBP", "image/animation")
        },
        Node {
            inputs: vec![
                link("images", "IMAGE"),
                prefix("ComfyUI"),
                fps(6.0),
                input(
                    "compress_level",
                    Kind::Int,
                    Some(obj! {"default" => 4, "min" => 0, "max" => 9}),
                ),
            ],
            hidden: hidden.clone(),
            output_node: true,
            python_module: "comfy_extras.nodes_images",
            ..node("SaveAnimatedPNG", "SaveAnimatedPNG", "image/animation")
        },
        Node {
            inputs: vec![
                link("images", "IMAGE"),
                prefix("ComfyUI"),
                input("codec", combo(&["vp9", "av1"]), None),
                fps(24.0),
                input(
                    "crf",
                    Kind::Float,
                    Some(obj! {"default" => 32.0, "min" => 0.0, "max" => 63.0, "step" => 1.0}),
                ),
            ],
            hidden: hidden.clone(),
            output_node: true,
            python_module: "comfy_extras.nodes_video",
            ..node("SaveWEBM", "SaveWEBM", "image/video")
        },
        Node {
            inputs: vec![
                link("images", "IMAGE"),
                input(
                    "fps",
                    Kind::Float,
                    Some(obj! {"default" => 30.0, "min" => 1.0, "max" => 120.0, "step" => 1.0}),
                ),
                optional("audio", Kind::Link("AUDIO"), None),
            ],
            outputs: vec![("VIDEO", "VIDEO")],
            python_module: "comfy_extras.nodes_video",
            ..node("CreateVideo", "Create Video", "image/video")
        },
        Node {
            inputs: vec![
                link("video", "VIDEO"),
                prefix("video/ComfyUI"),
                input(
                    "format",
                    combo(&["auto", "mp4"]),
                    Some(obj! {"default" => "auto"}),
                ),
                input(
                    "codec",
                    combo(&["auto", "h264"]),
                    Some(obj! {"default" => "auto"}),
                ),
            ],
            hidden: hidden.clone(),
            output_node: true,
            python_module: "comfy_extras.nodes_video",
            ..node("SaveVideo", "Save Video", "image/video")
        },
        Node {
            inputs: vec![
                link("images", "IMAGE"),
                input(
                    "frame_rate",
                    Kind::Float,
                    Some(obj! {"default" => 8.0, "min" => 1.0, "step" => 1.0}),
                ),
                input(
                    "loop_count",
                    Kind::Int,
                    Some(obj! {"default" => 0, "min" => 0, "max" => 100, "step" => 1}),
                ),
                prefix("AnimateDiff"),
                input(
                    "format",
                    combo(&["image/gif", "image/webp", "video/webm", "video/h264-mp4"]),
                    None,
                ),
                input("pingpong", Kind::Boolean, Some(obj! {"default" => false})),
                input("save_output", Kind::Boolean, Some(obj! {"default" => true})),
                optional("audio", Kind::Link("AUDIO"), None),
            ],
            hidden: vec![
                ("prompt", "PROMPT"),
                ("extra_pnginfo", "EXTRA_PNGINFO"),
                ("unique_id", "UNIQUE_ID"),
            ],
            outputs: vec![("VHS_FILENAMES", "Filenames")],
            output_node: true,
            python_module: "custom_nodes.ComfyUI-VideoHelperSuite",
            ..node(
                "VHS_VideoCombine",
                "Video Combine 🎥🅥🅗🅢",
                "Video Helper Suite 🎥🅥🅗🅢",
            )
        },
    ]
}

fn cfg_input() -> Input {
    input(
        "cfg",
        Kind::Float,
        Some(obj! {
            "default" => 8.0, "min" => 0.0, "max" => 100.0, "step" => 0.1, "round" => 0.01,
            "tooltip" => "The Classifier-Free Guidance scale balances creativity and adherence to the prompt. Higher values result in images more closely matching the prompt however too high values will negatively impact quality.",
        }),
    )
}

fn steps_input() -> Input {
    input(
        "steps",
        Kind::Int,
        Some(
            obj! {"default" => 20, "min" => 1, "max" => 10000, "tooltip" => "The number of steps used in the denoising process."},
        ),
    )
}

fn sampler_inputs() -> [Input; 2] {
    [
        input(
            "sampler_name",
            combo(SAMPLERS),
            tip(
                "The algorithm used when sampling, this can affect the quality, speed, and style of the generated output.",
            ),
        ),
        input(
            "scheduler",
            combo(SCHEDULERS),
            tip("The scheduler controls how noise is gradually removed to form the image."),
        ),
    ]
}

fn ksampler() -> Node {
    let [sampler_name, scheduler] = sampler_inputs();
    Node {
        description: "Uses the provided model, positive and negative conditioning to denoise the latent image.",
        inputs: vec![
            link_tip(
                "model",
                "MODEL",
                "The model used for denoising the input latent.",
            ),
            seed("seed", Some("The random seed used for creating the noise.")),
            steps_input(),
            cfg_input(),
            sampler_name,
            scheduler,
            link_tip(
                "positive",
                "CONDITIONING",
                "The conditioning describing the attributes you want to include in the image.",
            ),
            link_tip(
                "negative",
                "CONDITIONING",
                "The conditioning describing the attributes you want to exclude from the image.",
            ),
            link_tip("latent_image", "LATENT", "The latent image to denoise."),
            input(
                "denoise",
                Kind::Float,
                Some(
                    obj! {"default" => 1.0, "min" => 0.0, "max" => 1.0, "step" => 0.01, "tooltip" => "The amount of denoising applied, lower values will maintain the structure of the initial image allowing for image to image sampling."},
                ),
            ),
        ],
        outputs: vec![("LATENT", "LATENT")],
        output_tooltips: Some(vec!["The denoised latent."]),
        ..node("KSampler", "KSampler", "sampling")
    }
}

fn ksampler_advanced() -> Node {
    let [sampler_name, scheduler] = sampler_inputs();
    let step = |default: i64| obj! {"default" => default, "min" => 0, "max" => 10000};
    Node {
        inputs: vec![
            link("model", "MODEL"),
            input("add_noise", combo(&["enable", "disable"]), None),
            seed("noise_seed", None),
            steps_input(),
            cfg_input(),
            sampler_name,
            scheduler,
            link("positive", "CONDITIONING"),
            link("negative", "CONDITIONING"),
            link("latent_image", "LATENT"),
            input("start_at_step", Kind::Int, Some(step(0))),
            input("end_at_step", Kind::Int, Some(step(10000))),
            input(
                "return_with_leftover_noise",
                combo(&["disable", "enable"]),
                None,
            ),
        ],
        outputs: vec![("LATENT", "LATENT")],
        ..node("KSamplerAdvanced", "KSampler (Advanced)", "sampling")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_image_info_matches_the_capture() {
        let registry = Registry::build(&ComfyConfig::default(), Vec::new());
        let info = registry.get("EmptyImage").unwrap().info();
        assert_eq!(
            info.to_text(),
            r#"{"input": {"required": {"width": ["INT", {"default": 512, "min": 1, "max": 16384, "step": 1}], "height": ["INT", {"default": 512, "min": 1, "max": 16384, "step": 1}], "batch_size": ["INT", {"default": 1, "min": 1, "max": 4096}], "color": ["INT", {"default": 0, "min": 0, "max": 16777215, "step": 1, "display": "color"}]}}, "input_order": {"required": ["width", "height", "batch_size", "color"]}, "is_input_list": false, "output": ["IMAGE"], "output_is_list": [false], "output_name": ["IMAGE"], "name": "EmptyImage", "display_name": "Empty Image", "description": "", "python_module": "nodes", "category": "image", "output_node": false, "has_intermediate_output": false, "search_aliases": []}"#
        );
    }

    #[test]
    fn missing_nodes_are_left_out() {
        let config = ComfyConfig {
            missing_nodes: vec!["KSampler".into()],
            ..ComfyConfig::default()
        };
        let registry = Registry::build(&config, Vec::new());
        assert!(registry.get("KSampler").is_none());
        assert!(registry.get("KSamplerAdvanced").is_some());
    }
}

//! Structural detection for graphs nobody marked: start at the sampler and follow links.
//!
//! Matching by class alone is what breaks other servers (every `CLIPTextEncode` gets the
//! prompt, so the negative is overwritten too). Here the prompt goes only to the encoders
//! that the sampler's `positive` input reaches through conditioning nodes, and the negative
//! prompt only to those its `negative` input reaches. A `ConditioningZeroOut` ends a path:
//! its input is usually the positive encoder, and the point of the node is that there is
//! no negative text.

use std::collections::HashSet;

use super::graph::{Graph, Link};

/// A node input: (node id, input name).
pub type Place = (String, String);

const SAMPLERS: &[&str] = &[
    "KSampler",
    "KSamplerAdvanced",
    "SamplerCustom",
    "SamplerCustomAdvanced",
];

/// Text inputs of encoders, in the order they are bound (CLIPTextEncode `text`,
/// CLIPTextEncodeFlux `clip_l`/`t5xxl`, CLIPTextEncodeSDXL `text_g`/`text_l`, SD3,
/// HunyuanDiT, Lumina 2, TextEncodeQwenImageEdit `prompt`, …).
const TEXT_INPUTS: &[&str] = &[
    "text",
    "prompt",
    "text_g",
    "text_l",
    "clip_l",
    "clip_g",
    "t5xxl",
    "bert",
    "mt5xl",
    "user_prompt",
];

/// Inputs that carry the latent (or the pixels it was encoded from) towards its source.
const LATENT_INPUTS: &[&str] = &[
    "latent_image",
    "samples",
    "latent",
    "pixels",
    "image",
    "images",
];

const IMAGE_LOADERS: &[&str] = &["LoadImage", "LoadImageMask"];

/// Inputs that name the model file a sampler's model comes from.
const MODEL_FILES: &[&str] = &["ckpt_name", "unet_name"];

/// The places found for each standard parameter, in the standard order. Images are named
/// `image` when there is one loader and `image_1`, `image_2`, … otherwise.
pub fn detect(g: Graph<'_>) -> Vec<(String, Vec<Place>)> {
    let samplers: Vec<Sampler> = g
        .ids()
        .into_iter()
        .filter(|id| SAMPLERS.contains(&g.class(id)))
        .map(|id| Sampler::read(g, id))
        .collect();
    let mut found: Vec<(String, Vec<Place>)> = Vec::new();
    let mut put = |name: &str, places: Vec<Place>| {
        if !places.is_empty() {
            found.push((name.to_string(), places));
        }
    };

    if let Some(primary) = primary(g, &samplers) {
        let mut pos = Path::default();
        let mut neg = Path::default();
        for s in &samplers {
            for l in &s.positive {
                pos.trace(g, l);
            }
            for l in &s.negative {
                neg.trace(g, l);
            }
        }
        // An encoder that feeds both paths would carry the negative text into the
        // positive one (or the reverse); it keeps the prompt only.
        neg.encoders.retain(|p| !pos.encoders.contains(p));
        put("prompt", pos.encoders);
        put("negative_prompt", neg.encoders);

        let (size, batch) = latent_size(g, primary.latent.as_ref());
        put("width", size.iter().map(|(w, _)| w.clone()).collect());
        put("height", size.iter().map(|(_, h)| h.clone()).collect());

        // Every sampler gets the seed, so a new seed changes every pass (an unchanged
        // graph would be served from ComfyUI's cache); the other settings go to the first
        // pass only, since a second pass (hires fix, refiner) has its own steps and denoise.
        let seeds: Vec<Place> = samplers.iter().flat_map(|s| s.slot("seed")).collect();
        put("seed", seeds);
        put("steps", primary.slot("steps").into_iter().collect());
        let guidance = pos.guidance.or_else(|| primary.slot("cfg"));
        put("guidance", guidance.into_iter().collect());
        put("batch", batch.into_iter().collect());
        for name in ["sampler_name", "scheduler", "denoise"] {
            put(name, primary.slot(name).into_iter().collect());
        }
        put(
            "model",
            model_file(g, primary.model.as_ref()).into_iter().collect(),
        );
    }

    let loaders: Vec<Place> = g
        .ids()
        .into_iter()
        .filter(|id| IMAGE_LOADERS.contains(&g.class(id)))
        .filter(|id| g.literal(id, "image").is_some_and(|v| v.is_string()))
        .map(|id| (id.to_string(), "image".to_string()))
        .collect();
    let single = loaders.len() == 1;
    for (i, place) in loaders.into_iter().enumerate() {
        let name = if single {
            "image".to_string()
        } else {
            format!("image_{}", i + 1)
        };
        put(&name, vec![place]);
    }
    found
}

/// What a sampler is wired to, with the inputs of its helper nodes (RandomNoise,
/// CFGGuider, KSamplerSelect, BasicScheduler for SamplerCustomAdvanced) folded in.
struct Sampler {
    id: String,
    positive: Vec<Link>,
    negative: Vec<Link>,
    latent: Option<Link>,
    model: Option<Link>,
    slots: Vec<(&'static str, Place)>,
}

impl Sampler {
    fn read(g: Graph<'_>, id: &str) -> Sampler {
        let mut s = Sampler {
            id: id.to_string(),
            positive: g.linked(id, "positive").into_iter().collect(),
            negative: g.linked(id, "negative").into_iter().collect(),
            latent: g.linked(id, "latent_image"),
            model: g.linked(id, "model"),
            slots: Vec::new(),
        };
        s.take_slots(g, id);
        for helper in ["noise", "guider", "sampler", "sigmas"] {
            let Some(l) = g.linked(id, helper) else {
                continue;
            };
            s.take_slots(g, &l.node);
            if helper == "guider" {
                // CFGGuider: positive/negative; BasicGuider: conditioning;
                // DualCFGGuider: cond1/cond2 and negative.
                for (input, negative) in [
                    ("positive", false),
                    ("conditioning", false),
                    ("cond1", false),
                    ("cond2", false),
                    ("negative", true),
                ] {
                    if let Some(c) = g.linked(&l.node, input) {
                        if negative {
                            s.negative.push(c);
                        } else {
                            s.positive.push(c);
                        }
                    }
                }
                s.model = s.model.take().or_else(|| g.linked(&l.node, "model"));
            }
        }
        s
    }

    fn take_slots(&mut self, g: Graph<'_>, node: &str) {
        for (input, value) in g.inputs(node) {
            let param = match input {
                "seed" | "noise_seed" => "seed",
                "steps" => "steps",
                "cfg" => "cfg",
                "sampler_name" => "sampler_name",
                "scheduler" => "scheduler",
                "denoise" => "denoise",
                _ => continue,
            };
            let literal = graph_literal(value);
            if literal && !self.slots.iter().any(|(p, _)| *p == param) {
                self.slots
                    .push((param, (node.to_string(), input.to_string())));
            }
        }
    }

    fn slot(&self, param: &str) -> Option<Place> {
        self.slots
            .iter()
            .find(|(p, _)| *p == param)
            .map(|(_, place)| place.clone())
    }
}

fn graph_literal(v: &serde_json::Value) -> bool {
    super::graph::link(v).is_none() && (v.is_number() || v.is_string())
}

/// The first-pass sampler: the first (by id) whose latent does not come from another
/// sampler.
fn primary<'s>(g: Graph<'_>, samplers: &'s [Sampler]) -> Option<&'s Sampler> {
    let ids: HashSet<&str> = samplers.iter().map(|s| s.id.as_str()).collect();
    samplers
        .iter()
        .find(|s| {
            let mut seen = HashSet::new();
            !reaches(g, s.latent.as_ref(), &ids, &mut seen, 0)
        })
        .or_else(|| samplers.first())
}

fn reaches(
    g: Graph<'_>,
    from: Option<&Link>,
    targets: &HashSet<&str>,
    seen: &mut HashSet<String>,
    depth: usize,
) -> bool {
    let Some(l) = from else { return false };
    if depth > 64 || !seen.insert(l.node.clone()) {
        return false;
    }
    if targets.contains(l.node.as_str()) {
        return true;
    }
    LATENT_INPUTS
        .iter()
        .any(|i| reaches(g, g.linked(&l.node, i).as_ref(), targets, seen, depth + 1))
}

/// Encoders and guidance reached from a conditioning input.
#[derive(Default)]
struct Path {
    encoders: Vec<Place>,
    guidance: Option<Place>,
    seen: HashSet<(String, u64)>,
}

impl Path {
    fn trace(&mut self, g: Graph<'_>, from: &Link) {
        if self.seen.len() > 512 || !self.seen.insert((from.node.clone(), from.output)) {
            return;
        }
        let node = from.node.as_str();
        let class = g.class(node);
        if class == "ConditioningZeroOut" {
            return;
        }
        if g.literal(node, "guidance").is_some_and(|v| v.is_number()) && self.guidance.is_none() {
            self.guidance = Some((node.to_string(), "guidance".to_string()));
        }
        // Nodes with both a positive and a negative input (ControlNetApplyAdvanced,
        // InpaintModelConditioning, InstructPixToPixConditioning) pass output 0 from the
        // positive and output 1 from the negative.
        if let (Some(p), Some(n)) = (g.linked(node, "positive"), g.linked(node, "negative")) {
            match from.output {
                0 => self.trace(g, &p),
                1 => self.trace(g, &n),
                _ => {}
            }
            return;
        }
        let upstream: Vec<Link> = g
            .inputs(node)
            .filter(|(name, _)| name.starts_with("conditioning"))
            .filter_map(|(name, _)| g.linked(node, name))
            .collect();
        if !upstream.is_empty() {
            for l in &upstream {
                self.trace(g, l);
            }
            return;
        }
        for input in TEXT_INPUTS {
            if let Some(place) = text_place(g, node, input)
                && !self.encoders.contains(&place)
            {
                self.encoders.push(place);
            }
        }
    }
}

/// Where an encoder's text lives: the input itself when typed in, or the one text input
/// of a primitive node it is linked to (PrimitiveStringMultiline `value`, …).
fn text_place(g: Graph<'_>, node: &str, input: &str) -> Option<Place> {
    if g.literal(node, input).is_some_and(|v| v.is_string()) {
        return Some((node.to_string(), input.to_string()));
    }
    let l = g.linked(node, input)?;
    let mut texts = g
        .inputs(&l.node)
        .filter(|(name, v)| ["value", "string", "text"].contains(name) && v.is_string());
    let (name, _) = texts.next()?;
    let only_literals = g
        .inputs(&l.node)
        .all(|(_, v)| super::graph::link(v).is_none());
    (texts.next().is_none() && only_literals).then(|| (l.node.clone(), name.to_string()))
}

/// The width/height (and batch_size) of the node the first pass's latent starts from:
/// EmptyLatentImage, EmptySD3LatentImage, EmptyHunyuanLatentVideo, or an ImageScale in
/// front of a VAEEncode.
fn latent_size(g: Graph<'_>, from: Option<&Link>) -> (Option<(Place, Place)>, Option<Place>) {
    let mut next = from.cloned();
    let mut seen = HashSet::new();
    while let Some(l) = next.take() {
        if !seen.insert(l.node.clone()) || seen.len() > 64 {
            break;
        }
        let int = |input: &str| g.literal(&l.node, input).is_some_and(|v| v.is_u64());
        if int("width") && int("height") {
            let place = |input: &str| (l.node.clone(), input.to_string());
            let batch = int("batch_size").then(|| place("batch_size"));
            return (Some((place("width"), place("height"))), batch);
        }
        next = LATENT_INPUTS.iter().find_map(|i| g.linked(&l.node, i));
    }
    (None, None)
}

/// The checkpoint or diffusion-model file a sampler's model comes from, through LoRA and
/// model-patching nodes (ModelSamplingAuraFlow, LoraLoader, …).
fn model_file(g: Graph<'_>, from: Option<&Link>) -> Option<Place> {
    let mut next = from.cloned();
    let mut seen = HashSet::new();
    while let Some(l) = next.take() {
        if !seen.insert(l.node.clone()) || seen.len() > 64 {
            break;
        }
        for input in MODEL_FILES {
            if g.literal(&l.node, input).is_some_and(|v| v.is_string()) {
                return Some((l.node.clone(), input.to_string()));
            }
        }
        next = g.linked(&l.node, "model");
    }
    None
}

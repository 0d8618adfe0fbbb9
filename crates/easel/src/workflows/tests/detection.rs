//! Structural detection follows links from the sampler instead of matching classes.

use serde_json::json;

use super::*;
use crate::workflows::BindingVia;

fn places(w: &Workflow, name: &str) -> Vec<(String, String)> {
    w.param(name)
        .map(|p| {
            p.bindings
                .iter()
                .map(|b| (b.node_id.clone(), b.input.clone()))
                .collect()
        })
        .unwrap_or_default()
}

fn place(node: &str, input: &str) -> (String, String) {
    (node.into(), input.into())
}

#[test]
fn negative_encoder_is_not_overwritten_by_the_prompt() {
    // Two CLIPTextEncode nodes, the negative one first by id: matching on class_type
    // would write the prompt into both (or into the negative).
    let mut g = basic_graph();
    g["2"] = json!({"class_type": "CLIPTextEncode", "inputs": {"text": "neg", "clip": ["4", 1]}});
    g["3"]["inputs"]["negative"] = json!(["2", 0]);
    g.as_object_mut().expect("object").remove("7");
    let w = load(&g);
    assert_eq!(places(&w, "prompt"), [place("6", "text")]);
    assert_eq!(places(&w, "negative_prompt"), [place("2", "text")]);
    let std = StandardInputs {
        negative_prompt: Some("ugly".into()),
        ..inputs("a fox")
    };
    let a = w.apply(&std, &no_params()).expect("apply");
    assert_eq!(at(&a, "6", "text"), "a fox");
    assert_eq!(at(&a, "2", "text"), "ugly");
    // Without a negative prompt the workflow's own stays.
    let a = w.apply(&inputs("a fox"), &no_params()).expect("apply");
    assert_eq!(at(&a, "2", "text"), "neg");
}

#[test]
fn follows_flux_guidance_and_conditioning_combine() {
    let g = json!({
        "1": {"class_type": "UNETLoader", "inputs": {"unet_name": "flux1-dev.safetensors", "weight_dtype": "default"}},
        "2": {"class_type": "DualCLIPLoader", "inputs": {"clip_name1": "t5xxl.safetensors", "clip_name2": "clip_l.safetensors", "type": "flux"}},
        "3": {"class_type": "LoraLoader", "inputs": {"lora_name": "style.safetensors", "strength_model": 1, "strength_clip": 1, "model": ["1", 0], "clip": ["2", 0]}},
        "10": {"class_type": "CLIPTextEncode", "inputs": {"text": "subject", "clip": ["3", 1]}},
        "11": {"class_type": "CLIPTextEncode", "inputs": {"text": "style words", "clip": ["3", 1]}},
        "12": {"class_type": "ConditioningCombine", "inputs": {"conditioning_1": ["10", 0], "conditioning_2": ["11", 0]}},
        "13": {"class_type": "FluxGuidance", "inputs": {"guidance": 3.5, "conditioning": ["12", 0]}},
        "14": {"class_type": "CLIPTextEncode", "inputs": {"text": "", "clip": ["3", 1]}},
        "20": {"class_type": "EmptySD3LatentImage", "inputs": {"width": 1024, "height": 1024, "batch_size": 1}},
        "21": {"class_type": "KSampler", "inputs": {"seed": 1, "steps": 20, "cfg": 1, "sampler_name": "euler", "scheduler": "simple", "denoise": 1,
               "model": ["3", 0], "positive": ["13", 0], "negative": ["14", 0], "latent_image": ["20", 0]}},
        "22": {"class_type": "VAEDecode", "inputs": {"samples": ["21", 0], "vae": ["1", 0]}},
        "23": {"class_type": "SaveImage", "inputs": {"images": ["22", 0], "filename_prefix": "x"}}
    });
    let w = load(&g);
    assert_eq!(
        places(&w, "prompt"),
        [place("10", "text"), place("11", "text")]
    );
    assert_eq!(places(&w, "negative_prompt"), [place("14", "text")]);
    assert_eq!(places(&w, "guidance"), [place("13", "guidance")]);
    // The model is found behind the LoRA loader.
    assert_eq!(places(&w, "model"), [place("1", "unet_name")]);
    assert_eq!(places(&w, "width"), [place("20", "width")]);
    let a = w.apply(&inputs("a castle"), &no_params()).expect("apply");
    assert_eq!(at(&a, "10", "text"), "a castle");
    assert_eq!(at(&a, "11", "text"), "a castle");
    assert_eq!(at(&a, "14", "text"), "");
}

#[test]
fn zero_out_negative_means_no_negative_prompt() {
    // Flux Kontext / Qwen edit style: the negative is the positive, zeroed.
    let g = json!({
        "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "kontext.safetensors"}},
        "2": {"class_type": "LoadImage", "inputs": {"image": "in.png", "upload": "image"}},
        "3": {"class_type": "VAEEncode", "inputs": {"pixels": ["2", 0], "vae": ["1", 2]}},
        "4": {"class_type": "TextEncodeQwenImageEdit", "inputs": {"prompt": "make it blue", "clip": ["1", 1], "vae": ["1", 2], "image": ["2", 0]}},
        "5": {"class_type": "ConditioningZeroOut", "inputs": {"conditioning": ["4", 0]}},
        "6": {"class_type": "KSampler", "inputs": {"seed": 1, "steps": 20, "cfg": 2.5, "sampler_name": "euler", "scheduler": "simple", "denoise": 1,
              "model": ["1", 0], "positive": ["4", 0], "negative": ["5", 0], "latent_image": ["3", 0]}},
        "7": {"class_type": "VAEDecode", "inputs": {"samples": ["6", 0], "vae": ["1", 2]}},
        "8": {"class_type": "SaveImage", "inputs": {"images": ["7", 0], "filename_prefix": "x"}}
    });
    let w = load(&g);
    assert_eq!(places(&w, "prompt"), [place("4", "prompt")]);
    assert!(w.param("negative_prompt").is_none());
    let std = StandardInputs {
        negative_prompt: Some("red".into()),
        images: vec!["easel/in.png".into()],
        ..inputs("make it green")
    };
    let a = w.apply(&std, &no_params()).expect("apply");
    assert_eq!(at(&a, "4", "prompt"), "make it green");
    assert_eq!(at(&a, "2", "image"), "easel/in.png");
    assert!(
        a.unmatched.contains(&"negative_prompt".to_string()),
        "{:?}",
        a.unmatched
    );
}

#[test]
fn sampler_custom_advanced_reads_its_helper_nodes() {
    let g = json!({
        "1": {"class_type": "UNETLoader", "inputs": {"unet_name": "flux.safetensors", "weight_dtype": "default"}},
        "2": {"class_type": "CLIPLoader", "inputs": {"clip_name": "t5.safetensors", "type": "flux"}},
        "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "p", "clip": ["2", 0]}},
        "7": {"class_type": "PrimitiveStringMultiline", "inputs": {"value": "from a primitive"}},
        "8": {"class_type": "CLIPTextEncode", "inputs": {"text": ["7", 0], "clip": ["2", 0]}},
        "9": {"class_type": "ConditioningCombine", "inputs": {"conditioning_1": ["6", 0], "conditioning_2": ["8", 0]}},
        "10": {"class_type": "FluxGuidance", "inputs": {"guidance": 3.5, "conditioning": ["9", 0]}},
        "11": {"class_type": "BasicGuider", "inputs": {"model": ["1", 0], "conditioning": ["10", 0]}},
        "12": {"class_type": "RandomNoise", "inputs": {"noise_seed": 5}},
        "13": {"class_type": "KSamplerSelect", "inputs": {"sampler_name": "euler"}},
        "14": {"class_type": "BasicScheduler", "inputs": {"scheduler": "simple", "steps": 20, "denoise": 1, "model": ["1", 0]}},
        "15": {"class_type": "EmptySD3LatentImage", "inputs": {"width": 1024, "height": 1024, "batch_size": 1}},
        "16": {"class_type": "SamplerCustomAdvanced", "inputs": {"noise": ["12", 0], "guider": ["11", 0], "sampler": ["13", 0], "sigmas": ["14", 0], "latent_image": ["15", 0]}},
        "17": {"class_type": "VAEDecode", "inputs": {"samples": ["16", 0], "vae": ["1", 0]}},
        "18": {"class_type": "SaveImage", "inputs": {"images": ["17", 0], "filename_prefix": "x"}}
    });
    let w = load(&g);
    assert_eq!(
        places(&w, "prompt"),
        [place("6", "text"), place("7", "value")]
    );
    assert_eq!(places(&w, "seed"), [place("12", "noise_seed")]);
    assert_eq!(places(&w, "steps"), [place("14", "steps")]);
    assert_eq!(places(&w, "sampler_name"), [place("13", "sampler_name")]);
    assert_eq!(places(&w, "guidance"), [place("10", "guidance")]);
    assert_eq!(places(&w, "model"), [place("1", "unet_name")]);
    // BasicGuider has no negative input, so there is no negative prompt.
    assert!(w.param("negative_prompt").is_none());
}

#[test]
fn second_pass_sampler_gets_the_seed_but_keeps_its_denoise() {
    let mut g = basic_graph();
    let extra = json!({
        "20": {"class_type": "LatentUpscale", "inputs": {"samples": ["3", 0], "upscale_method": "nearest-exact", "width": 1024, "height": 1024, "crop": "disabled"}},
        "21": {"class_type": "KSampler", "inputs": {"seed": 2, "steps": 10, "cfg": 7, "sampler_name": "euler", "scheduler": "normal", "denoise": 0.5,
               "model": ["4", 0], "positive": ["6", 0], "negative": ["7", 0], "latent_image": ["20", 0]}}
    });
    for (k, v) in extra.as_object().expect("object") {
        g[k] = v.clone();
    }
    g["8"]["inputs"]["samples"] = json!(["21", 0]);
    let w = load(&g);
    assert_eq!(
        places(&w, "seed"),
        [place("3", "seed"), place("21", "seed")]
    );
    assert_eq!(places(&w, "denoise"), [place("3", "denoise")]);
    assert_eq!(places(&w, "width"), [place("5", "width")]);
    let a = w
        .apply(
            &StandardInputs {
                seed: 77,
                ..inputs("x")
            },
            &params(json!({"denoise": 0.9})),
        )
        .expect("apply");
    assert_eq!(
        (at(&a, "3", "seed"), at(&a, "21", "seed")),
        (&json!(77), &json!(77))
    );
    assert_eq!(
        (at(&a, "3", "denoise"), at(&a, "21", "denoise")),
        (&json!(0.9), &json!(0.5))
    );
}

#[test]
fn encoder_on_both_paths_keeps_only_the_prompt() {
    let mut g = basic_graph();
    g["3"]["inputs"]["negative"] = json!(["6", 0]);
    let w = load(&g);
    assert_eq!(places(&w, "prompt"), [place("6", "text")]);
    assert!(w.param("negative_prompt").is_none());
}

#[test]
fn higher_ways_win_per_parameter() {
    // The prompt is a placeholder, the seed a marker; detection fills in the rest but
    // never writes an input another parameter owns.
    let mut g = basic_graph();
    g["6"]["inputs"]["text"] = json!("a photo of {{subject}}");
    g["3"]["_meta"] = json!({"title": "$seed.seed $steps.steps"});
    g["7"]["inputs"]["text"] = json!("{{prompt}}, blurry");
    let w = load(&g);
    let via = |n: &str| w.param(n).map(|p| p.bindings[0].via);
    assert_eq!(via("subject"), Some(BindingVia::Placeholder));
    assert_eq!(via("prompt"), Some(BindingVia::Placeholder));
    assert_eq!(via("seed"), Some(BindingVia::TitleMarker));
    assert_eq!(via("width"), Some(BindingVia::Detected));
    // Both encoders hold placeholders, so detection binds neither.
    assert!(w.param("negative_prompt").is_none());
    assert_eq!(places(&w, "prompt"), [place("7", "text")]);
}

#[test]
fn graphs_without_a_place_for_the_prompt_are_refused() {
    let g = json!({
        "1": {"class_type": "EmptyImage", "inputs": {"width": 64, "height": 64, "batch_size": 1, "color": 0}},
        "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "x"}}
    });
    let e = try_load(&g).expect_err("no prompt");
    assert!(matches!(e, WorkflowError::NoPrompt { .. }), "{e}");
    assert!(e.to_string().contains("$prompt.text"), "{e}");
}

#[test]
fn image_only_workflows_report_the_prompt_as_unmatched() {
    let g = json!({
        "1": {"class_type": "LoadImage", "inputs": {"image": "a.png", "upload": "image"}},
        "2": {"class_type": "LoadImage", "inputs": {"image": "b.png", "upload": "image"}},
        "3": {"class_type": "ImageBlend", "inputs": {"image1": ["1", 0], "image2": ["2", 0], "blend_factor": 0.5, "blend_mode": "normal"}},
        "4": {"class_type": "SaveImage", "inputs": {"images": ["3", 0], "filename_prefix": "x"}}
    });
    let w = load(&g);
    assert_eq!(names(&w), ["image_1", "image_2"]);
    assert_eq!(w.image_inputs(), 2);
    let std = StandardInputs {
        images: vec!["x.png".into(), "y.png".into()],
        ..inputs("blend them")
    };
    let a = w.apply(&std, &no_params()).expect("apply");
    assert_eq!(
        (at(&a, "1", "image"), at(&a, "2", "image")),
        (&json!("x.png"), &json!("y.png"))
    );
    assert_eq!(a.unmatched, ["prompt", "width", "height", "seed"]);
}

#[test]
fn control_net_outputs_keep_positive_and_negative_apart() {
    // ControlNetApplyAdvanced passes positive out of output 0 and negative out of 1.
    let mut g = basic_graph();
    g["30"] = json!({"class_type": "ControlNetLoader", "inputs": {"control_net_name": "canny.safetensors"}});
    g["31"] =
        json!({"class_type": "LoadImage", "inputs": {"image": "edges.png", "upload": "image"}});
    g["32"] = json!({"class_type": "ControlNetApplyAdvanced", "inputs": {
        "positive": ["6", 0], "negative": ["7", 0], "control_net": ["30", 0], "image": ["31", 0],
        "strength": 1, "start_percent": 0, "end_percent": 1}});
    g["3"]["inputs"]["positive"] = json!(["32", 0]);
    g["3"]["inputs"]["negative"] = json!(["32", 1]);
    let w = load(&g);
    assert_eq!(places(&w, "prompt"), [place("6", "text")]);
    assert_eq!(places(&w, "negative_prompt"), [place("7", "text")]);
    assert_eq!(places(&w, "image"), [place("31", "image")]);
    let models: Vec<String> = w
        .requirements()
        .models
        .iter()
        .map(|m| m.file.clone())
        .collect();
    assert_eq!(models, ["sd.safetensors", "canny.safetensors"]);
}

//! Each built-in loads and puts every value where it belongs.

use serde_json::json;

use super::*;
use crate::workflows::{BindingVia, Library, ParamKind};

#[test]
fn all_builtins_load_with_descriptions() {
    let lib = Library::new(None);
    let names: Vec<String> = lib.list().iter().map(|w| w.name.clone()).collect();
    assert_eq!(
        names,
        ["flux-dev", "img2img", "qwen-image", "sd-checkpoint"]
    );
    for w in lib.list() {
        assert!(w.description.len() > 40, "{}: {}", w.name, w.description);
        assert!(!w.graph().contains_key("easel"), "{}", w.name);
        for p in &w.params {
            assert!(!p.bindings.is_empty(), "{}.{}", w.name, p.name);
            assert!(!p.description.is_empty(), "{}.{}", w.name, p.name);
        }
    }
}

#[test]
fn flux_dev_is_detected_and_applies() {
    let w = builtin("flux-dev");
    assert_eq!(
        names(&w),
        [
            "prompt",
            "negative_prompt",
            "width",
            "height",
            "seed",
            "steps",
            "guidance",
            "batch",
            "sampler_name",
            "scheduler",
            "denoise",
            "model"
        ]
    );
    assert!(
        w.params
            .iter()
            .all(|p| p.bindings.iter().all(|b| b.via == BindingVia::Detected))
    );
    let std = StandardInputs {
        negative_prompt: Some("blurry".into()),
        width: 768,
        height: 1024,
        seed: 7,
        steps: Some(30),
        guidance: Some(4.0),
        batch: 2,
        ..inputs("a red fox")
    };
    let a = w.apply(&std, &no_params()).expect("apply");
    assert_eq!(at(&a, "6", "text"), "a red fox");
    assert_eq!(at(&a, "33", "text"), "blurry");
    assert_eq!(at(&a, "27", "width"), 768);
    assert_eq!(at(&a, "27", "height"), 1024);
    assert_eq!(at(&a, "27", "batch_size"), 2);
    assert_eq!(at(&a, "31", "seed"), 7);
    assert_eq!(at(&a, "31", "steps"), 30);
    // Guidance goes to FluxGuidance; the sampler's cfg stays 1, as FLUX needs.
    assert_eq!(at(&a, "35", "guidance"), 4.0);
    assert_eq!(at(&a, "31", "cfg"), 1);
    assert_eq!(at(&a, "30", "ckpt_name"), "flux1-dev-fp8.safetensors");
    assert_eq!(at(&a, "9", "filename_prefix"), "easel");
    assert!(a.graph.get("easel").is_none());
    assert!(a.unmatched.is_empty(), "{:?}", a.unmatched);
    assert!(
        a.applied
            .contains(&("prompt".into(), "node 6 CLIPTextEncode.text".into()))
    );
    assert!(
        a.applied
            .contains(&("guidance".into(), "node 35 FluxGuidance.guidance".into()))
    );
}

#[test]
fn flux_dev_without_optional_inputs_keeps_its_defaults() {
    let w = builtin("flux-dev");
    let a = w.apply(&inputs("x"), &no_params()).expect("apply");
    assert_eq!(at(&a, "33", "text"), "");
    assert_eq!(at(&a, "31", "steps"), 20);
    assert_eq!(at(&a, "35", "guidance"), 3.5);
    assert_eq!(at(&a, "27", "width"), 1024);
    let applied: Vec<&str> = a.applied.iter().map(|(p, _)| p.as_str()).collect();
    assert!(
        !applied.contains(&"steps") && applied.contains(&"width"),
        "{applied:?}"
    );
}

#[test]
fn sd_checkpoint_uses_title_markers() {
    let w = builtin("sd-checkpoint");
    let marked: Vec<&str> = w
        .params
        .iter()
        .filter(|p| p.bindings.iter().all(|b| b.via == BindingVia::TitleMarker))
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(
        marked,
        [
            "prompt",
            "negative_prompt",
            "width",
            "height",
            "seed",
            "steps",
            "guidance",
            "batch",
            "sampler_name",
            "scheduler",
            "model"
        ]
    );
    // denoise is not marked, so detection supplies it.
    assert_eq!(
        w.param("denoise").expect("denoise").bindings[0].via,
        BindingVia::Detected
    );
    assert_eq!(
        w.param("sampler_name").expect("s").description,
        "Sampler, e.g. euler_ancestral, dpmpp_2m"
    );
    let guidance = w.param("guidance").expect("guidance");
    assert_eq!(
        (guidance.kind, guidance.min, guidance.max),
        (ParamKind::Float, Some(1.0), Some(30.0))
    );

    let std = StandardInputs {
        width: 1024,
        height: 768,
        seed: 99,
        guidance: Some(5.5),
        model: Some("sdxl.safetensors".into()),
        ..inputs("a lighthouse")
    };
    let a = w
        .apply(&std, &params(json!({"sampler_name": "dpmpp_2m"})))
        .expect("apply");
    assert_eq!(at(&a, "6", "text"), "a lighthouse");
    assert_eq!(at(&a, "7", "text"), "blurry, low quality, watermark, text");
    assert_eq!(at(&a, "5", "width"), 1024);
    assert_eq!(at(&a, "5", "height"), 768);
    assert_eq!(at(&a, "3", "seed"), 99);
    assert_eq!(at(&a, "3", "cfg"), 5.5);
    assert_eq!(at(&a, "3", "steps"), 25);
    assert_eq!(at(&a, "3", "sampler_name"), "dpmpp_2m");
    assert_eq!(at(&a, "3", "scheduler"), "normal");
    assert_eq!(at(&a, "4", "ckpt_name"), "sdxl.safetensors");
    assert!(a.unmatched.is_empty(), "{:?}", a.unmatched);
}

#[test]
fn qwen_image_uses_placeholders_and_typed_values() {
    let w = builtin("qwen-image");
    for name in [
        "prompt",
        "negative_prompt",
        "seed",
        "steps",
        "guidance",
        "width",
        "height",
        "batch",
        "model",
        "shift",
    ] {
        let p = w.param(name).unwrap_or_else(|| panic!("{name}"));
        assert_eq!(p.bindings[0].via, BindingVia::Placeholder, "{name}");
    }
    assert_eq!(
        w.param("sampler_name").expect("s").bindings[0].via,
        BindingVia::Detected
    );
    let shift = w.param("shift").expect("shift");
    assert!(!shift.standard);
    assert_eq!(
        (shift.kind, shift.default.clone()),
        (ParamKind::Float, Some(json!(3.1)))
    );
    assert_eq!(names(&w).last(), Some(&"shift"));

    let std = StandardInputs {
        seed: 5,
        batch: 3,
        ..inputs("a poster that says \"你好\"")
    };
    let a = w.apply(&std, &no_params()).expect("apply");
    assert_eq!(at(&a, "6", "text"), "a poster that says \"你好\"");
    assert_eq!(at(&a, "7", "text"), "");
    assert_eq!(at(&a, "3", "seed"), 5);
    assert_eq!(at(&a, "3", "steps"), 20);
    assert_eq!(at(&a, "3", "cfg"), 2.5);
    assert_eq!(at(&a, "58", "width"), 1024);
    assert_eq!(at(&a, "58", "batch_size"), 3);
    assert_eq!(at(&a, "66", "shift"), 3.1);
    assert_eq!(
        at(&a, "37", "unet_name"),
        "qwen_image_fp8_e4m3fn.safetensors"
    );
    assert_eq!(
        at(&a, "38", "clip_name"),
        "qwen_2.5_vl_7b_fp8_scaled.safetensors"
    );

    let std = StandardInputs {
        negative_prompt: Some("lowres".into()),
        steps: Some(8),
        guidance: Some(4.0),
        model: Some("qwen_image_distill.safetensors".into()),
        ..inputs("x")
    };
    let a = w
        .apply(
            &std,
            &params(json!({"shift": 2, "width": 1664, "height": 928})),
        )
        .expect("apply");
    assert_eq!(at(&a, "7", "text"), "lowres");
    assert_eq!(at(&a, "3", "steps"), 8);
    assert_eq!(at(&a, "3", "cfg"), 4.0);
    assert_eq!(at(&a, "66", "shift"), 2.0);
    assert_eq!(at(&a, "58", "width"), 1664);
    assert_eq!(at(&a, "58", "height"), 928);
    assert_eq!(at(&a, "37", "unet_name"), "qwen_image_distill.safetensors");
    assert!(a.unmatched.is_empty(), "{:?}", a.unmatched);
}

#[test]
fn img2img_takes_one_image_and_keeps_its_size() {
    let w = builtin("img2img");
    assert_eq!(w.image_inputs(), 1);
    let image = w.param("image").expect("image");
    assert!(image.required() && image.standard && image.kind == ParamKind::Image);
    let e = w
        .apply(&inputs("oil painting"), &no_params())
        .expect_err("no image");
    let WorkflowError::Invalid(e) = e else {
        panic!("{e}")
    };
    assert_eq!(e.field, "images");
    assert!(e.reason.contains("1 input image"), "{e}");

    let std = StandardInputs {
        images: vec!["easel/cat.png".into()],
        ..inputs("oil painting")
    };
    let a = w
        .apply(&std, &params(json!({"denoise": 0.4})))
        .expect("apply");
    assert_eq!(at(&a, "10", "image"), "easel/cat.png");
    assert_eq!(at(&a, "6", "text"), "oil painting");
    assert_eq!(at(&a, "7", "text"), "blurry, low quality, watermark, text");
    assert_eq!(at(&a, "3", "denoise"), 0.4);
    assert_eq!(a.unmatched, ["width", "height"]);

    let default_denoise = w.apply(&std, &no_params()).expect("apply");
    assert_eq!(at(&default_denoise, "3", "denoise"), 0.6);

    let two = StandardInputs {
        images: vec!["a.png".into(), "b.png".into()],
        batch: 2,
        ..inputs("x")
    };
    let a = w.apply(&two, &no_params()).expect("apply");
    assert_eq!(a.unmatched, ["width", "height", "count", "image_2"]);
}

#[test]
fn requirements_list_classes_and_model_files() {
    let req = builtin("qwen-image").requirements();
    let classes: Vec<&str> = req.node_classes.iter().map(String::as_str).collect();
    assert_eq!(
        classes,
        [
            "CLIPLoader",
            "CLIPTextEncode",
            "EmptySD3LatentImage",
            "KSampler",
            "ModelSamplingAuraFlow",
            "SaveImage",
            "UNETLoader",
            "VAEDecode",
            "VAELoader"
        ]
    );
    let models: Vec<(&str, &str, &str, &str)> = req
        .models
        .iter()
        .map(|m| {
            (
                m.node_id.as_str(),
                m.class_type.as_str(),
                m.input.as_str(),
                m.file.as_str(),
            )
        })
        .collect();
    assert_eq!(
        models,
        [
            (
                "37",
                "UNETLoader",
                "unet_name",
                "qwen_image_fp8_e4m3fn.safetensors"
            ),
            (
                "38",
                "CLIPLoader",
                "clip_name",
                "qwen_2.5_vl_7b_fp8_scaled.safetensors"
            ),
            ("39", "VAELoader", "vae_name", "qwen_image_vae.safetensors"),
        ]
    );
    let flux = builtin("flux-dev").requirements();
    assert_eq!(flux.models.len(), 1);
    assert_eq!(flux.models[0].file, "flux1-dev-fp8.safetensors");
    assert!(flux.node_classes.contains("FluxGuidance"));
}

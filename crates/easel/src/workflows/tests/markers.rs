//! `$name.input[!][:description]` title markers.

use serde_json::{Value, json};

use super::*;
use crate::workflows::{BindingVia, ParamKind};

fn marked() -> Value {
    let mut g = basic_graph();
    g["6"]["_meta"] = json!({"title": "Positive $prompt.text"});
    g["7"]["_meta"] = json!({"title": "$negative_prompt.text"});
    g["3"]["_meta"] =
        json!({"title": "Sampler $seed.seed $cfg_scale.cfg:How strictly to follow the prompt"});
    g["5"]["_meta"] = json!({"title": "$width.width $height.height"});
    g["20"] = json!({"class_type": "CLIPTextEncode", "inputs": {"text": "impressionism", "clip": ["4", 1]},
                     "_meta": {"title": "$style.text!:Art style to apply"}});
    g["21"] = json!({"class_type": "ConditioningCombine", "inputs": {"conditioning_1": ["6", 0], "conditioning_2": ["20", 0]}});
    g["3"]["inputs"]["positive"] = json!(["21", 0]);
    g["22"] = json!({"class_type": "Toggle", "inputs": {"flag": true}, "_meta": {"title": "$sharpen.flag"}});
    g
}

#[test]
fn markers_bind_with_types_defaults_and_descriptions() {
    let w = load(&marked());
    let style = w.param("style").expect("style");
    assert!(style.required(), "! makes it required");
    assert_eq!(style.description, "Art style to apply");
    assert_eq!(style.bindings[0].via, BindingVia::TitleMarker);
    let cfg = w.param("cfg_scale").expect("cfg_scale");
    // An exported `"cfg": 7` is still a float input.
    assert_eq!(
        (cfg.kind, cfg.default.clone()),
        (ParamKind::Float, Some(json!(7)))
    );
    assert_eq!(cfg.description, "How strictly to follow the prompt");
    assert_eq!(w.param("sharpen").expect("sharpen").kind, ParamKind::Bool);
    assert_eq!(w.param("width").expect("width").default, Some(json!(512)));
    // Guidance is not marked and cfg is taken, so detection finds no place for it.
    assert!(w.param("guidance").is_none());
    // The marked prompt is the only prompt: the style encoder on the same path is not
    // overwritten by detection.
    assert_eq!(w.param("prompt").expect("prompt").bindings.len(), 1);

    let std = StandardInputs {
        negative_prompt: Some("dull".into()),
        guidance: Some(5.0),
        width: 640,
        ..inputs("a harbour")
    };
    let e = w.apply(&std, &no_params()).expect_err("style is required");
    assert!(e.to_string().contains("\"style\""), "{e}");
    let a = w
        .apply(
            &std,
            &params(json!({"style": "ukiyo-e", "cfg_scale": 7.5, "sharpen": false})),
        )
        .expect("apply");
    assert_eq!(at(&a, "6", "text"), "a harbour");
    assert_eq!(at(&a, "20", "text"), "ukiyo-e");
    assert_eq!(at(&a, "7", "text"), "dull");
    assert_eq!(at(&a, "3", "cfg"), 7.5);
    assert_eq!(at(&a, "22", "flag"), &json!(false));
    assert_eq!(at(&a, "5", "width"), &json!(640));
    assert_eq!(a.unmatched, ["guidance"]);
}

#[test]
fn image_markers_choose_the_image_inputs() {
    let g = json!({
        "1": {"class_type": "LoadImage", "inputs": {"image": "ref.png", "upload": "image"}, "_meta": {"title": "$reference.image!"}},
        "2": {"class_type": "LoadImage", "inputs": {"image": "fixed-mask.png", "upload": "image"}},
        "3": {"class_type": "ImageCompositeMasked", "inputs": {"destination": ["1", 0], "source": ["2", 0], "x": 0, "y": 0, "resize_source": false}},
        "4": {"class_type": "SaveImage", "inputs": {"images": ["3", 0], "filename_prefix": "x"}}
    });
    let w = load(&g);
    // The unmarked loader stays fixed: someone chose which images are parameters.
    assert_eq!(names(&w), ["reference"]);
    assert_eq!(w.param("reference").expect("r").kind, ParamKind::Image);
    let std = StandardInputs {
        images: vec!["easel/up.png".into()],
        ..inputs("")
    };
    let a = w.apply(&std, &no_params()).expect("apply");
    assert_eq!(at(&a, "1", "image"), "easel/up.png");
    assert_eq!(at(&a, "2", "image"), "fixed-mask.png");
}

#[test]
fn marker_mistakes_name_the_node_and_the_fix() {
    let mut g = basic_graph();
    g["6"]["_meta"] = json!({"title": "$prompt.txt"});
    let e = try_load(&g).expect_err("no such input");
    assert!(
        matches!(&e, WorkflowError::Marker { node_id, .. } if node_id == "6"),
        "{e}"
    );
    assert!(e.to_string().contains("its inputs are: clip, text"), "{e}");

    let mut g = basic_graph();
    g["6"]["_meta"] = json!({"title": "$prompt.clip"});
    assert!(
        try_load(&g)
            .expect_err("link")
            .to_string()
            .contains("connected to another node")
    );

    let mut g = basic_graph();
    g["3"]["_meta"] = json!({"title": "$seed.sampler_name"});
    assert!(
        try_load(&g)
            .expect_err("type")
            .to_string()
            .contains("takes int values")
    );

    let mut g = basic_graph();
    g["3"]["_meta"] = json!({"title": "$seed.seed $seed.seed $noise.seed"});
    let e = try_load(&g).expect_err("two parameters, one input");
    assert!(e.to_string().contains("already marked $seed.seed"), "{e}");

    let mut g = basic_graph();
    g["6"]["inputs"]["text"] = json!("{{prompt}}");
    g["6"]["_meta"] = json!({"title": "$subject.text"});
    assert!(
        try_load(&g)
            .expect_err("occupied")
            .to_string()
            .contains("placeholder")
    );
}

#[test]
fn a_marker_for_a_placeholder_parameter_is_ignored() {
    let mut g = basic_graph();
    g["6"]["inputs"]["text"] = json!("{{prompt}}");
    g["7"]["_meta"] = json!({"title": "$prompt.text"});
    let w = load(&g);
    let prompt = w.param("prompt").expect("prompt");
    assert_eq!(prompt.bindings.len(), 1);
    assert_eq!(prompt.bindings[0].via, BindingVia::Placeholder);
}

//! Values are checked against type, range and choices before anything is sent, and
//! nothing the caller gave is dropped without saying so.

use serde_json::json;

use super::*;
use crate::request::InvalidInput;

fn invalid(w: &Workflow, std: &StandardInputs, p: serde_json::Value) -> InvalidInput {
    match w.apply(std, &params(p)) {
        Err(WorkflowError::Invalid(e)) => e,
        other => panic!("expected InvalidInput, got {other:?}"),
    }
}

#[test]
fn wrong_types_name_the_parameter_the_reason_and_the_fix() {
    let w = load(&basic_graph());
    let e = invalid(&w, &inputs("x"), json!({"denoise": "lots"}));
    assert_eq!(e.field, "denoise");
    assert!(e.reason.contains("\"lots\""), "{e}");
    assert!(e.fix.contains("number"), "{e}");

    let e = invalid(&w, &inputs("x"), json!({"sampler_name": 5}));
    assert_eq!(e.field, "sampler_name");
    assert!(e.reason.contains("expects text, got the number 5"), "{e}");

    let mut g = basic_graph();
    g["3"]["inputs"]["steps"] = json!("{{steps:int=20}}");
    g["3"]["inputs"]["cfg"] = json!("{{cfg_boost:float=1}}");
    g["3"]["inputs"]["sampler_name"] = json!("{{detail:bool=true}}");
    let w = load(&g);
    let e = invalid(&w, &inputs("x"), json!({"steps": 7.5}));
    assert!(e.reason.contains("whole number"), "{e}");
    let e = invalid(&w, &inputs("x"), json!({"cfg_boost": [1]}));
    assert_eq!(e.field, "params");
    assert!(
        e.reason
            .starts_with("\"cfg_boost\" expects a number, got a list"),
        "{e}"
    );
    let e = invalid(&w, &inputs("x"), json!({"detail": 1}));
    assert!(e.reason.contains("expects true or false"), "{e}");
}

#[test]
fn helpful_coercions_are_documented_ones_only() {
    let mut g = basic_graph();
    g["3"]["inputs"]["steps"] = json!("{{steps:int=20}}");
    g["3"]["inputs"]["sampler_name"] = json!("{{detail:bool=true}}");
    let w = load(&g);
    let a = w
        .apply(
            &inputs("x"),
            &params(json!({"steps": "30", "detail": "FALSE", "denoise": "0.5"})),
        )
        .expect("numeric and boolean strings are read");
    assert_eq!(at(&a, "3", "steps"), &json!(30));
    assert_eq!(at(&a, "3", "sampler_name"), &json!(false));
    assert_eq!(at(&a, "3", "denoise"), 0.5);
    let a = w
        .apply(&inputs("x"), &params(json!({"steps": 25.0})))
        .expect("integral float");
    assert_eq!(at(&a, "3", "steps"), &json!(25));
    // null means "not given".
    let a = w
        .apply(&inputs("x"), &params(json!({"steps": null})))
        .expect("null");
    assert_eq!(at(&a, "3", "steps"), &json!(20));
}

#[test]
fn ranges_come_from_comfyui_and_metadata() {
    let w = load(&basic_graph());
    let e = invalid(
        &w,
        &StandardInputs {
            width: 8,
            ..inputs("x")
        },
        json!({}),
    );
    assert_eq!(e.field, "width");
    assert!(e.reason.contains("8 is outside 16..=16384"), "{e}");
    let e = invalid(&w, &inputs("x"), json!({"denoise": 1.5}));
    assert_eq!(e.field, "denoise");
    let e = invalid(
        &w,
        &StandardInputs {
            steps: Some(0),
            ..inputs("x")
        },
        json!({}),
    );
    assert_eq!(e.field, "steps");
    let e = invalid(
        &w,
        &StandardInputs {
            batch: 0,
            ..inputs("x")
        },
        json!({}),
    );
    assert_eq!(e.field, "count");
}

#[test]
fn unknown_params_and_unplaced_inputs_are_reported() {
    let mut g = basic_graph();
    // No sampler seed, no model file: a fixed checkpoint behind a custom loader.
    g["3"]["inputs"]["seed"] = json!(["40", 0]);
    g["40"] = json!({"class_type": "SeedGenerator", "inputs": {"from": ["41", 0]}});
    g["41"] = json!({"class_type": "Something", "inputs": {}});
    let w = load(&g);
    let std = StandardInputs {
        guidance: Some(6.0),
        model: Some("other.safetensors".into()),
        ..inputs("x")
    };
    let a = w
        .apply(&std, &params(json!({"lora_strength": 0.8, "denoise": 0.7})))
        .expect("apply");
    assert_eq!(a.unmatched, ["lora_strength", "seed"]);
    assert_eq!(at(&a, "4", "ckpt_name"), "other.safetensors");
    assert_eq!(at(&a, "3", "cfg"), 6.0);
    assert!(
        a.applied
            .contains(&("denoise".into(), "node 3 KSampler.denoise".into()))
    );
}

#[test]
fn params_may_name_standard_parameters_and_then_win() {
    let w = load(&basic_graph());
    let std = StandardInputs {
        width: 768,
        ..inputs("from std")
    };
    let a = w
        .apply(
            &std,
            &params(json!({"prompt": "from params", "width": 640})),
        )
        .expect("apply");
    assert_eq!(at(&a, "6", "text"), "from params");
    assert_eq!(at(&a, "5", "width"), &json!(640));
}

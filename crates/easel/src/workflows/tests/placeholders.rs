//! `{{name:type=default}}` placeholders, sidecar and inline metadata.

use serde_json::{Value, json};

use super::*;
use crate::workflows::ParamKind;

fn templated() -> Value {
    let mut g = basic_graph();
    g["6"]["inputs"]["text"] =
        json!("a photo of {{subject}} in {{style=watercolor}} style, {{prompt}}");
    g["3"]["inputs"]["seed"] = json!("{{seed:int}}");
    g["3"]["inputs"]["cfg"] = json!("{{guidance:float=3.5}}");
    g["3"]["inputs"]["steps"] = json!("{{steps:int}}");
    g["5"]["inputs"]["batch_size"] = json!("{{batch:int=1}}");
    g["9"]["inputs"]["filename_prefix"] = json!("{{prefix=easel}}/{{subject}}");
    g["30"] = json!({"class_type": "Flag", "inputs": {"on": "{{enabled:bool=false}}", "list": {"__value__": ["{{subject}}", 1]}}});
    g
}

#[test]
fn typed_whole_values_and_text_substitution() {
    let w = load(&templated());
    let subject = w.param("subject").expect("subject");
    assert_eq!(
        (subject.kind, subject.required(), subject.standard),
        (ParamKind::String, true, false)
    );
    assert_eq!(subject.bindings.len(), 3, "{:?}", subject.bindings);
    assert_eq!(
        w.param("style").expect("style").default,
        Some(json!("watercolor"))
    );
    assert_eq!(
        w.param("enabled").expect("enabled").default,
        Some(json!(false))
    );
    let std = StandardInputs {
        seed: 42,
        steps: Some(12),
        batch: 2,
        ..inputs("golden hour")
    };
    let a = w
        .apply(
            &std,
            &params(json!({"subject": "a fox", "enabled": "true"})),
        )
        .expect("apply");
    assert_eq!(
        at(&a, "6", "text"),
        "a photo of a fox in watercolor style, golden hour"
    );
    assert_eq!(at(&a, "3", "seed"), &json!(42));
    assert_eq!(at(&a, "3", "steps"), &json!(12));
    assert!(at(&a, "3", "cfg").is_f64(), "a float stays a float");
    assert_eq!(at(&a, "3", "cfg"), 3.5);
    assert_eq!(at(&a, "5", "batch_size"), &json!(2));
    assert_eq!(at(&a, "9", "filename_prefix"), "easel/a fox");
    assert_eq!(at(&a, "30", "on"), &json!(true));
    assert_eq!(at(&a, "30", "list"), &json!({"__value__": ["a fox", 1]}));
    // Detection still finds what no placeholder claimed.
    assert_eq!(at(&a, "7", "text"), "neg");
    assert_eq!(
        w.param("width").expect("width").bindings[0].via,
        crate::workflows::BindingVia::Detected
    );
}

#[test]
fn missing_required_placeholder_is_an_error() {
    let w = load(&templated());
    let std = StandardInputs {
        steps: Some(10),
        ..inputs("x")
    };
    let e = w.apply(&std, &no_params()).expect_err("subject missing");
    let WorkflowError::Invalid(e) = e else {
        panic!("{e}")
    };
    assert_eq!(e.field, "params");
    assert!(
        e.reason.contains("\"subject\"") && e.reason.contains("required"),
        "{e}"
    );
    // steps has no default and the request gave none.
    let e = w
        .apply(&inputs("x"), &params(json!({"subject": "s"})))
        .expect_err("steps missing");
    let WorkflowError::Invalid(e) = e else {
        panic!("{e}")
    };
    assert_eq!(e.field, "steps");
}

#[test]
fn inline_block_is_read_and_removed() {
    let mut g = templated();
    g["easel"] = json!({
        "description": "Portraits in a chosen style",
        "params": {
            "subject": {"description": "Who to paint", "default": "a cat"},
            "style": {"choices": ["watercolor", "ink"]},
            "steps": {"default": 30, "max": 50}
        }
    });
    let w = load(&g);
    assert_eq!(w.description, "Portraits in a chosen style");
    assert!(!w.graph().contains_key("easel"));
    let subject = w.param("subject").expect("subject");
    assert_eq!(
        (subject.description.as_str(), subject.default.clone()),
        ("Who to paint", Some(json!("a cat")))
    );
    let a = w.apply(&inputs("p"), &no_params()).expect("apply");
    assert!(
        a.graph.get("easel").is_none(),
        "the metadata block never reaches ComfyUI"
    );
    assert_eq!(at(&a, "3", "steps"), &json!(30));
    assert_eq!(
        at(&a, "6", "text"),
        "a photo of a cat in watercolor style, p"
    );
    let e = w
        .apply(&inputs("p"), &params(json!({"style": "oil"})))
        .expect_err("choice");
    assert!(e.to_string().contains("\"watercolor\", \"ink\""), "{e}");
    let e = w
        .apply(
            &StandardInputs {
                steps: Some(60),
                ..inputs("p")
            },
            &no_params(),
        )
        .expect_err("max");
    assert!(e.to_string().contains("outside 1..=50"), "{e}");
}

#[test]
fn sidecar_overrides_the_inline_block() {
    let mut g = templated();
    g["easel"] = json!({"description": "inline", "params": {"subject": {"description": "inline", "default": "a"}}});
    let sidecar =
        json!({"description": "from sidecar", "params": {"subject": {"default": "b"}}}).to_string();
    let w = Workflow::from_json("t", &g.to_string(), Some(&sidecar), WorkflowSource::Builtin)
        .expect("load");
    assert_eq!(w.description, "from sidecar");
    let subject = w.param("subject").expect("subject");
    assert_eq!(
        (subject.description.as_str(), subject.default.clone()),
        ("inline", Some(json!("b")))
    );
}

#[test]
fn metadata_mistakes_are_reported() {
    let load_with = |sidecar: Value| {
        Workflow::from_json(
            "t",
            &templated().to_string(),
            Some(&sidecar.to_string()),
            WorkflowSource::Builtin,
        )
        .expect_err("refused")
    };
    let e = load_with(json!({"params": {"subject": {"defualt": "x"}}}));
    assert!(
        matches!(e, WorkflowError::Sidecar { .. }) && e.to_string().contains("defualt"),
        "{e}"
    );
    let e = load_with(json!({"params": {"nosuch": {"description": "x"}}}));
    assert!(
        e.to_string().contains("\"nosuch\"") && e.to_string().contains("t.meta.json"),
        "{e}"
    );
    let e = load_with(json!({"params": {"steps": {"default": "many"}}}));
    assert!(e.to_string().contains("steps"), "{e}");
    let e = Workflow::from_json(
        "t",
        &templated().to_string(),
        Some("{not json"),
        WorkflowSource::Builtin,
    )
    .expect_err("bad json");
    assert!(matches!(e, WorkflowError::Sidecar { .. }), "{e}");
}

#[test]
fn conflicting_or_misspelt_placeholders_are_refused() {
    let mut g = basic_graph();
    g["3"]["inputs"]["seed"] = json!("{{seed:integr}}");
    let e = try_load(&g).expect_err("bad type");
    assert!(
        matches!(&e, WorkflowError::Placeholder { node_id, .. } if node_id == "3"),
        "{e}"
    );

    let mut g = basic_graph();
    g["3"]["inputs"]["steps"] = json!("{{n:int}}");
    g["3"]["inputs"]["denoise"] = json!("{{n:float}}");
    assert!(
        try_load(&g)
            .expect_err("types")
            .to_string()
            .contains("typed")
    );

    let mut g = basic_graph();
    g["3"]["inputs"]["steps"] = json!("{{n:int=1}}");
    g["5"]["inputs"]["batch_size"] = json!("{{n:int=2}}");
    assert!(
        try_load(&g)
            .expect_err("defaults")
            .to_string()
            .contains("defaults to")
    );

    let mut g = basic_graph();
    g["3"]["inputs"]["seed"] = json!("{{seed:string}}");
    assert!(
        try_load(&g)
            .expect_err("standard type")
            .to_string()
            .contains("standard parameter")
    );

    let mut g = basic_graph();
    g["3"]["inputs"]["steps"] = json!("{{steps:int=many}}");
    assert!(
        try_load(&g)
            .expect_err("default type")
            .to_string()
            .contains("default of")
    );
}

#[test]
fn braces_that_are_not_placeholders_stay_text() {
    let mut g = basic_graph();
    g["6"]["inputs"]["text"] = json!("{{ a json-ish thing }} and {{prompt}}");
    let w = load(&g);
    let a = w.apply(&inputs("cat"), &no_params()).expect("apply");
    assert_eq!(at(&a, "6", "text"), "{{ a json-ish thing }} and cat");
}

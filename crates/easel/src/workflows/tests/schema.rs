//! The per-workflow tool schema.

use serde_json::json;

use super::*;
use crate::workflows::workflow_schema;

#[test]
fn schema_lists_every_parameter_with_its_rules() {
    let mut g = basic_graph();
    g["20"] = json!({"class_type": "CLIPTextEncode", "inputs": {"text": "ink", "clip": ["4", 1]},
                     "_meta": {"title": "$style.text!:Art style"}});
    g["easel"] = json!({"params": {"style": {"choices": ["ink", "oil"]}}});
    let w = load(&g);
    let s = serde_json::Value::Object(workflow_schema(&w));
    assert_eq!(s["type"], "object");
    assert_eq!(s["additionalProperties"], false);
    assert_eq!(s["required"], json!(["prompt", "style"]));
    assert_eq!(
        s["properties"]["prompt"],
        json!({"type": "string", "description": "What to draw."})
    );
    assert_eq!(
        s["properties"]["width"],
        json!({"type": "integer", "description": "Image width in pixels.", "default": 512, "minimum": 16, "maximum": 16384})
    );
    assert_eq!(s["properties"]["guidance"]["type"], "number");
    assert_eq!(s["properties"]["guidance"]["default"], 7);
    assert_eq!(
        s["properties"]["style"],
        json!({"type": "string", "description": "Art style", "enum": ["ink", "oil"]})
    );
    let keys: Vec<&String> = s["properties"].as_object().expect("props").keys().collect();
    assert_eq!(keys.len(), w.params.len());

    let img = builtin("img2img");
    let s = workflow_schema(&img);
    assert_eq!(s["properties"]["image"]["type"], "string");
    assert!(
        s["properties"]["image"]["description"]
            .as_str()
            .expect("d")
            .contains("image input")
    );
    assert_eq!(s["required"], json!(["prompt", "image"]));
}

#[test]
fn param_specs_serialize_for_list_workflows() {
    let w = builtin("qwen-image");
    let v = serde_json::to_value(w.param("shift").expect("shift")).expect("serialize");
    assert_eq!(v["kind"], "float");
    assert_eq!(v["standard"], false);
    assert_eq!(
        v["bindings"][0],
        json!({"node_id": "66", "input": "shift", "via": "placeholder"})
    );
    let schema = schemars::schema_for!(crate::workflows::ParamSpec);
    let text = serde_json::to_string(&schema).expect("schema");
    assert!(
        text.contains("title_marker") && text.contains("\"image\""),
        "{text}"
    );
}

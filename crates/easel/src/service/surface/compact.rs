//! Shrinks the JSON Schemas schemars derives into what a client needs: every client pays
//! for `tools/list` in every conversation, so generator noise (`$schema`, `"default": null`,
//! `format: uint32`, one-variant-per-`oneOf` enums, `$defs` used once) goes, and output
//! schemas keep names and types only. Validation is never loosened for outputs: whatever
//! easel serializes still validates (tests/surface.rs checks real results against them).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

/// Which schema is being compacted, and so what it keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// A tool's `inputSchema`: descriptions on its parameters (they say range and default),
    /// none deeper; `null` is dropped from optional parameters' types (omit them instead).
    /// A description's first paragraph only: what follows a blank line of the doc comment
    /// is detail for docs/TOOLS.md.
    Input,
    /// An input schema for the generated reference: as `Input`, with every paragraph.
    InputDocs,
    /// A tool's `outputSchema` as sent: an outline. Top-level fields with their types;
    /// the fields of nested objects by name only (their types are in docs/TOOLS.md). It
    /// says less than the full schema, never something false, so every real result
    /// still validates.
    Output,
    /// An output schema for the generated reference (docs/TOOLS.md): with descriptions.
    OutputDocs,
}

/// Keywords whose value is a map of name → subschema.
const SCHEMA_MAPS: [&str; 2] = ["properties", "$defs"];
/// Keywords whose value is one subschema.
const SCHEMA_ONE: [&str; 3] = ["items", "additionalProperties", "not"];
/// Keywords whose value is a list of subschemas.
const SCHEMA_LISTS: [&str; 4] = ["anyOf", "oneOf", "allOf", "prefixItems"];

/// The compacted copy of `schema`.
pub fn compact(schema: &Map<String, Value>, style: Style) -> Map<String, Value> {
    let mut out = schema.clone();
    clean(&mut out, style, 0);
    // The outline names nested fields, so it needs every definition in place.
    inline_defs(&mut out, style == Style::Output);
    if style == Style::Output {
        out = outline(&out, 0);
        out.remove("$defs");
        forget_refs(&mut out);
        out.insert("type".into(), Value::String("object".into()));
    }
    out
}

/// The outline of an (inlined) output schema at `depth` (0 the root, 1 a top-level field):
/// objects as their field names, arrays of objects as the items' outline, other top-level
/// fields as they are, deeper fields as `{}`. A reference left (to a recursive definition)
/// becomes `{}` too, so the outline needs no `$defs`.
fn outline(s: &Map<String, Value>, depth: usize) -> Map<String, Value> {
    let mut out = Map::new();
    if let Some(object) = object_part(s) {
        let props = object
            .get("properties")
            .and_then(Value::as_object)
            .map(|props| {
                props
                    .iter()
                    .map(|(name, field)| {
                        let field = field.as_object().map(|f| outline(f, depth + 1));
                        (name.clone(), Value::Object(field.unwrap_or_default()))
                    })
                    .collect::<Map<String, Value>>()
            })
            .unwrap_or_default();
        out.insert("properties".into(), Value::Object(props));
        return out;
    }
    if let Some(items) = s.get("items").and_then(Value::as_object)
        && object_part(items).is_some()
    {
        out.insert("items".into(), Value::Object(outline(items, depth + 1)));
        return out;
    }
    if depth >= 2 || s.contains_key("$ref") {
        return out;
    }
    s.clone()
}

/// Turns any reference left in an outline (to a recursive definition, which it dropped)
/// into `{}`: it allows anything, as the outline's other unnamed fields do.
fn forget_refs(s: &mut Map<String, Value>) {
    for v in s.values_mut() {
        match v {
            Value::Object(o) if o.contains_key("$ref") => *o = Map::new(),
            Value::Object(o) => forget_refs(o),
            Value::Array(a) => {
                for item in a.iter_mut() {
                    if let Value::Object(o) = item {
                        if o.contains_key("$ref") {
                            *o = Map::new();
                        } else {
                            forget_refs(o);
                        }
                    }
                }
            }
            _ => {}
        }
    }
}

/// The object schema `s` is, or one branch of it is (`X or null`).
fn object_part(s: &Map<String, Value>) -> Option<&Map<String, Value>> {
    if s.contains_key("properties") {
        return Some(s);
    }
    ["anyOf", "oneOf"]
        .iter()
        .filter_map(|k| s.get(*k).and_then(Value::as_array))
        .flatten()
        .filter_map(Value::as_object)
        .find(|b| b.contains_key("properties"))
}

/// Cleans one schema object; `depth` 0 is the root, 1 a root property.
fn clean(s: &mut Map<String, Value>, style: Style, depth: usize) {
    for key in SCHEMA_MAPS {
        if let Some(Value::Object(map)) = s.get_mut(key) {
            // A definition is inlined where it is used: it stands at the user's depth.
            let child = if key == "properties" { depth + 1 } else { 1 };
            for sub in map.values_mut() {
                if let Value::Object(sub) = sub {
                    clean(sub, style, child);
                }
            }
        }
    }
    for key in SCHEMA_ONE {
        if let Some(Value::Object(sub)) = s.get_mut(key) {
            clean(sub, style, depth + 1);
        }
    }
    for key in SCHEMA_LISTS {
        if let Some(Value::Array(list)) = s.get_mut(key) {
            for sub in list.iter_mut() {
                if let Value::Object(sub) = sub {
                    clean(sub, style, depth + 1);
                }
            }
        }
    }
    s.remove("$schema");
    s.remove("title");
    drop_number_format(s);
    if s.get("default")
        .is_some_and(|d| d.is_null() || d == "" || d == &Value::Array(vec![]) || is_empty_map(d))
    {
        s.remove("default");
    }
    // `true` is what an absent keyword means.
    for key in ["additionalProperties", "items"] {
        if s.get(key) == Some(&Value::Bool(true)) {
            s.remove(key);
        }
    }
    let keep_description = match style {
        Style::Input | Style::InputDocs => depth == 1,
        Style::Output => false,
        Style::OutputDocs => true,
    };
    match s.get_mut("description") {
        Some(Value::String(d)) if keep_description => {
            *d = if style == Style::Input {
                first_paragraph(d)
            } else {
                one_line(d)
            };
        }
        _ => {
            s.remove("description");
        }
    }
    collapse_enum(s);
    let input = matches!(style, Style::Input | Style::InputDocs);
    if !input {
        drop_null_where_skipped(s);
    }
    if input {
        drop_null(s);
        // Unknown parameters are refused by name anyway; the schema need not say so.
        if depth == 0 && s.get("additionalProperties") == Some(&Value::Bool(false)) {
            s.remove("additionalProperties");
        }
    }
}

/// Text up to its first blank line, on one line.
pub fn first_paragraph(text: &str) -> String {
    one_line(text.split("\n\n").next().unwrap_or(""))
}

/// Doc comments wrap lines; a description is one line of text.
pub fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn is_empty_map(v: &Value) -> bool {
    v.as_object().is_some_and(Map::is_empty)
}

/// `format: uint32` and friends are Rust's types, not the caller's; the `minimum: 0` (and
/// `maximum: 65535`) they imply go with them. Formats of strings (none today) stay.
fn drop_number_format(s: &mut Map<String, Value>) {
    let Some(format) = s.get("format").and_then(Value::as_str) else {
        return;
    };
    let unsigned = format.starts_with("uint");
    if !(unsigned || format.starts_with("int") || format == "double" || format == "float") {
        return;
    }
    let implied_max = match format {
        "uint8" => Some(255),
        "uint16" => Some(65535),
        _ => None,
    };
    s.remove("format");
    if unsigned && s.get("minimum").and_then(Value::as_u64) == Some(0) {
        s.remove("minimum");
    }
    if implied_max.is_some() && s.get("maximum").and_then(Value::as_u64) == implied_max {
        s.remove("maximum");
    }
}

/// A `oneOf`/`anyOf` of string constants (how schemars writes a documented enum) becomes
/// one `enum`; `type: string` beside an `enum` of strings says nothing more.
fn collapse_enum(s: &mut Map<String, Value>) {
    for key in ["oneOf", "anyOf"] {
        let Some(Value::Array(branches)) = s.get(key) else {
            continue;
        };
        let mut values = Vec::new();
        let all_constants = branches.iter().all(|b| {
            let Some(b) = b.as_object() else { return false };
            let only_constant = b
                .keys()
                .all(|k| matches!(k.as_str(), "const" | "enum" | "type" | "description"));
            match (b.get("const"), b.get("enum")) {
                (Some(c), None) if only_constant => {
                    values.push(c.clone());
                    true
                }
                (None, Some(Value::Array(e))) if only_constant => {
                    values.extend(e.iter().cloned());
                    true
                }
                _ => false,
            }
        });
        if all_constants && !values.is_empty() {
            s.remove(key);
            s.insert("enum".into(), Value::Array(values));
        }
    }
    let strings = s
        .get("enum")
        .and_then(Value::as_array)
        .is_some_and(|e| e.iter().all(Value::is_string));
    if strings && s.get("type").and_then(Value::as_str) == Some("string") {
        s.remove("type");
    }
}

/// An optional parameter is omitted, not sent as null: `["string", "null"]` becomes
/// `"string"` and `anyOf: [X, {type: null}]` becomes X.
fn drop_null(s: &mut Map<String, Value>) {
    if let Some(Value::Array(types)) = s.get("type")
        && types.len() == 2
        && types.iter().any(|t| t == "null")
        && let Some(other) = types.iter().find(|t| *t != "null").cloned()
    {
        s.insert("type".into(), other);
    }
    let is_null = |v: &Value| {
        v.as_object()
            .is_some_and(|o| o.len() == 1 && o.get("type").and_then(Value::as_str) == Some("null"))
    };
    if let Some(Value::Array(branches)) = s.get("anyOf")
        && branches.len() == 2
        && branches.iter().any(is_null)
        && let Some(Value::Object(other)) = branches.iter().find(|b| !is_null(b)).cloned()
    {
        s.remove("anyOf");
        for (k, v) in other {
            s.entry(k).or_insert(v);
        }
    }
}

/// In a schema of what easel serializes, an optional field is one serde skips when empty
/// (schemars makes every other field required, `Option`s included), and easel's skipped
/// `Option`s are all `skip_serializing_if = "Option::is_none"`: such a field is absent or
/// a value, never null.
fn drop_null_where_skipped(s: &mut Map<String, Value>) {
    let required: Vec<String> = s
        .get("required")
        .and_then(Value::as_array)
        .map(|r| {
            r.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    if let Some(Value::Object(props)) = s.get_mut("properties") {
        for (name, field) in props.iter_mut() {
            if let Value::Object(field) = field
                && !required.contains(name)
            {
                drop_null(field);
            }
        }
    }
}

const DEFS_PREFIX: &str = "#/$defs/";

/// Replaces `$ref`s to `$defs` by the definition where that is not longer (a definition
/// used once, or small) or `always`, keeping the others (and any recursive one) as
/// references.
fn inline_defs(root: &mut Map<String, Value>, always: bool) {
    let Some(Value::Object(defs)) = root.remove("$defs") else {
        return;
    };
    let mut uses: BTreeMap<String, usize> = BTreeMap::new();
    count_refs(&Value::Object(root.clone()), &mut uses);
    for def in defs.values() {
        count_refs(def, &mut uses);
    }
    let mut keep = BTreeSet::new();
    for (name, def) in &defs {
        let n = uses.get(name).copied().unwrap_or(0);
        let size = def.to_string().len();
        let reference = format!("{{\"$ref\":\"{DEFS_PREFIX}{name}\"}}").len();
        let kept = size + name.len() + 4 + n * reference;
        let longer = !always && n * size > kept;
        if longer || refers_to(def, name, &defs, &mut BTreeSet::new()) {
            keep.insert(name.clone());
        }
    }
    let mut body = Value::Object(std::mem::take(root));
    substitute(&mut body, &defs, &keep, 0);
    if let Value::Object(body) = body {
        *root = body;
    }
    if !keep.is_empty() {
        let mut kept = Map::new();
        for name in &keep {
            let mut def = defs[name].clone();
            substitute(&mut def, &defs, &keep, 0);
            kept.insert(name.clone(), def);
        }
        root.insert("$defs".into(), Value::Object(kept));
    }
}

fn ref_name(v: &Map<String, Value>) -> Option<&str> {
    v.get("$ref")?.as_str()?.strip_prefix(DEFS_PREFIX)
}

fn count_refs(v: &Value, uses: &mut BTreeMap<String, usize>) {
    match v {
        Value::Object(o) => {
            if let Some(name) = ref_name(o) {
                *uses.entry(name.to_string()).or_default() += 1;
            }
            o.values().for_each(|c| count_refs(c, uses));
        }
        Value::Array(a) => a.iter().for_each(|c| count_refs(c, uses)),
        _ => {}
    }
}

/// Whether `v` reaches the definition `target` through references (a recursive type).
fn refers_to(
    v: &Value,
    target: &str,
    defs: &Map<String, Value>,
    seen: &mut BTreeSet<String>,
) -> bool {
    match v {
        Value::Object(o) => {
            if let Some(name) = ref_name(o) {
                if name == target {
                    return true;
                }
                if seen.insert(name.to_string())
                    && defs
                        .get(name)
                        .is_some_and(|d| refers_to(d, target, defs, seen))
                {
                    return true;
                }
            }
            o.values().any(|c| refers_to(c, target, defs, seen))
        }
        Value::Array(a) => a.iter().any(|c| refers_to(c, target, defs, seen)),
        _ => false,
    }
}

/// Bounds inlining should a cycle slip past `refers_to`.
const MAX_INLINE_DEPTH: usize = 32;

fn substitute(v: &mut Value, defs: &Map<String, Value>, keep: &BTreeSet<String>, depth: usize) {
    match v {
        Value::Object(o) => {
            let inline = ref_name(o)
                .filter(|name| !keep.contains(*name) && depth < MAX_INLINE_DEPTH)
                .and_then(|name| defs.get(name))
                .and_then(Value::as_object)
                .cloned();
            if let Some(def) = inline {
                o.remove("$ref");
                // The use's own keywords (its description, default) win over the definition's.
                for (k, val) in def {
                    o.entry(k).or_insert(val);
                }
                // A definition's description in a use that had none is the use's now: keep it
                // only where the style kept descriptions (the definition was cleaned alike).
                substitute(v, defs, keep, depth + 1);
                return;
            }
            o.values_mut()
                .for_each(|c| substitute(c, defs, keep, depth + 1));
        }
        Value::Array(a) => a
            .iter_mut()
            .for_each(|c| substitute(c, defs, keep, depth + 1)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().expect("object")
    }

    #[test]
    fn input_noise_goes_and_parameter_facts_stay() {
        let schema = obj(json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": "Params",
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "title": {"type": "string", "description": "A property named title stays."},
                "count": {"type": "integer", "format": "uint32", "minimum": 0, "default": 1,
                          "description": "Images,\n1-8."},
                "seed": {"type": ["integer", "null"], "format": "uint64", "minimum": 0, "default": null},
                "params": {"type": "object", "additionalProperties": true, "default": {}},
                "preview": {"$ref": "#/$defs/Preview", "default": "thumbnail", "description": "Inline image."},
                "status": {"anyOf": [{"$ref": "#/$defs/Status"}, {"type": "null"}], "default": null}
            },
            "required": ["title"],
            "$defs": {
                "Preview": {"description": "How images appear.", "oneOf": [
                    {"const": "none", "type": "string", "description": "No images."},
                    {"const": "thumbnail", "type": "string", "description": "Small."}]},
                "Status": {"type": "string", "enum": ["queued", "running"], "description": "Where a job stands."}
            }
        }));
        let got = compact(&schema, Style::Input);
        assert_eq!(
            Value::Object(got),
            json!({
                "type": "object",
                "properties": {
                    "title": {"type": "string", "description": "A property named title stays."},
                    "count": {"type": "integer", "default": 1, "description": "Images, 1-8."},
                    "seed": {"type": "integer"},
                    "params": {"type": "object"},
                    "preview": {"enum": ["none", "thumbnail"], "default": "thumbnail", "description": "Inline image."},
                    "status": {"enum": ["queued", "running"], "description": "Where a job stands."}
                },
                "required": ["title"]
            })
        );
    }

    #[test]
    fn output_is_an_outline_that_never_says_anything_false() {
        let schema = obj(json!({
            "type": "object",
            "properties": {
                "error": {"anyOf": [{"$ref": "#/$defs/E"}, {"type": "null"}]},
                "failures": {"type": "array", "items": {"$ref": "#/$defs/E"}},
                "note": {"type": ["string", "null"], "description": "Anything else."},
                "answer": {"type": ["string", "null"]},
                "port": {"type": ["integer", "null"], "format": "uint16", "minimum": 0, "maximum": 65535},
                "status": {"oneOf": [{"const": "a", "type": "string"}, {"const": "b", "type": "string"}]}
            },
            "required": ["failures", "answer"],
            "$defs": {"E": {"type": "object", "description": "Why.",
                "properties": {"kind": {"type": "string"}, "index": {"type": ["integer", "null"]}},
                "required": ["kind"]}}
        }));
        let got = Value::Object(compact(&schema, Style::Output));
        let e = json!({"properties": {"kind": {}, "index": {}}});
        assert_eq!(
            got,
            json!({
                "type": "object",
                "properties": {
                    "error": e,
                    "failures": {"items": e},
                    "note": {"type": "string"},
                    "answer": {"type": ["string", "null"]},
                    "port": {"type": "integer"},
                    "status": {"enum": ["a", "b"]}
                }
            })
        );
        assert!(got.to_string().len() < schema_len(&schema));
    }

    fn schema_len(s: &Map<String, Value>) -> usize {
        Value::Object(s.clone()).to_string().len()
    }

    #[test]
    fn a_recursive_definition_stays_a_reference() {
        let schema = obj(json!({
            "type": "object",
            "properties": {"root": {"$ref": "#/$defs/Node"}},
            "$defs": {"Node": {"type": "object", "properties": {
                "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}}}}}
        }));
        let got = Value::Object(compact(&schema, Style::OutputDocs));
        assert_eq!(got["properties"]["root"], json!({"$ref": "#/$defs/Node"}));
        assert!(got["$defs"]["Node"].is_object());
        let outline = Value::Object(compact(&schema, Style::Output));
        assert!(!outline.to_string().contains("$ref"), "{outline}");
    }

    #[test]
    fn detail_after_a_blank_line_is_for_the_docs_only() {
        let schema = obj(json!({"type": "object", "properties": {
            "seed": {"type": "integer", "description": "0-9; random when\nomitted.\n\nThe seed used is\nalways reported."}}}));
        let wire = Value::Object(compact(&schema, Style::Input));
        assert_eq!(
            wire["properties"]["seed"]["description"],
            "0-9; random when omitted."
        );
        let docs = Value::Object(compact(&schema, Style::InputDocs));
        assert_eq!(
            docs["properties"]["seed"]["description"],
            "0-9; random when omitted. The seed used is always reported."
        );
    }

    #[test]
    fn docs_style_keeps_nested_descriptions() {
        let schema = obj(json!({
            "type": "object",
            "properties": {"timings": {"$ref": "#/$defs/T"}},
            "$defs": {"T": {"type": "object", "properties": {
                "elapsed_ms": {"type": "integer", "description": "Milliseconds\nso far."}}}}
        }));
        let got = Value::Object(compact(&schema, Style::OutputDocs));
        assert_eq!(
            got["properties"]["timings"]["properties"]["elapsed_ms"]["description"],
            "Milliseconds so far."
        );
    }
}

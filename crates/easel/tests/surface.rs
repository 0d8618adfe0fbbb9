//! easel's surface, as a real MCP client receives it: `tools/list`, `prompts/list`, the
//! resource templates, `instructions` and `serverInfo` are pinned against
//! tests/golden/surface.json, the tool reference against docs/TOOLS.md, and the tools' size
//! against its budget. Every output schema must validate real results.
//!
//! After a deliberate change, re-bless both files with one command:
//!
//! ```sh
//! EASEL_BLESS=1 cargo test -p easel --test tests surface::
//! ```

use std::path::{Path, PathBuf};

use crate::common;
use crate::common::{call, is_error, start, text};
use easel::service::surface::{TOOLS_BUDGET_BYTES, budgeted_json, reference_markdown};
use easel_sim::ModelScopeConfig;
use serde_json::{Map, Value, json};

const BLESS: &str = "EASEL_BLESS=1 cargo test -p easel --test tests surface::";

pub fn blessing() -> bool {
    std::env::var_os("EASEL_BLESS").is_some_and(|v| !v.is_empty() && v != "0")
}

fn repo_file(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// Compares `actual` with the checked-in file (or writes it when blessing); on a difference,
/// fails with the changed lines and the command that accepts them.
fn check_golden(path: &Path, actual: &str) {
    if blessing() {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("golden dir");
        }
        std::fs::write(path, actual).expect("write golden file");
        return;
    }
    let expected = std::fs::read_to_string(path).unwrap_or_default();
    if expected != actual {
        panic!(
            "{} differs from what easel serves now (- checked in, + now):\n{}\nIf the change is intended, re-bless with:\n    {BLESS}",
            path.display(),
            line_diff(&expected, actual)
        );
    }
}

/// A unified-style diff of lines (longest common subsequence), at most 120 lines of it.
fn line_diff(old: &str, new: &str) -> String {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    let mut lcs = vec![vec![0u32; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut out, mut shown) = (0, 0, Vec::new(), 0);
    while (i < a.len() || j < b.len()) && shown < 120 {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            i += 1;
            j += 1;
        } else if i < a.len() && (j == b.len() || lcs[i + 1][j] >= lcs[i][j + 1]) {
            out.push(format!("{:>5} - {}", i + 1, a[i]));
            i += 1;
            shown += 1;
        } else {
            out.push(format!("{:>5} + {}", j + 1, b[j]));
            j += 1;
            shown += 1;
        }
    }
    if a.is_empty() {
        out.insert(0, "(the file is missing or empty)".into());
    }
    out.join("\n")
}

#[tokio::test]
async fn the_surface_is_pinned() {
    let h = start(ModelScopeConfig::default(), &[]).await;
    let tools = h.client.list_all_tools().await.expect("tools/list");
    let prompts = h.client.list_all_prompts().await.expect("prompts/list");
    let templates = h
        .client
        .list_all_resource_templates()
        .await
        .expect("resources/templates/list");
    let info = h.client.peer_info().expect("initialize result");
    let mut server_info = serde_json::to_value(&info.server_info).expect("serverInfo");
    // The version changes with every release; the snapshot pins the rest.
    assert_eq!(server_info["version"], env!("CARGO_PKG_VERSION"));
    server_info["version"] = json!("<CARGO_PKG_VERSION>");
    let snapshot = json!({
        "serverInfo": server_info,
        "capabilities": info.capabilities,
        "instructions": info.instructions,
        "tools": tools,
        "prompts": prompts,
        "resourceTemplates": templates,
        "mcpApp": app_surface().await,
    });
    let mut pretty = serde_json::to_string_pretty(&snapshot).expect("json");
    pretty.push('\n');
    check_golden(&repo_file("tests/golden/surface.json"), &pretty);
}

/// What a host that renders MCP Apps sees besides the above: `_meta` per tool, the
/// view-only tools whole, and the view's `resources/list` entry (tests/mcp_app.rs tests
/// what they do).
async fn app_surface() -> Value {
    let h = crate::mcp_app::start(ModelScopeConfig::default(), &[]).await;
    let tools = h.host.list_all_tools().await.expect("tools/list");
    let meta: Map<String, Value> = tools
        .iter()
        .filter(|t| !easel::service::app::is_app_only(&t.name))
        .filter_map(|t| Some((t.name.to_string(), json!(t.meta.as_ref()?))))
        .collect();
    let app_only: Vec<_> = tools
        .iter()
        .filter(|t| easel::service::app::is_app_only(&t.name))
        .collect();
    let resources = h.host.list_all_resources().await.expect("resources/list");
    json!({
        "toolMeta": meta,
        "appOnlyTools": app_only,
        "viewResource": resources.first(),
    })
}

#[tokio::test]
async fn tools_fit_the_budget() {
    let h = start(ModelScopeConfig::default(), &[]).await;
    let tools = h.client.list_all_tools().await.expect("tools/list");
    let budgeted = budgeted_json(&tools).len();
    let whole = serde_json::to_string(&tools).expect("json").len();
    let per_tool: Vec<String> = tools
        .iter()
        .map(|t| {
            format!(
                "{} {}",
                t.name,
                budgeted_json(std::slice::from_ref(t)).len()
            )
        })
        .collect();
    println!(
        "tools/list: {budgeted} bytes budgeted (≈ {} tokens at 4 bytes a token), {whole} bytes with icons; per tool: {}",
        budgeted / 4,
        per_tool.join(", ")
    );
    assert!(
        budgeted <= TOOLS_BUDGET_BYTES,
        "the tools' names, descriptions, schemas and annotations take {budgeted} bytes of JSON, over the budget of {TOOLS_BUDGET_BYTES}; per tool: {}. Shorten descriptions (details belong in errors and docs/TOOLS.md) rather than raising the budget.",
        per_tool.join(", ")
    );
}

#[test]
fn the_tool_reference_is_current() {
    let generated = reference_markdown();
    check_golden(&repo_file("../../docs/TOOLS.md"), &generated);
    // `easel tools --markdown` prints the same page.
    let printed = std::process::Command::new(env!("CARGO_BIN_EXE_easel"))
        .args(["tools", "--markdown"])
        .output()
        .expect("run easel tools --markdown");
    assert!(printed.status.success(), "{printed:?}");
    assert_eq!(String::from_utf8_lossy(&printed.stdout), generated);
}

/// Each tool's listed output schema, by tool name.
async fn output_schemas(h: &common::Harness) -> Map<String, Value> {
    let tools = h.client.list_all_tools().await.expect("tools/list");
    tools
        .iter()
        .filter_map(|t| {
            let s = t.output_schema.as_ref()?;
            Some((t.name.to_string(), Value::Object((**s).clone())))
        })
        .collect()
}

/// Calls `tool` and checks its structured result against the output schema it lists.
async fn checked(
    h: &common::Harness,
    schemas: &Map<String, Value>,
    tool: &str,
    args: Value,
) -> Value {
    let r = call(&h.client, tool, args).await;
    let Some(value) = r.structured_content.clone() else {
        panic!("{tool} gave no structured result: {}", text(&r));
    };
    let schema = schemas
        .get(tool)
        .unwrap_or_else(|| panic!("{tool} lists no output schema"));
    let mut problems = Vec::new();
    validate(&value, schema, schema, "$", &mut problems);
    assert!(
        problems.is_empty(),
        "{tool}'s result does not match its outputSchema:\n{}\nresult: {value:#}",
        problems.join("\n")
    );
    value
}

#[tokio::test]
async fn every_output_schema_validates_real_results() {
    // A service that fails every task: a failed job, with its error report.
    let failing = start(
        ModelScopeConfig {
            failure_rate: 1.0,
            ..ModelScopeConfig::default()
        },
        &[],
    )
    .await;
    let schemas = output_schemas(&failing).await;
    let failed = checked(
        &failing,
        &schemas,
        "generate_image",
        common::gen_args(json!({})),
    )
    .await;
    assert_eq!(failed["status"], "failed", "{failed:#}");
    assert!(failed["error"].is_object(), "{failed:#}");

    let h = start(ModelScopeConfig::default(), &[]).await;
    let done = checked(
        &h,
        &schemas,
        "generate_image",
        common::gen_args(json!({"count": 2})),
    )
    .await;
    assert_eq!(done["status"], "succeeded", "{done:#}");
    let job = done["job_id"].as_str().expect("job_id").to_string();
    checked(
        &h,
        &schemas,
        "get_job",
        json!({"job_id": job, "copy_to": "copies", "preview": "none"}),
    )
    .await;
    checked(&h, &schemas, "list_jobs", json!({})).await;
    checked(&h, &schemas, "cancel_job", json!({"job_id": job})).await;
    checked(
        &h,
        &schemas,
        "generate_image",
        common::gen_args(json!({"wait_seconds": 0})),
    )
    .await;
    checked(
        &h,
        &schemas,
        "generate_batch",
        json!({"prompts": ["a red kite", {"prompt": "a blue kite", "size": "256x256"}], "defaults": {"size": "128x128"}}),
    )
    .await;
    checked(&h, &schemas, "backends", json!({})).await;
    checked(&h, &schemas, "list_workflows", json!({})).await;
    let note = checked(
        &h,
        &schemas,
        "publish_note",
        json!({"publisher": "draft", "title": "Kites", "content": "Two kites.", "images": [job], "tags": ["kite"]}),
    )
    .await;
    assert_eq!(note["outcome"], "published", "{note:#}");
    checked(&h, &schemas, "publisher_status", json!({})).await;
    checked(&h, &schemas, "list_notes", json!({})).await;
    // A refusal carries no structured result, so there is nothing for a schema to judge.
    let refused = call(&h.client, "get_job", json!({"job_id": "nope"})).await;
    assert!(is_error(&refused) && refused.structured_content.is_none());
}

#[test]
fn the_check_catches_a_result_that_does_not_match() {
    let schema = json!({
        "type": "object",
        "properties": {"a": {"type": "integer"}, "e": {"$ref": "#/$defs/E"}},
        "required": ["b"],
        "$defs": {"E": {"enum": ["x"]}}
    });
    let mut problems = Vec::new();
    validate(
        &json!({"a": "1", "e": "y"}),
        &schema,
        &schema,
        "$",
        &mut problems,
    );
    assert_eq!(problems.len(), 3, "{problems:?}");
}

/// A JSON Schema check of the keywords easel's schemas use (type, properties, required,
/// additionalProperties, items, enum, const, anyOf, oneOf, allOf, $ref into $defs,
/// minimum, maximum). An unknown keyword fails the check, so a schema cannot silently
/// outgrow it.
fn validate(v: &Value, s: &Value, root: &Value, at: &str, problems: &mut Vec<String>) {
    let Some(s) = s.as_object() else {
        if s == &Value::Bool(false) {
            problems.push(format!("{at}: nothing is allowed here"));
        }
        return;
    };
    for (key, rule) in s {
        match key.as_str() {
            "description" | "default" | "title" | "$defs" | "$schema" | "format" => {}
            "$ref" => {
                let target = rule
                    .as_str()
                    .and_then(|r| r.strip_prefix("#/$defs/"))
                    .and_then(|name| root.get("$defs")?.get(name));
                match target {
                    Some(t) => validate(v, t, root, at, problems),
                    None => problems.push(format!("{at}: unresolvable $ref {rule}")),
                }
            }
            "type" => {
                let types: Vec<&str> = match rule {
                    Value::String(t) => vec![t.as_str()],
                    Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
                    _ => vec![],
                };
                if !types.iter().any(|t| has_type(v, t)) {
                    problems.push(format!("{at}: {v} is not of type {rule}"));
                }
            }
            "enum" => {
                if !rule.as_array().is_some_and(|e| e.contains(v)) {
                    problems.push(format!("{at}: {v} is not one of {rule}"));
                }
            }
            "const" => {
                if v != rule {
                    problems.push(format!("{at}: {v} is not {rule}"));
                }
            }
            "minimum" | "maximum" => {
                if let (Some(n), Some(bound)) = (v.as_f64(), rule.as_f64())
                    && ((key == "minimum" && n < bound) || (key == "maximum" && n > bound))
                {
                    problems.push(format!("{at}: {n} is outside {key} {bound}"));
                }
            }
            "properties" => {
                if let (Some(o), Some(props)) = (v.as_object(), rule.as_object()) {
                    for (name, sub) in props {
                        if let Some(field) = o.get(name) {
                            validate(field, sub, root, &format!("{at}.{name}"), problems);
                        }
                    }
                }
            }
            "required" => {
                if let Some(o) = v.as_object() {
                    for name in rule
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                    {
                        if !o.contains_key(name) {
                            problems.push(format!("{at}: required field {name} is missing"));
                        }
                    }
                }
            }
            "additionalProperties" => {
                if let Some(o) = v.as_object() {
                    let known = s.get("properties").and_then(Value::as_object);
                    for (name, field) in o {
                        if !known.is_some_and(|k| k.contains_key(name)) {
                            validate(field, rule, root, &format!("{at}.{name}"), problems);
                        }
                    }
                }
            }
            "items" => {
                for (i, item) in v.as_array().into_iter().flatten().enumerate() {
                    validate(item, rule, root, &format!("{at}[{i}]"), problems);
                }
            }
            "anyOf" | "oneOf" | "allOf" => {
                let branches = rule.as_array().cloned().unwrap_or_default();
                let passing = branches
                    .iter()
                    .filter(|b| {
                        let mut p = Vec::new();
                        validate(v, b, root, at, &mut p);
                        p.is_empty()
                    })
                    .count();
                let ok = match key.as_str() {
                    "anyOf" => passing >= 1,
                    "oneOf" => passing == 1,
                    _ => passing == branches.len(),
                };
                if !ok {
                    problems.push(format!(
                        "{at}: {v} fails {key} ({passing} of {} branches pass)",
                        branches.len()
                    ));
                }
            }
            other => problems.push(format!("{at}: the check does not know the keyword {other}")),
        }
    }
}

fn has_type(v: &Value, t: &str) -> bool {
    match t {
        "null" => v.is_null(),
        "boolean" => v.is_boolean(),
        "string" => v.is_string(),
        "array" => v.is_array(),
        "object" => v.is_object(),
        "number" => v.is_number(),
        // JSON Schema counts 1.0 as an integer too.
        "integer" => v.is_i64() || v.is_u64() || v.as_f64().is_some_and(|f| f.fract() == 0.0),
        _ => false,
    }
}

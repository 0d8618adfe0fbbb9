//! What every conversation pays for easel before calling anything: the size of `tools/list`
//! as a client receives it, in bytes and approximate tokens.

use std::path::Path;

use anyhow::Context as _;
use serde_json::{Value, json};

use crate::Opts;
use crate::report::Figure;
use crate::server::{Sandbox, Session};

/// Bytes per token for the estimate: the common rule of thumb for English text and JSON
/// with BPE tokenizers (no tokenizer is available offline here; see docs/PERFORMANCE.md).
const BYTES_PER_TOKEN: f64 = 4.0;

/// The budget easel's surface test enforces on the budgeted part (name, title, description,
/// schemas, annotations).
const BUDGET_BYTES: f64 = 16_000.0;

/// Before the compact surface (main at bdb4018, 11 tools): 50,803 bytes of tools array.
const BEFORE_BYTES: f64 = 50_803.0;

/// A tool's JSON without the fields outside the budget (icons, `_meta`, `execution`).
fn budgeted(tool: &Value) -> Value {
    let mut t = tool.clone();
    if let Some(o) = t.as_object_mut() {
        o.retain(|k, _| {
            matches!(
                k.as_str(),
                "name" | "title" | "description" | "inputSchema" | "outputSchema" | "annotations"
            )
        });
    }
    t
}

pub async fn surface(
    easel: &Path,
    _opts: &Opts,
    emit: &mut impl FnMut(Figure),
) -> anyhow::Result<()> {
    let sandbox = Sandbox::new()?;
    let session = Session::start(easel, &sandbox, &[]).await?;
    let tools = session
        .client
        .list_all_tools()
        .await
        .context("tools/list")?;
    session.stop().await;
    let tools = serde_json::to_value(&tools).context("tools as JSON")?;
    let list = tools.as_array().cloned().unwrap_or_default();
    let whole = tools.to_string().len() as f64;
    let trimmed: Vec<Value> = list.iter().map(budgeted).collect();
    let budget = Value::Array(trimmed.clone()).to_string().len() as f64;
    let per_tool: serde_json::Map<String, Value> = list
        .iter()
        .zip(&trimmed)
        .map(|(t, b)| {
            (
                t["name"].as_str().unwrap_or("?").to_owned(),
                json!({"budgeted": b.to_string().len(), "whole": t.to_string().len()}),
            )
        })
        .collect();
    let detail = json!({
        "tools": list.len(),
        "per_tool_bytes": per_tool,
        "before": {"bytes": BEFORE_BYTES, "tokens": (BEFORE_BYTES / BYTES_PER_TOKEN).round(), "at": "bdb4018, tools array without icons"},
        "how": "rmcp client, default config, tools/list re-serialized as compact JSON (UTF-8 bytes); tokens ≈ bytes / 4",
    });
    emit(
        Figure::new(
            "surface.budgeted_bytes",
            "tools/list: names, titles, descriptions, schemas, annotations",
            budget,
            "B",
        )
        .at_most(BUDGET_BYTES)
        .detail(detail.clone()),
    );
    emit(
        Figure::new(
            "surface.budgeted_tokens",
            "tools/list, approximate tokens (bytes / 4)",
            budget / BYTES_PER_TOKEN,
            "tokens",
        )
        .at_most(BUDGET_BYTES / BYTES_PER_TOKEN),
    );
    emit(
        Figure::new(
            "surface.whole_bytes",
            "tools/list, whole (with icons)",
            whole,
            "B",
        )
        .detail(detail),
    );
    emit(Figure::new(
        "surface.whole_tokens",
        "tools/list with icons, approximate tokens (bytes / 4)",
        whole / BYTES_PER_TOKEN,
        "tokens",
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn icons_and_meta_are_outside_the_budget() {
        let tool = json!({"name": "t", "description": "d", "inputSchema": {"type": "object"},
            "icons": [{"src": "data:,"}], "_meta": {}, "execution": {}, "annotations": {"title": "T"}});
        assert_eq!(
            budgeted(&tool),
            json!({"name": "t", "description": "d", "inputSchema": {"type": "object"}, "annotations": {"title": "T"}})
        );
    }
}

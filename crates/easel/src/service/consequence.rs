//! What a call would do that needs the user's yes: publish a note, or make more paid
//! images than the configured threshold. Computed from the call's arguments before
//! anything is created, so that the question shows exactly what would happen. A call whose
//! arguments are invalid needs no question: the tool refuses it anyway.

use std::collections::BTreeMap;

use rmcp::model::JsonObject;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::EaselServer;
use super::batch_tool::GenerateBatchParams;
use super::params::{EditImageParams, GenerateImageParams};
use super::publishing::PublishNoteParams;
use crate::config::PublisherKind;
use crate::publish::{NoteInput, describe_note};

/// The tools that can need a confirmation; every other tool refuses a `confirm` argument.
pub(super) const CONFIRMABLE: &[&str] = &[
    "generate_image",
    "edit_image",
    "generate_batch",
    "publish_note",
];

/// What a call would do, for the question and for the answer when nothing happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Consequence {
    pub tool: String,
    /// Several lines, for a person: what would happen, to whom, how much.
    pub what: String,
    /// Title of the form's yes box, e.g. "Publish this note".
    pub yes: &'static str,
    /// What did not happen when the answer is no, e.g. "nothing was published".
    pub nothing: &'static str,
}

const NOTHING_SPENT: &str = "nothing was submitted to a backend and nothing was spent";
const NOTHING_PUBLISHED: &str = "nothing was published";

fn parse<T: DeserializeOwned>(args: &JsonObject) -> Option<T> {
    serde_json::from_value(Value::Object(args.clone())).ok()
}

impl EaselServer {
    /// What the call would do that needs asking; `None` when it needs no confirmation
    /// (cheap, unpaid, a draft, or invalid arguments the tool will refuse).
    pub(super) async fn consequence(&self, tool: &str, args: &JsonObject) -> Option<Consequence> {
        match tool {
            "publish_note" => self.publish_consequence(parse(args)?).await,
            "generate_image" => {
                let p: GenerateImageParams = parse(args)?;
                self.spend_consequence(tool, &[(p.backend, p.count)], None)
            }
            "edit_image" => {
                let p: EditImageParams = parse(args)?;
                self.spend_consequence(tool, &[(p.backend, p.count)], None)
            }
            "generate_batch" => {
                let p: GenerateBatchParams = parse(args)?;
                let lines = self.batch_line_costs(&p).await?;
                self.spend_consequence(tool, &lines, p.batch_key.as_deref())
            }
            _ => None,
        }
    }

    async fn publish_consequence(&self, p: PublishNoteParams) -> Option<Consequence> {
        let input = NoteInput::from(p);
        let state = &self.state;
        let checked = state
            .options
            .publishers
            .check(&state.jobs, &state.options.input_dirs, input)
            .await
            .ok()?;
        // A draft folder is a local file under the output root: nothing leaves the
        // machine and it can be deleted, so it needs no question.
        if checked.publisher.kind() == PublisherKind::Draft {
            return None;
        }
        Some(Consequence {
            tool: "publish_note".into(),
            what: describe_note(&checked),
            yes: "Publish this note",
            nothing: NOTHING_PUBLISHED,
        })
    }

    /// `(backend, images)` per line: paid images above the threshold need asking.
    fn spend_consequence(
        &self,
        tool: &str,
        lines: &[(Option<String>, u32)],
        batch_key: Option<&str>,
    ) -> Option<Consequence> {
        let jobs = &self.state.jobs;
        let mut paid: BTreeMap<String, u64> = BTreeMap::new();
        for (backend, count) in lines {
            // An unknown backend fails the call (or the line) before anything is sent.
            let Ok(b) = jobs.backend(backend.as_deref()) else {
                continue;
            };
            if b.paid() {
                *paid.entry(b.name().to_string()).or_default() += u64::from(*count);
            }
        }
        let total: u64 = paid.values().sum();
        let threshold = self.state.options.confirm.spend_threshold;
        if total <= u64::from(threshold) {
            return None;
        }
        let per_backend = paid
            .iter()
            .map(|(name, n)| format!("{n} on {name}"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut what = format!(
            "{tool} would make {total} image(s) on paid backends ({per_backend}), each spending paid quota or money. easel asks above {threshold} paid image(s) per call (confirm.spend_threshold)."
        );
        if lines.len() > 1 {
            what.push_str(&format!(" The batch has {} line(s).", lines.len()));
        }
        if let Some(key) = batch_key {
            what.push_str(&format!(
                " Lines batch_key {key:?} already submitted are collected, not paid again."
            ));
        }
        Some(Consequence {
            tool: tool.to_string(),
            what,
            yes: "Spend the quota",
            nothing: NOTHING_SPENT,
        })
    }

    /// Each line's backend and image count, as generate_batch would run it; `None` when
    /// the batch is invalid (generate_batch refuses it without submitting anything).
    async fn batch_line_costs(
        &self,
        p: &GenerateBatchParams,
    ) -> Option<Vec<(Option<String>, u32)>> {
        let (lines, _) = self.batch_lines(p).await.ok()?;
        let lines: Vec<Map<String, Value>> = lines.into_iter().map(|l| l.overrides).collect();
        let pick = |overrides: &Map<String, Value>, key: &str| {
            overrides.get(key).or_else(|| p.defaults.get(key)).cloned()
        };
        Some(
            lines
                .iter()
                .map(|o| {
                    let backend = pick(o, "backend").and_then(|v| v.as_str().map(String::from));
                    let count = pick(o, "count")
                        .and_then(|v| v.as_u64())
                        .map_or(1, |c| u32::try_from(c).unwrap_or(u32::MAX));
                    (backend, count)
                })
                .collect(),
        )
    }
}

//! Asking the user before publishing or spending a paid quota (see `consequence` for what
//! needs asking). Three ways to ask, chosen by what the client can do:
//!
//! - a session client (≤ 2025-11-25) that declared `elicitation` gets an
//!   `elicitation/create` form and the call waits for the answer (`confirm.timeout_secs`);
//! - a 2026-07-28 client that declared `elicitation` gets an input-required result (MRTR):
//!   it asks the user and calls again with the answer, the server keeping no state;
//! - any other client (e.g. Claude Desktop) gets a refusal saying what would happen and
//!   that the same call with `"confirm": true` goes ahead once the user agreed.
//!
//! Where the client can ask, the user is always asked, even with `confirm: true`: the
//! flag is the model's word, the form is the user's. Every answer other than yes (no,
//! dismissed, timed out, could not ask) stops the call before anything is created, sent or
//! recorded. The gate wraps every tool route once (`guard`), so tool bodies stay unaware of
//! it; a path that bypasses the router (e.g. a task-augmented call) calls `confirm_gate`.

use std::sync::Arc;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::tool::ToolCallContext;
use rmcp::model::{
    BooleanSchema, CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock,
    ElicitRequest, ElicitRequestParams, ElicitResult, ElicitationAction, ElicitationSchema,
    InputRequest, InputRequests, InputRequiredResult, JsonObject, PrimitiveSchemaDefinition,
};
use rmcp::service::{ElicitationMode, RequestContext, ServiceError};
use rmcp::{ErrorData as McpError, RoleServer};
use serde_json::Value;

use super::EaselServer;
use super::consequence::{CONFIRMABLE, Consequence};

/// The argument a model sets once the user agreed, for clients that cannot ask.
pub(super) const FIELD: &str = "confirm";
/// Key of easel's question in an input-required result, and of the answer in the retry.
const INPUT_KEY: &str = "easel_confirm";
/// Marks easel's request state; the digest after it names the question that was asked.
const STATE_PREFIX: &str = "easel-confirm/1:";

/// The MRTR part of a tools/call: the client's answers to an earlier input-required result
/// and the state it echoes.
#[derive(Clone, Debug, Default)]
pub(super) struct Answers {
    pub input_responses: Option<rmcp::model::InputResponses>,
    pub request_state: Option<String>,
}

impl Answers {
    /// For the task path, which does not go through the router.
    pub(super) fn from_request(request: &CallToolRequestParams) -> Answers {
        Answers {
            input_responses: request.input_responses.clone(),
            request_state: request.request_state.clone(),
        }
    }

    fn from_context(tcx: &ToolCallContext<'_, EaselServer>) -> Answers {
        Answers {
            input_responses: tcx.input_responses.clone(),
            request_state: tcx.request_state.clone(),
        }
    }
}

/// How this client can be asked.
enum Channel {
    /// Server-to-client `elicitation/create` within the call.
    Session,
    /// Input-required result; the client asks and calls again.
    Mrtr,
    /// It cannot: the call needs `confirm: true`.
    Flag,
}

fn channel(ctx: &RequestContext<RoleServer>) -> Channel {
    let modern = ctx.protocol_version().is_some_and(|v| !v.has_initialize());
    if modern {
        let form = ctx
            .client_capabilities()
            .and_then(|c| c.elicitation)
            // A capability naming neither mode means form (2025-06-18 clients).
            .is_some_and(|e| e.form.is_some() || e.url.is_none());
        if form { Channel::Mrtr } else { Channel::Flag }
    } else if ctx
        .peer
        .supported_elicitation_modes()
        .contains(&ElicitationMode::Form)
    {
        Channel::Session
    } else {
        Channel::Flag
    }
}

fn stop(text: String) -> Option<CallToolResponse> {
    Some(CallToolResult::error(vec![ContentBlock::text(text)]).into())
}

/// `confirm` given to a tool that never asks.
fn not_needed(tool: &str) -> Option<CallToolResponse> {
    stop(format!(
        "confirm: {tool} never needs a confirmation (it neither publishes nor spends a paid quota), so it takes no \"confirm\" argument. Remove \"confirm\" and call {tool} again. Only {} can ask first.",
        // The model's tools only: a view-only tool is no advice to a model.
        CONFIRMABLE
            .iter()
            .filter(|t| !super::app::is_app_only(t))
            .copied()
            .collect::<Vec<_>>()
            .join(", ")
    ))
}

/// For a client that cannot show a form. An error result: nothing happened, and a model
/// must neither report success nor read the text as a result to pass on; it has to ask
/// the user and call again. (A success result would also have to carry the tool's
/// structured output, which does not exist when nothing ran.)
fn needs_flag(c: &Consequence) -> Option<CallToolResponse> {
    stop(format!(
        "CONFIRMATION NEEDED: {}.\n{}\nAsk the user whether to go ahead, showing them the lines above. If they agree, call {} again with the same arguments plus \"confirm\": true. If they do not, do not call it again.",
        c.nothing, c.what, c.tool
    ))
}

fn declined(c: &Consequence, why: &str) -> Option<CallToolResponse> {
    stop(format!(
        "NOT CONFIRMED: {why}, so {}.\n{}\nDo not call {} again unless the user asks for it.",
        c.nothing, c.what, c.tool
    ))
}

fn form(c: &Consequence) -> ElicitRequestParams {
    let mut properties = std::collections::BTreeMap::new();
    properties.insert(
        FIELD.to_string(),
        PrimitiveSchemaDefinition::Boolean(
            BooleanSchema::new()
                .title(c.yes)
                .description("Tick to go ahead; decline or leave it unticked to stop."),
        ),
    );
    ElicitRequestParams::FormElicitationParams {
        meta: None,
        message: format!("{}\n\n{}?", c.what, c.yes),
        requested_schema: ElicitationSchema::new(properties).with_required(vec![FIELD.into()]),
    }
}

/// The user's answer: `None` for yes (go on), else the refusal.
fn judge(c: &Consequence, answer: &ElicitResult) -> Option<CallToolResponse> {
    match answer.action {
        ElicitationAction::Accept => {
            let ticked = answer
                .content
                .as_ref()
                .and_then(|v| v.get(FIELD))
                .and_then(Value::as_bool);
            if ticked == Some(true) {
                None
            } else {
                declined(c, "the user sent the confirmation form without ticking it")
            }
        }
        ElicitationAction::Decline => declined(c, "the user declined"),
        ElicitationAction::Cancel => declined(c, "the user dismissed the confirmation"),
        // Only a yes goes ahead; an action newer than easel is not one.
        _ => declined(c, "the client's answer was neither yes nor no"),
    }
}

/// Names the question asked, so that an answer is only taken for the same question: a
/// retry whose arguments changed (another count, another title) is asked again.
fn state_for(c: &Consequence) -> String {
    let digest = ring::digest::digest(
        &ring::digest::SHA256,
        format!("{}\n{}", c.tool, c.what).as_bytes(),
    );
    let hex: String = digest.as_ref()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("{STATE_PREFIX}{hex}")
}

impl EaselServer {
    /// The gate. `None`: go on. `Some`: answer this instead (a question, or why nothing
    /// happened). Nothing is created, sent or recorded before it returns `None`.
    pub(super) async fn confirm_gate(
        &self,
        tool: &str,
        args: &JsonObject,
        answers: Answers,
        ctx: &RequestContext<RoleServer>,
    ) -> Option<CallToolResponse> {
        if !CONFIRMABLE.contains(&tool) {
            return if args.contains_key(FIELD) {
                not_needed(tool)
            } else {
                None
            };
        }
        let settings = &self.state.options.confirm;
        if !settings.enabled {
            return None;
        }
        let c = self.consequence(tool, args).await?;
        match channel(ctx) {
            Channel::Flag => {
                if args.get(FIELD) == Some(&Value::Bool(true)) {
                    None
                } else {
                    needs_flag(&c)
                }
            }
            Channel::Mrtr => {
                let state = state_for(&c);
                let answer = answers
                    .input_responses
                    .as_ref()
                    .and_then(|r| r.get(INPUT_KEY))
                    .filter(|_| answers.request_state.as_deref() == Some(state.as_str()))
                    .and_then(|v| serde_json::from_value::<ElicitResult>(v.clone()).ok());
                match answer {
                    Some(answer) => judge(&c, &answer),
                    None => {
                        let mut requests = InputRequests::new();
                        requests.insert(
                            INPUT_KEY.to_string(),
                            InputRequest::Elicitation(ElicitRequest::new(form(&c))),
                        );
                        Some(InputRequiredResult::new(Some(requests), Some(state)).into())
                    }
                }
            }
            Channel::Session => {
                let asked = ctx
                    .peer
                    .create_elicitation_with_timeout(form(&c), Some(settings.timeout));
                let answer = tokio::select! {
                    a = asked => a,
                    _ = ctx.ct.cancelled() => {
                        return declined(&c, "the call was cancelled while waiting for the user");
                    }
                };
                match answer {
                    Ok(answer) => judge(&c, &answer),
                    Err(ServiceError::Timeout { timeout }) => declined(
                        &c,
                        &format!(
                            "the user did not answer the confirmation within {} s (confirm.timeout_secs)",
                            timeout.as_secs()
                        ),
                    ),
                    Err(e) => declined(&c, &format!("easel could not ask the user ({e})")),
                }
            }
        }
    }
}

/// Puts the gate in front of every tool route: confirmable tools ask when they must,
/// others refuse a `confirm` argument. Called once, on the finished router.
pub(super) fn guard(router: &mut ToolRouter<EaselServer>) {
    for route in router.map.values_mut() {
        let inner = route.call.clone();
        route.call = Arc::new(move |tcx: ToolCallContext<'_, EaselServer>| {
            let inner = inner.clone();
            Box::pin(async move {
                let args = tcx.arguments.clone().unwrap_or_default();
                let answers = Answers::from_context(&tcx);
                let server = tcx.service;
                if let Some(stop) = server
                    .confirm_gate(&tcx.name, &args, answers, &tcx.request_context)
                    .await
                {
                    return Ok::<_, McpError>(stop);
                }
                inner(tcx).await
            })
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn consequence(what: &str) -> Consequence {
        Consequence {
            tool: "publish_note".into(),
            what: what.into(),
            yes: "Publish this note",
            nothing: "nothing was published",
        }
    }

    fn text(r: Option<CallToolResponse>) -> Option<String> {
        match r? {
            CallToolResponse::Complete(r) => {
                assert_eq!(r.is_error, Some(true));
                Some(
                    r.content[0]
                        .as_text()
                        .map(|t| t.text.clone())
                        .unwrap_or_default(),
                )
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn only_a_ticked_yes_goes_ahead() {
        let c = consequence("a note");
        let mut yes = ElicitResult::new(ElicitationAction::Accept);
        yes.content = Some(serde_json::json!({"confirm": true}));
        assert!(judge(&c, &yes).is_none());
        let mut unticked = ElicitResult::new(ElicitationAction::Accept);
        unticked.content = Some(serde_json::json!({"confirm": "true"}));
        let t = text(judge(&c, &unticked)).expect("refused");
        assert!(
            t.contains("without ticking") && t.contains("nothing was published"),
            "{t}"
        );
        let empty = ElicitResult::new(ElicitationAction::Accept);
        assert!(judge(&c, &empty).is_some());
        for action in [ElicitationAction::Decline, ElicitationAction::Cancel] {
            let t = text(judge(&c, &ElicitResult::new(action))).expect("refused");
            assert!(t.starts_with("NOT CONFIRMED"), "{t}");
        }
    }

    #[test]
    fn an_answer_counts_only_for_the_question_asked() {
        let a = state_for(&consequence("3 images"));
        assert_eq!(a, state_for(&consequence("3 images")));
        assert_ne!(a, state_for(&consequence("4 images")));
        assert!(a.starts_with(STATE_PREFIX));
    }

    #[test]
    fn the_form_asks_one_yes_box_and_no_secret() {
        let ElicitRequestParams::FormElicitationParams {
            requested_schema, ..
        } = form(&consequence("a note"))
        else {
            panic!("a form");
        };
        let schema = serde_json::to_value(requested_schema).expect("schema");
        assert_eq!(schema["required"], serde_json::json!(["confirm"]));
        assert_eq!(schema["properties"].as_object().map(|p| p.len()), Some(1));
        assert_eq!(schema["properties"]["confirm"]["type"], "boolean");
    }
}

//! The worker: runs queued jobs one at a time and reports them the way ComfyUI's
//! `PromptExecutor` does (contract 8.2 to 8.4).
//!
//! Per job: `execution_start`, `execution_cached` (nodes whose input signature is still
//! in the cache), then each needed node in dependency order — cached output nodes replay
//! their old `executed` event, others get `executing` and run — and finally
//! `execution_success`, `execution_error` or `execution_interrupted`. The history entry
//! is written and the queue reported before the owner gets `executing` with
//! `node: null`. Events go to the job's `client_id` socket only; without one, only
//! progress, images and `execution_interrupted` go out, to every socket.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use bytes::Bytes;

use super::cache::{Cached, Signatures};
use super::json::{Json, obj};
use super::nodes::{self, Arg, Args, Value};
use super::queue::{self, Job};
use super::registry::Registry;
use super::state::{Shared, now_ms};
use super::traceback::{self, frame};
use super::ws::{Encoding, Frame};

/// Why a node did not finish.
#[derive(Debug)]
pub enum Failure {
    /// `/interrupt` hit it (`InterruptProcessingException`).
    Interrupted,
    /// It raised an exception.
    Raised {
        /// Python's full type name (`Exception`, `torch.OutOfMemoryError`).
        kind: String,
        /// `exception_message`.
        message: String,
        /// `traceback`.
        traceback: Vec<String>,
    },
}

impl Failure {
    /// An exception of `kind` with `message`.
    pub fn raised(kind: &str, message: String, traceback: Vec<String>) -> Failure {
        Failure::Raised {
            kind: kind.to_owned(),
            message,
            traceback,
        }
    }
}

/// What a running node may do: know its names, report progress, notice interrupts.
pub struct Ctx<'a> {
    /// The server.
    pub shared: &'a Shared,
    prompt_id: &'a Arc<str>,
    client: Option<&'a str>,
    node_id: &'a str,
    signature: &'a str,
}

impl Ctx<'_> {
    /// The content key of output `slot` of this node.
    pub fn key(&self, slot: usize) -> String {
        format!("{}:{slot}", self.signature)
    }

    /// A progress tick: the interrupt check ComfyUI's progress hook makes, then
    /// `progress` (and its image frame) to the owner, or to all without one.
    pub async fn progress(
        &self,
        value: u64,
        max: u64,
        image: Option<(Bytes, Encoding)>,
    ) -> Result<(), Failure> {
        if self.shared.is_interrupted() {
            return Err(Failure::Interrupted);
        }
        let progress: Arc<str> = obj! {
            "type" => "progress",
            "data" => obj! {"value" => value, "max" => max, "prompt_id" => self.prompt_id.as_ref(), "node" => self.node_id},
        }
        .to_text()
        .into();
        let frame = match image {
            None => Frame::Text(progress),
            Some((image, encoding)) => Frame::Image {
                progress,
                image,
                encoding,
                metadata: Arc::new(obj! {
                    "node_id" => self.node_id,
                    "prompt_id" => self.prompt_id.as_ref(),
                    "display_node_id" => self.node_id,
                    "parent_node_id" => Json::Null,
                    "real_node_id" => self.node_id,
                }),
            },
        };
        self.shared.hub.send_job(self.client, frame, self.prompt_id);
        Ok(())
    }
}

/// The worker task: runs jobs until the simulator shuts down.
pub async fn worker(shared: Arc<Shared>) {
    let mut cache: HashMap<String, Cached> = HashMap::new();
    let mut nonce = 0u64;
    while let Some(job) = shared.next_job().await {
        let prompt_id: Arc<str> = job.prompt_id.as_str().into();
        let client = job.client_id();
        let mut run = JobRun {
            shared: &shared,
            job: &job,
            prompt_id: &prompt_id,
            client: client.as_deref(),
            messages: Vec::new(),
        };
        let (outputs, meta, success, ran) = run.execute(&mut cache, &mut nonce).await;
        let status = obj! {
            "status_str" => if success { "success" } else { "error" },
            "completed" => success,
            "messages" => std::mem::take(&mut run.messages),
        };
        shared.set_last_node(None);
        shared.finish_job(&job, queue::entry(&job, outputs, status, meta), ran);
        if let Some(client) = client.as_deref() {
            let done = Frame::event(
                "executing",
                obj! {"node" => Json::Null, "prompt_id" => job.prompt_id.as_str()},
            );
            shared.hub.send_job(Some(client), done, &prompt_id);
        }
    }
}

struct JobRun<'a> {
    shared: &'a Shared,
    job: &'a Job,
    prompt_id: &'a Arc<str>,
    client: Option<&'a str>,
    /// `status.messages` of the history entry.
    messages: Vec<Json>,
}

impl JobRun<'_> {
    /// `add_message`: stamps the event, keeps it for history, and sends it to the owner
    /// (or to everyone when `broadcast` and there is no owner).
    fn message(&mut self, kind: &str, mut data: Json, broadcast: bool) {
        data.insert("timestamp", now_ms());
        self.messages
            .push(Json::Array(vec![kind.into(), data.clone()]));
        if self.client.is_some() || broadcast {
            self.shared
                .hub
                .send_job(self.client, Frame::event(kind, data), self.prompt_id);
        }
    }

    /// Sends an event to the owner only.
    fn to_owner(&self, kind: &str, data: Json) {
        if let Some(client) = self.client {
            self.shared
                .hub
                .send_job(Some(client), Frame::event(kind, data), self.prompt_id);
        }
    }

    /// Runs the job: `(outputs, meta, success, any node actually ran)`.
    async fn execute(
        &mut self,
        cache: &mut HashMap<String, Cached>,
        nonce: &mut u64,
    ) -> (Json, Json, bool, bool) {
        let prompt_id = self.job.prompt_id.clone();
        self.message(
            "execution_start",
            obj! {"prompt_id" => prompt_id.as_str()},
            false,
        );
        let registry = self.shared.registry();
        let graph = &self.job.graph;
        let signatures = Signatures::compute(self.shared, graph, &registry, nonce);
        cache.retain(|key, _| signatures.contains(key));
        let ids: Vec<&String> = graph
            .entries()
            .unwrap_or(&[])
            .iter()
            .map(|(id, _)| id)
            .collect();
        let cached_nodes: Vec<Json> = ids
            .iter()
            .filter(|id| signatures.get(id).is_some_and(|s| cache.contains_key(s)))
            .map(|id| Json::from(id.as_str()))
            .collect();
        self.message(
            "execution_cached",
            obj! {"nodes" => cached_nodes, "prompt_id" => prompt_id.as_str()},
            false,
        );

        let mut values: HashMap<String, Vec<Value>> = HashMap::new();
        let mut outputs = Json::object();
        let mut meta = Json::object();
        let mut executed: Vec<String> = Vec::new();
        for id in order(graph, &self.job.outputs) {
            let Some(class) = class_of(graph, &id, &registry) else {
                continue;
            };
            let signature = signatures.get(&id).cloned().unwrap_or_default();
            if let Some(hit) = cache.get(&signature) {
                if let Some((node_meta, output)) = &hit.ui {
                    outputs.insert(id.as_str(), output.clone());
                    meta.insert(id.as_str(), node_meta.clone());
                    self.to_owner("executed", executed_event(&id, output, &prompt_id));
                }
                values.insert(id.clone(), hit.outputs.clone());
                continue;
            }
            self.shared.set_last_node(Some(&id));
            self.to_owner(
                "executing",
                obj! {"node" => id.as_str(), "display_node" => id.as_str(), "prompt_id" => prompt_id.as_str()},
            );
            let args = arguments(graph, &id, &values);
            let ctx = Ctx {
                shared: self.shared,
                prompt_id: self.prompt_id,
                client: self.client,
                node_id: &id,
                signature: &signature,
            };
            match run_node(&ctx, class.name, &args).await {
                Ok(produced) => {
                    let ui = produced.ui.map(|output| {
                        let node_meta = obj! {"node_id" => id.as_str(), "display_node" => id.as_str(), "parent_node" => Json::Null, "real_node_id" => id.as_str()};
                        outputs.insert(id.as_str(), output.clone());
                        meta.insert(id.as_str(), node_meta.clone());
                        self.to_owner("executed", executed_event(&id, &output, &prompt_id));
                        (node_meta, output)
                    });
                    if !class.always_changed {
                        cache.insert(
                            signature,
                            Cached {
                                outputs: produced.outputs.clone(),
                                ui,
                            },
                        );
                    }
                    values.insert(id.clone(), produced.outputs);
                    executed.push(id);
                }
                Err(Failure::Interrupted) => {
                    let data = obj! {
                        "prompt_id" => prompt_id.as_str(),
                        "node_id" => id.as_str(),
                        "node_type" => class.name,
                        "executed" => executed.clone(),
                    };
                    self.message("execution_interrupted", data, true);
                    return (outputs, meta, false, true);
                }
                Err(Failure::Raised {
                    kind,
                    message,
                    traceback,
                }) => {
                    let data = obj! {
                        "prompt_id" => prompt_id.as_str(),
                        "node_id" => id.as_str(),
                        "node_type" => class.name,
                        "executed" => executed.clone(),
                        "exception_message" => message,
                        "exception_type" => kind,
                        "traceback" => traceback,
                        "current_inputs" => current_inputs(&args, class.name, graph, &self.job.extra_data),
                        "current_outputs" => ids.iter().map(|id| Json::from(id.as_str())).collect::<Vec<_>>(),
                    };
                    self.message("execution_error", data, false);
                    return (outputs, meta, false, true);
                }
            }
        }
        self.message(
            "execution_success",
            obj! {"prompt_id" => prompt_id.as_str()},
            false,
        );
        (outputs, meta, true, !executed.is_empty())
    }
}

/// One node's turn: the interrupt check ComfyUI makes before a node starts, its
/// simulated work, an injected failure, then what the class does.
async fn run_node(ctx: &Ctx<'_>, class: &str, args: &Args) -> Result<nodes::Produced, Failure> {
    if ctx.shared.is_interrupted() {
        return Err(Failure::Interrupted);
    }
    let (latency, fail_node, error) = ctx
        .shared
        .config(|c| (c.node_latency, c.fail_node.clone(), c.error_message.clone()));
    ctx.shared.pause(latency).await;
    if fail_node.as_deref() == Some(ctx.node_id) {
        return Err(injected(class, &error));
    }
    nodes::run(ctx, class, args).await
}

/// The configured failure, reported as the real server reports that exception: a CUDA
/// OOM gets its type and the OOM tips.
fn injected(class: &str, message: &str) -> Failure {
    let oom = message.to_ascii_lowercase().contains("out of memory");
    let (kind, tips) = if oom {
        (
            "torch.OutOfMemoryError",
            "This error means you ran out of memory on your GPU.\n\nTIPS: If the workflow worked before you might have accidentally set the batch_size to a large number.",
        )
    } else {
        ("Exception", "")
    };
    let raise = format!("raise {kind}({})", Json::from(message).py_repr());
    let tail = vec![frame("nodes.py", 1, nodes::function_of(class), &raise)];
    Failure::raised(
        kind,
        format!("{message}\n{tips}"),
        traceback::execution(tail),
    )
}

fn executed_event(id: &str, output: &Json, prompt_id: &str) -> Json {
    obj! {"node" => id, "display_node" => id, "output" => output.clone(), "prompt_id" => prompt_id}
}

fn class_of(graph: &Json, id: &str, registry: &Registry) -> Option<super::registry::Node> {
    let name = graph.get(id)?.get("class_type")?.as_str()?;
    registry.get(name).cloned()
}

/// Dependency order: each output, after everything it links to, outputs in order.
fn order(graph: &Json, outputs: &[String]) -> Vec<String> {
    fn visit(graph: &Json, id: &str, seen: &mut HashSet<String>, out: &mut Vec<String>) {
        if !seen.insert(id.to_owned()) {
            return;
        }
        for (_, value) in graph
            .get(id)
            .and_then(|n| n.get("inputs"))
            .and_then(Json::entries)
            .unwrap_or(&[])
        {
            if let Some(source) = link_source(value) {
                visit(graph, source, seen, out);
            }
        }
        out.push(id.to_owned());
    }
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for output in outputs {
        visit(graph, output, &mut seen, &mut out);
    }
    out
}

/// `[node_id, slot]` links: the source id.
fn link_source(value: &Json) -> Option<&str> {
    match value.as_array()? {
        [Json::String(id), _] => Some(id),
        _ => None,
    }
}

pub fn link_slot(value: &Json) -> Option<(&str, usize)> {
    match value.as_array()? {
        [Json::String(id), slot] => Some((id, usize::try_from(slot.as_int()?).ok()?)),
        _ => None,
    }
}

/// The node's inputs with links replaced by the values upstream produced.
fn arguments(graph: &Json, id: &str, values: &HashMap<String, Vec<Value>>) -> Args {
    let inputs = graph
        .get(id)
        .and_then(|n| n.get("inputs"))
        .and_then(Json::entries)
        .unwrap_or(&[]);
    Args(
        inputs
            .iter()
            .filter_map(|(name, value)| {
                let arg = match link_slot(value) {
                    Some((source, slot)) => Arg::Linked(values.get(source)?.get(slot)?.clone()),
                    None => Arg::Literal(value.clone()),
                };
                Some((name.clone(), arg))
            })
            .collect(),
    )
}

/// `current_inputs` of `execution_error`: each input formatted as ComfyUI's
/// `format_value` does, then the hidden inputs of saving nodes.
fn current_inputs(args: &Args, class: &str, graph: &Json, extra_data: &Json) -> Json {
    let mut out = Json::object();
    for (name, arg) in &args.0 {
        let formatted = match arg {
            Arg::Literal(
                value @ (Json::Null | Json::Bool(_) | Json::Number(_) | Json::String(_)),
            ) => value.clone(),
            Arg::Literal(other) => other.py_repr().into(),
            Arg::Linked(value) => value.py_str().into(),
        };
        out.insert(name.as_str(), Json::Array(vec![formatted]));
    }
    if matches!(class, "SaveImage" | "PreviewImage") {
        out.insert("prompt", Json::Array(vec![graph.py_repr().into()]));
        let pnginfo = extra_data
            .get("extra_pnginfo")
            .cloned()
            .unwrap_or(Json::Null);
        let pnginfo = match pnginfo {
            Json::Null => Json::Null,
            other => other.py_repr().into(),
        };
        out.insert("extra_pnginfo", Json::Array(vec![pnginfo]));
    }
    out
}

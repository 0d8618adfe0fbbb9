//! Graph validation of `POST /prompt` (contract 3.3), ported from ComfyUI's
//! `validate_prompt` / `validate_inputs` so that the same graph gets the same verdict,
//! the same error types and texts, and the same partial-validation outcome: a 200 with
//! `node_errors` when some outputs are valid, a 400 when none are.
//!
//! Validation also coerces literals (`int()`, `float()`, `str()`, `bool()`) in place,
//! because the real server stores and echoes the coerced graph.

use std::cmp::Ordering;

use super::json::{Json, obj};
use super::registry::{Input, Kind, Node, Registry};
use super::traceback;

/// What `POST /prompt` answers for a graph.
#[derive(Debug)]
pub enum Verdict {
    /// Queue the job: run `outputs`; `node_errors` lists the outputs left out.
    Accepted {
        /// Output node ids that validated, in graph order.
        outputs: Vec<String>,
        /// Errors of the outputs that did not (contract 3.2).
        node_errors: Json,
    },
    /// 400 with `{error, node_errors}`.
    Rejected {
        /// The `error` object.
        error: Json,
        /// The `node_errors` object.
        node_errors: Json,
    },
    /// The graph is not a dict of dicts: Python raises outside any handler, and aiohttp
    /// answers 500.
    Crash,
}

/// A Python exception raised while validating, caught one level up.
#[derive(Debug)]
struct Raised {
    /// `KeyError`, `IndexError`, …
    kind: &'static str,
    /// `str(exception)`.
    message: String,
    traceback: Vec<String>,
}

/// One node's validation result: valid, and its own reasons.
type Outcome = (bool, Vec<Json>);

/// Validates `graph` (coercing its literals) against `registry`. `partial` is
/// `partial_execution_targets`; `image_exists` answers LoadImage's file check.
pub fn validate(
    graph: &mut Json,
    registry: &Registry,
    partial: Option<&[Json]>,
    image_exists: &dyn Fn(&str) -> bool,
) -> Verdict {
    let Some(entries) = graph.entries() else {
        return Verdict::Crash;
    };
    let mut outputs = Vec::new();
    for (id, node) in entries {
        let Some(fields) = node.entries() else {
            return Verdict::Crash;
        };
        let title = match node.get("_meta") {
            None => None,
            Some(Json::Object(meta)) => meta.iter().find(|(k, _)| k == "title").map(|(_, v)| v),
            Some(_) => return Verdict::Crash,
        };
        let Some(class_type) = fields
            .iter()
            .find(|(k, _)| k == "class_type")
            .map(|(_, v)| v)
        else {
            let shown = title.map_or_else(|| format!("ID #{id}"), Json::py_str);
            return missing_node_type(
                format!(
                    "Node '{shown}' has no class_type. The workflow may be corrupted or a custom node is missing."
                ),
                id,
                Json::Null,
                title.cloned().unwrap_or(Json::Null),
            );
        };
        let class = class_type.as_str().and_then(|name| registry.get(name));
        let Some(class) = class else {
            let title = title.cloned().unwrap_or_else(|| class_type.clone());
            return missing_node_type(
                format!(
                    "Node '{}' not found. The custom node may not be installed.",
                    title.py_str()
                ),
                id,
                class_type.clone(),
                title,
            );
        };
        let targeted = partial.is_none_or(|targets| targets.iter().any(|t| t.as_str() == Some(id)));
        if class.output_node && targeted {
            outputs.push(id.clone());
        }
    }
    if outputs.is_empty() {
        return Verdict::Rejected {
            error: error("prompt_no_outputs", "Prompt has no outputs", ""),
            node_errors: Json::object(),
        };
    }

    let mut run = Validation {
        graph,
        registry,
        image_exists,
        validated: Vec::new(),
    };
    let mut good = Vec::new();
    let mut failures: Vec<Vec<Json>> = Vec::new();
    let mut node_errors = Json::object();
    for output in &outputs {
        let (valid, reasons) = match run.inputs(output, &mut Vec::new()) {
            Ok(outcome) => outcome,
            Err(raised) => {
                let reasons = vec![reason(
                    "exception_during_validation",
                    "Exception when validating node",
                    &raised.message,
                    obj! {"exception_type" => raised.kind, "traceback" => raised.traceback.clone()},
                )];
                run.record(output, (false, reasons.clone()));
                (false, reasons)
            }
        };
        if valid {
            good.push(output.clone());
            continue;
        }
        failures.push(reasons);
        // As upstream: every invalid node seen so far that has reasons of its own is
        // charged to this output too.
        for (id, (valid, reasons)) in &run.validated {
            if *valid || reasons.is_empty() {
                continue;
            }
            if node_errors.get(id).is_none() {
                let class_type = run.graph.get(id).and_then(|n| n.get("class_type")).cloned();
                node_errors.insert(
                    id.clone(),
                    obj! {
                        "errors" => reasons.clone(),
                        "dependent_outputs" => Json::Array(Vec::new()),
                        "class_type" => class_type,
                    },
                );
            }
            if let Some(Json::Array(dependents)) = node_errors
                .get_mut(id)
                .and_then(|entry| entry.get_mut("dependent_outputs"))
            {
                dependents.push(Json::from(output.as_str()));
            }
        }
    }
    if good.is_empty() {
        let details: Vec<String> = failures
            .iter()
            .flatten()
            .map(|r| {
                let text = |key| r.get(key).map(Json::py_str).unwrap_or_default();
                format!("{}: {}", text("message"), text("details"))
            })
            .collect();
        return Verdict::Rejected {
            error: error(
                "prompt_outputs_failed_validation",
                "Prompt outputs failed validation",
                &details.join("\n"),
            ),
            node_errors,
        };
    }
    Verdict::Accepted {
        outputs: good,
        node_errors,
    }
}

fn missing_node_type(message: String, id: &str, class_type: Json, title: Json) -> Verdict {
    Verdict::Rejected {
        error: obj! {
            "type" => "missing_node_type",
            "message" => message,
            "details" => format!("Node ID '#{id}'"),
            "extra_info" => obj! {"node_id" => id, "class_type" => class_type, "node_title" => title},
        },
        node_errors: Json::object(),
    }
}

/// `{type, message, details, extra_info: {}}`.
pub fn error(kind: &str, message: &str, details: &str) -> Json {
    reason(kind, message, details, Json::object())
}

fn reason(kind: &str, message: &str, details: &str, extra_info: Json) -> Json {
    obj! {"type" => kind, "message" => message, "details" => details, "extra_info" => extra_info}
}

/// The state of one `validate_prompt` call.
struct Validation<'a> {
    graph: &'a mut Json,
    registry: &'a Registry,
    image_exists: &'a dyn Fn(&str) -> bool,
    /// Results so far, in the order they were recorded (Python dict order).
    validated: Vec<(String, Outcome)>,
}

impl Validation<'_> {
    fn record(&mut self, id: &str, outcome: Outcome) {
        match self.validated.iter_mut().find(|(k, _)| k == id) {
            Some((_, slot)) => *slot = outcome,
            None => self.validated.push((id.to_owned(), outcome)),
        }
    }

    fn recorded(&self, id: &str) -> Option<&Outcome> {
        self.validated.iter().find(|(k, _)| k == id).map(|(_, o)| o)
    }

    fn class_of(&self, id: &str) -> Option<Node> {
        let name = self.graph.get(id)?.get("class_type")?.as_str()?;
        self.registry.get(name).cloned()
    }

    /// `validate_inputs`: the node's own errors, recursing into linked nodes.
    fn inputs(&mut self, id: &str, visiting: &mut Vec<String>) -> Result<Outcome, Raised> {
        if let Some(done) = self.recorded(id) {
            return Ok(done.clone());
        }
        if let Some(at) = visiting.iter().position(|v| v == id) {
            return Ok(self.cycle(id, &visiting[at..]));
        }
        let class = self
            .class_of(id)
            .ok_or_else(|| key_error(&Json::from(id)))?;
        let Some(node_inputs) = self.graph.get(id).and_then(|n| n.get("inputs")).cloned() else {
            return Err(key_error(&Json::from("inputs")));
        };
        if node_inputs.entries().is_none() {
            return Err(Raised {
                kind: "TypeError",
                message: "list indices must be integers or slices, not str".to_owned(),
                traceback: traceback::validate_inputs("inputs = prompt[unique_id]['inputs']"),
            });
        }
        let mut errors = Vec::new();
        let mut valid = true;
        for input in &class.inputs {
            let Some(value) = node_inputs.get(input.name) else {
                if input.required {
                    errors.push(reason(
                        "required_input_missing",
                        "Required input is missing",
                        input.name,
                        obj! {"input_name" => input.name},
                    ));
                }
                continue;
            };
            let custom = class.custom_validated.contains(&input.name);
            if let Json::Array(link) = value {
                match self.link(id, input, link, custom, visiting)? {
                    LinkCheck::Fine => {}
                    LinkCheck::Error(e) => errors.push(e),
                    LinkCheck::UpstreamInvalid => valid = false,
                }
                continue;
            }
            match self.literal(id, input, value.clone(), custom) {
                Ok(()) => {}
                Err(e) => errors.push(e),
            }
        }
        for name in class.custom_validated {
            let Some(Json::String(file)) = self
                .graph
                .get(id)
                .and_then(|n| n.get("inputs"))
                .and_then(|i| i.get(name))
            else {
                continue;
            };
            if !(self.image_exists)(file) {
                errors.push(reason(
                    "custom_validation_failed",
                    "Custom validation failed for node",
                    &format!("{name} - Invalid image file: {file}"),
                    obj! {"input_name" => *name},
                ));
            }
        }
        let (before_valid, mut reasons) = self.recorded(id).cloned().unwrap_or((true, Vec::new()));
        let now_valid = before_valid && valid && errors.is_empty();
        for e in errors {
            if !reasons.contains(&e) {
                reasons.push(e);
            }
        }
        self.record(id, (now_valid, reasons.clone()));
        Ok((now_valid, reasons))
    }

    /// Marks every node of a dependency cycle.
    fn cycle(&mut self, id: &str, path: &[String]) -> Outcome {
        let mut path_nodes: Vec<String> = path.to_vec();
        path_nodes.push(id.to_owned());
        let mut nodes: Vec<String> = Vec::new();
        for n in &path_nodes {
            if !nodes.contains(n) {
                nodes.push(n.clone());
            }
        }
        let described: Vec<String> = path_nodes
            .iter()
            .map(|n| {
                let class = self.class_of(n).map_or("", |c| c.name);
                format!("{n} ({class})")
            })
            .collect();
        let details = described.join(" -> ");
        for n in &nodes {
            let e = reason(
                "dependency_cycle",
                "Dependency cycle detected",
                &details,
                obj! {"node_id" => n.as_str(), "cycle_nodes" => nodes.clone()},
            );
            self.record(n, (false, vec![e]));
        }
        self.recorded(id).cloned().unwrap_or((false, Vec::new()))
    }

    fn link(
        &mut self,
        id: &str,
        input: &Input,
        link: &[Json],
        custom: bool,
        visiting: &mut Vec<String>,
    ) -> Result<LinkCheck, Raised> {
        if link.len() != 2 {
            return Ok(LinkCheck::Error(reason(
                "bad_linked_input",
                "Bad linked input, must be a length-2 list of [node_id, slot_index]",
                input.name,
                obj! {"input_name" => input.name, "input_config" => input.config(), "received_value" => link.to_vec()},
            )));
        }
        let (source_id, slot) = (&link[0], &link[1]);
        let source = source_id
            .as_str()
            .filter(|s| self.graph.get(s).is_some())
            .ok_or_else(|| key_error(source_id))?
            .to_owned();
        let source_class = self.class_of(&source).ok_or_else(|| key_error(source_id))?;
        let received = output_type(&source_class, slot)?;
        if !custom && !types_match(received, &input.kind) {
            let details = format!(
                "{}, received_type({received}) mismatch input_type({})",
                input.name,
                input.kind.type_name()
            );
            return Ok(LinkCheck::Error(reason(
                "return_type_mismatch",
                "Return type mismatch between linked nodes",
                &details,
                obj! {
                    "input_name" => input.name,
                    "input_config" => input.config(),
                    "received_type" => received,
                    "linked_node" => link.to_vec(),
                },
            )));
        }
        visiting.push(id.to_owned());
        let upstream = self.inputs(&source, visiting);
        visiting.pop();
        match upstream {
            Ok((true, _)) => Ok(LinkCheck::Fine),
            Ok((false, _)) => Ok(LinkCheck::UpstreamInvalid),
            Err(raised) => {
                let reasons = vec![reason(
                    "exception_during_inner_validation",
                    "Exception when validating inner node",
                    &raised.message,
                    obj! {
                        "input_name" => input.name,
                        "input_config" => input.config(),
                        "exception_message" => raised.message.as_str(),
                        "exception_type" => raised.kind,
                        "traceback" => traceback::inner_validation(raised.traceback),
                        "linked_node" => link.to_vec(),
                    },
                )];
                self.record(&source, (false, reasons));
                Ok(LinkCheck::UpstreamInvalid)
            }
        }
    }

    /// Checks (and coerces in place) a literal input; the error reason if it is bad.
    fn literal(&mut self, id: &str, input: &Input, value: Json, custom: bool) -> Result<(), Json> {
        let mut value = value;
        if let Some(inner) = value.get("__value__").cloned() {
            value = inner;
            self.store(id, input.name, value.clone());
        }
        let coerced = match &input.kind {
            Kind::Int => to_int(&value).map(Json::int).map(Some),
            Kind::Float => to_float(&value).map(Json::float).map(Some),
            Kind::Boolean => Ok(Some(Json::Bool(value.truthy()))),
            Kind::String => Ok(Some(Json::String(value.py_str()))),
            Kind::Combo(_) | Kind::Link(_) => Ok(None),
        };
        match coerced {
            Ok(Some(coerced)) => {
                value = coerced;
                self.store(id, input.name, value.clone());
            }
            Ok(None) => {}
            Err(exception) => {
                let type_name = input.kind.type_name();
                return Err(reason(
                    "invalid_input_type",
                    &format!("Failed to convert an input value to a {type_name} value"),
                    &format!("{}, {}, {exception}", input.name, value.py_str()),
                    obj! {
                        "input_name" => input.name,
                        "input_config" => input.config(),
                        "received_value" => value,
                        "exception_message" => exception,
                    },
                ));
            }
        }
        if custom {
            return Ok(());
        }
        let bound = |key: &str, wrong: Ordering, kind: &str, word: &str| -> Result<(), Json> {
            let Some(limit) = input.option(key) else {
                return Ok(());
            };
            if compare(&value, limit) != Some(wrong) {
                return Ok(());
            }
            Err(reason(
                kind,
                &format!("Value {} {word} of {}", value.py_str(), limit.py_str()),
                input.name,
                obj! {"input_name" => input.name, "input_config" => input.config(), "received_value" => value.clone()},
            ))
        };
        bound(
            "min",
            Ordering::Less,
            "value_smaller_than_min",
            "smaller than min",
        )?;
        bound(
            "max",
            Ordering::Greater,
            "value_bigger_than_max",
            "bigger than max",
        )?;
        if let Kind::Combo(options) = &input.kind {
            let listed = value
                .as_str()
                .is_some_and(|v| options.iter().any(|o| o == v));
            if !listed {
                let (list_info, config) = if options.len() > 20 {
                    (format!("(list of length {})", options.len()), Json::Null)
                } else {
                    (Json::from(options.clone()).py_repr(), input.config())
                };
                return Err(reason(
                    "value_not_in_list",
                    "Value not in list",
                    &format!("{}: {} not in {list_info}", input.name, value.py_repr()),
                    obj! {"input_name" => input.name, "input_config" => config, "received_value" => value},
                ));
            }
        }
        Ok(())
    }

    fn store(&mut self, id: &str, name: &str, value: Json) {
        if let Some(inputs) = self.graph.get_mut(id).and_then(|n| n.get_mut("inputs")) {
            inputs.insert(name, value);
        }
    }
}

enum LinkCheck {
    Fine,
    Error(Json),
    UpstreamInvalid,
}

fn key_error(key: &Json) -> Raised {
    Raised {
        kind: "KeyError",
        message: key.py_repr(),
        traceback: traceback::validate_inputs("o_class_type = prompt[o_id]['class_type']"),
    }
}

/// `RETURN_TYPES[slot]` with Python indexing rules (negative slots count from the end).
fn output_type(class: &Node, slot: &Json) -> Result<&'static str, Raised> {
    let raise = |kind, message: String| Raised {
        kind,
        message,
        traceback: traceback::validate_inputs("received_type = r[val[1]]"),
    };
    let index = match slot {
        Json::Number(_) | Json::Bool(_) if slot.as_int().is_some() => slot.as_int().unwrap_or(0),
        other => {
            let type_name = match other {
                Json::Number(_) => "float",
                Json::String(_) => "str",
                Json::Null => "NoneType",
                Json::Object(_) => "dict",
                _ => "list",
            };
            return Err(raise(
                "TypeError",
                format!("tuple indices must be integers or slices, not {type_name}"),
            ));
        }
    };
    let len = class.outputs.len() as i128;
    let at = if index < 0 { index + len } else { index };
    if !(0..len).contains(&at) {
        return Err(raise("IndexError", "tuple index out of range".to_owned()));
    }
    Ok(class.outputs[at as usize].0)
}

/// `validate_node_input`: exact match, `*`, or overlapping comma-separated unions.
fn types_match(received: &str, expected: &Kind) -> bool {
    let Kind::Link(expected) = expected else {
        return false;
    };
    if received == *expected || received == "*" || *expected == "*" {
        return true;
    }
    let split = |s: &'static str| s.split(',').map(str::trim).collect::<Vec<_>>();
    let wanted = split(expected);
    received
        .split(',')
        .map(str::trim)
        .any(|t| wanted.contains(&t))
}

/// Python's `int(value)`, or its exception text.
fn to_int(value: &Json) -> Result<i128, String> {
    match value {
        Json::Bool(b) => Ok(i128::from(*b)),
        Json::Number(_) => match value.as_int() {
            Some(v) => Ok(v),
            None => {
                let f = value.as_f64().unwrap_or(f64::NAN);
                if f.is_finite() {
                    Ok(f.trunc() as i128)
                } else {
                    Err("cannot convert float infinity to integer".to_owned())
                }
            }
        },
        Json::String(s) => {
            let digits: String = s.trim().chars().filter(|c| *c != '_').collect();
            let body = digits.strip_prefix(['+', '-']).unwrap_or(&digits);
            let well_formed = !body.is_empty()
                && body.chars().all(|c| c.is_ascii_digit())
                && !s.trim().starts_with('_')
                && !s.trim().ends_with('_')
                && !s.contains("__");
            match digits.parse::<i128>() {
                Ok(v) if well_formed => Ok(v),
                _ => Err(format!(
                    "invalid literal for int() with base 10: {}",
                    value.py_repr()
                )),
            }
        }
        other => Err(format!(
            "int() argument must be a string, a bytes-like object or a real number, not '{}'",
            py_type(other)
        )),
    }
}

/// Python's `float(value)`, or its exception text.
fn to_float(value: &Json) -> Result<f64, String> {
    match value {
        Json::Bool(_) | Json::Number(_) => Ok(value.as_f64().unwrap_or(0.0)),
        Json::String(s) => s
            .trim()
            .parse::<f64>()
            .map_err(|_| format!("could not convert string to float: {}", value.py_repr())),
        other => Err(format!(
            "float() argument must be a string or a real number, not '{}'",
            py_type(other)
        )),
    }
}

fn py_type(value: &Json) -> &'static str {
    match value {
        Json::Null => "NoneType",
        Json::Bool(_) => "bool",
        Json::Number(n) if n.is_f64() => "float",
        Json::Number(_) => "int",
        Json::String(_) => "str",
        Json::Array(_) => "list",
        Json::Object(_) => "dict",
    }
}

/// Numeric comparison, exact for two integers (seeds reach 2^64 - 1).
fn compare(a: &Json, b: &Json) -> Option<Ordering> {
    let exact = |j: &Json| match j {
        Json::Number(n) if !n.is_f64() => j.as_int(),
        _ => None,
    };
    match (exact(a), exact(b)) {
        (Some(x), Some(y)) => Some(x.cmp(&y)),
        _ => a.as_f64()?.partial_cmp(&b.as_f64()?),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::comfyui::config::ComfyConfig;

    fn check(graph: &str) -> (Verdict, Json) {
        let registry = Registry::build(&ComfyConfig::default(), Vec::new());
        let mut graph = Json::parse(graph.as_bytes()).unwrap();
        let verdict = validate(&mut graph, &registry, None, &|name| name == "there.png");
        (verdict, graph)
    }

    const BASE: &str = r#"{"1": {"class_type": "EmptyImage", "inputs": {"width": 64, "height": 48, "batch_size": 2, "color": 3368652}},
        "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "x"}}}"#;

    #[test]
    fn coerces_literals_in_place() {
        let (verdict, graph) = check(
            r#"{"1": {"class_type": "EmptyImage", "inputs": {"width": "64", "height": 48.9, "batch_size": true, "color": 0}},
                "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": 7}}}"#,
        );
        assert!(matches!(verdict, Verdict::Accepted { .. }), "{verdict:?}");
        assert_eq!(
            graph.get("1").unwrap().get("inputs").unwrap().to_text(),
            r#"{"width": 64, "height": 48, "batch_size": 1, "color": 0}"#
        );
        assert_eq!(
            graph
                .get("2")
                .unwrap()
                .get("inputs")
                .unwrap()
                .get("filename_prefix"),
            Some(&Json::from("7"))
        );
    }

    #[test]
    fn invalid_int_text_matches_python() {
        let (verdict, _) = check(&BASE.replace(r#""width": 64"#, r#""width": "wide""#));
        let Verdict::Rejected { node_errors, .. } = verdict else {
            panic!("expected a rejection");
        };
        let e = &node_errors
            .get("1")
            .unwrap()
            .get("errors")
            .unwrap()
            .as_array()
            .unwrap()[0];
        assert_eq!(
            e.get("details").unwrap().as_str(),
            Some("width, wide, invalid literal for int() with base 10: 'wide'")
        );
    }

    #[test]
    fn cycles_are_reported() {
        let (verdict, _) = check(
            r#"{"1": {"class_type": "ImageInvert", "inputs": {"image": ["2", 0]}},
                "2": {"class_type": "ImageInvert", "inputs": {"image": ["1", 0]}},
                "3": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "x"}}}"#,
        );
        let Verdict::Rejected { node_errors, .. } = verdict else {
            panic!("expected a rejection");
        };
        let e = &node_errors
            .get("1")
            .unwrap()
            .get("errors")
            .unwrap()
            .as_array()
            .unwrap()[0];
        assert_eq!(e.get("type").unwrap().as_str(), Some("dependency_cycle"));
    }

    #[test]
    fn sampler_list_is_too_long_to_echo() {
        let registry = Registry::build(&ComfyConfig::default(), Vec::new());
        let ksampler = registry.get("KSampler").unwrap();
        let mut graph = Json::parse(br#"{"1": {"class_type": "KSampler", "inputs": {}}}"#).unwrap();
        let mut run = Validation {
            graph: &mut graph,
            registry: &registry,
            image_exists: &|_| true,
            validated: Vec::new(),
        };
        let e = run
            .literal(
                "1",
                ksampler.input("sampler_name").unwrap(),
                Json::from("bogus"),
                false,
            )
            .unwrap_err();
        assert_eq!(
            e.get("details").unwrap().as_str(),
            Some("sampler_name: 'bogus' not in (list of length 37)")
        );
        assert_eq!(
            e.get("extra_info").unwrap().get("input_config"),
            Some(&Json::Null)
        );
    }
}

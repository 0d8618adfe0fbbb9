//! Finds a workflow's parameters the three ways, in precedence order per parameter:
//! placeholders, then title markers, then structural detection. A parameter bound by a
//! higher way is not bound by a lower one, and no input is ever bound twice.

use std::collections::BTreeMap;

use serde_json::Value;

use super::detect::{Place, detect};
use super::error::WorkflowError;
use super::graph::{Graph, link};
use super::markers::{self, Marker};
use super::meta::Meta;
use super::params::{Binding, BindingVia, ParamKind, ParamSpec, float_input, standard};
use super::placeholder::{self, Placeholder};

/// The parameters found, and the inputs that hold placeholders (re-rendered on apply).
pub struct Bound {
    pub params: Vec<ParamSpec>,
    pub templates: Vec<Place>,
}

pub fn bind(workflow: &str, g: Graph<'_>, meta: &Meta) -> Result<Bound, WorkflowError> {
    let mut b = Binder {
        workflow,
        meta,
        params: Vec::new(),
        occupied: BTreeMap::new(),
        templates: Vec::new(),
    };
    b.placeholders(g)?;
    b.markers(g)?;
    b.detected(g);
    // The prompt is the request's own text; a default would let a call without one
    // silently draw whatever the workflow was saved with.
    if let Some(p) = b.params.iter_mut().find(|p| p.name == "prompt") {
        p.default = None;
    }
    Ok(Bound {
        params: b.params,
        templates: b.templates,
    })
}

struct Binder<'m> {
    workflow: &'m str,
    meta: &'m Meta,
    params: Vec<ParamSpec>,
    /// Which parameter already writes each input, and how it was bound.
    occupied: BTreeMap<Place, (String, BindingVia)>,
    templates: Vec<Place>,
}

impl Binder<'_> {
    fn find(&self, name: &str) -> Option<usize> {
        self.params.iter().position(|p| p.name == name)
    }

    fn placeholders(&mut self, g: Graph<'_>) -> Result<(), WorkflowError> {
        let mut seen: Vec<(Place, Placeholder)> = Vec::new();
        for id in g.ids() {
            for (input, value) in g.inputs(id) {
                let mut found = Vec::new();
                placeholder::collect(value, &mut found)
                    .map_err(|reason| self.placeholder_error(id, input, reason))?;
                if found.is_empty() {
                    continue;
                }
                let place = (id.to_string(), input.to_string());
                self.templates.push(place.clone());
                for p in found {
                    self.occupied
                        .entry(place.clone())
                        .or_insert((p.name.clone(), BindingVia::Placeholder));
                    seen.push((place.clone(), p));
                }
            }
        }
        let mut names: Vec<&str> = Vec::new();
        for (_, p) in &seen {
            if !names.contains(&p.name.as_str()) {
                names.push(&p.name);
            }
        }
        for name in names {
            let uses: Vec<&(Place, Placeholder)> =
                seen.iter().filter(|(_, p)| p.name == name).collect();
            let spec = self.placeholder_param(name, &uses)?;
            self.params.push(spec);
        }
        Ok(())
    }

    /// One parameter from all the placeholders that name it: their types and defaults
    /// must agree.
    fn placeholder_param(
        &self,
        name: &str,
        uses: &[&(Place, Placeholder)],
    ) -> Result<ParamSpec, WorkflowError> {
        let ((first_node, first_input), _) = uses[0];
        let err = |reason: String| self.placeholder_error(first_node, first_input, reason);
        let mut written: Option<ParamKind> = None;
        for ((node, input), p) in uses {
            if let Some(k) = p.kind {
                match written {
                    Some(w) if w != k => {
                        return Err(self.placeholder_error(
                            node,
                            input,
                            format!(
                                "{{{{{name}}}}} is typed {} here but {} elsewhere; use one type",
                                k.word(),
                                w.word()
                            ),
                        ));
                    }
                    _ => written = Some(k),
                }
            }
        }
        let from_meta = self.meta.kind(name).map_err(&err)?;
        let std = standard(name);
        let kind = from_meta
            .or(written)
            .or(std.map(|s| s.kind))
            .unwrap_or(ParamKind::String);
        if let Some(w) = written.or(from_meta)
            && w != kind
        {
            return Err(err(format!(
                "{{{{{name}}}}} is typed {} but its metadata says {}",
                w.word(),
                kind.word()
            )));
        }
        if let Some(s) = std
            && s.kind != kind
        {
            return Err(err(format!(
                "{name} is a standard parameter of type {}; write {{{{{name}:{}}}}}",
                s.kind.word(),
                s.kind.word()
            )));
        }
        let mut spec = ParamSpec::new(name, kind);
        for ((node, input), p) in uses {
            if let Some(text) = &p.default {
                let d = placeholder::default_value(kind, text).map_err(|e| {
                    self.placeholder_error(node, input, format!("default of {{{{{name}}}}} {e}"))
                })?;
                match &spec.default {
                    Some(old) if old != &d => {
                        return Err(self.placeholder_error(
                            node,
                            input,
                            format!("{{{{{name}}}}} defaults to {d} here but {old} elsewhere; give the default once or make them equal"),
                        ));
                    }
                    _ => spec.default = Some(d),
                }
            }
            let binding = Binding {
                node_id: node.clone(),
                input: input.clone(),
                via: BindingVia::Placeholder,
            };
            if !spec.bindings.contains(&binding) {
                spec.bindings.push(binding);
            }
        }
        // No negative text is a sensible default; requiring one would make every call
        // to a workflow with {{negative_prompt}} pass it.
        if name == "negative_prompt" && spec.default.is_none() {
            spec.default = Some(Value::String(String::new()));
        }
        Ok(spec)
    }

    fn markers(&mut self, g: Graph<'_>) -> Result<(), WorkflowError> {
        let mut required: Vec<String> = Vec::new();
        for id in g.ids() {
            let Some(title) = g.title(id) else { continue };
            for m in markers::parse(title) {
                if self.find(&m.name).is_some_and(|i| {
                    self.params[i]
                        .bindings
                        .iter()
                        .any(|b| b.via == BindingVia::Placeholder)
                }) {
                    continue;
                }
                self.marker(g, id, &m)?;
                if m.required && !required.contains(&m.name) {
                    required.push(m.name.clone());
                }
            }
        }
        for name in required {
            if let Some(i) = self.find(&name) {
                self.params[i].default = None;
            }
        }
        Ok(())
    }

    fn marker(&mut self, g: Graph<'_>, id: &str, m: &Marker) -> Result<(), WorkflowError> {
        let err = |reason: String| WorkflowError::Marker {
            name: self.workflow.to_string(),
            node_id: id.to_string(),
            marker: format!("{}.{}", m.name, m.input),
            reason,
        };
        let Some(value) = g.input(id, &m.input) else {
            let inputs: Vec<&str> = g.inputs(id).map(|(k, _)| k).collect();
            return Err(err(format!(
                "{} has no input {:?}; its inputs are: {}. Fix the title in ComfyUI and export again",
                g.class(id),
                m.input,
                inputs.join(", ")
            )));
        };
        if link(value).is_some() {
            return Err(err(format!(
                "input {:?} is connected to another node; a marker can only set a value typed into the node (convert the link back to a widget, or mark the node it comes from)",
                m.input
            )));
        }
        let place = (id.to_string(), m.input.clone());
        match self.occupied.get(&place) {
            Some((other, _)) if other == &m.name => return Ok(()),
            Some((other, BindingVia::Placeholder)) => {
                return Err(err(format!(
                    "input {:?} already holds the {{{{{other}}}}} placeholder; keep one of the two",
                    m.input
                )));
            }
            Some((other, _)) => {
                return Err(err(format!(
                    "input {:?} is already marked ${other}.{}; one input can be one parameter only",
                    m.input, m.input
                )));
            }
            None => {}
        }
        let Some(mut slot) = ParamKind::of_literal(value) else {
            return Err(err(format!(
                "input {:?} holds {value}; markers can set text, numbers and true/false only",
                m.input
            )));
        };
        if m.input == "image" && ["LoadImage", "LoadImageMask"].contains(&g.class(id)) {
            slot = ParamKind::Image;
        }
        if slot == ParamKind::Int && float_input(&m.input) {
            slot = ParamKind::Float;
        }
        let kind = match (self.meta.kind(&m.name).map_err(&err)?, standard(&m.name)) {
            (_, Some(s)) => s.kind,
            (Some(k), None) => k,
            (None, None) => slot,
        };
        if !kind.fits(slot) {
            return Err(err(format!(
                "{} takes {} values, but input {:?} holds {value}",
                m.name,
                kind.word(),
                m.input
            )));
        }
        let binding = Binding {
            node_id: id.to_string(),
            input: m.input.clone(),
            via: BindingVia::TitleMarker,
        };
        match self.find(&m.name) {
            Some(i) => {
                let p = &mut self.params[i];
                if p.kind != kind {
                    return Err(err(format!(
                        "{} is {} on another node but {} here; mark inputs of one type",
                        m.name,
                        p.kind.word(),
                        kind.word()
                    )));
                }
                // The first description a person wrote wins over the built-in one.
                let builtin = standard(&m.name).map(|s| s.description);
                let unset = p.description.is_empty() || builtin == Some(p.description.as_str());
                if unset && !m.description.is_empty() {
                    p.description = m.description.clone();
                }
                if !p.bindings.contains(&binding) {
                    p.bindings.push(binding);
                }
            }
            None => {
                let mut p = ParamSpec::new(&m.name, kind);
                if !m.description.is_empty() {
                    p.description = m.description.clone();
                }
                p.default = Some(value.clone());
                p.bindings.push(binding);
                self.params.push(p);
            }
        }
        self.occupied
            .insert(place, (m.name.clone(), BindingVia::TitleMarker));
        Ok(())
    }

    fn detected(&mut self, g: Graph<'_>) {
        let images_marked = self.params.iter().any(|p| p.kind == ParamKind::Image);
        for (name, places) in detect(g) {
            if self.find(&name).is_some() {
                continue;
            }
            let Some(std) = standard(&name) else { continue };
            if std.kind == ParamKind::Image && images_marked {
                // Someone chose which loaders are parameters; the others stay fixed.
                continue;
            }
            let places: Vec<Place> = places
                .into_iter()
                .filter(|p| !self.occupied.contains_key(p))
                .filter(|(node, input)| {
                    g.literal(node, input)
                        .and_then(ParamKind::of_literal)
                        .is_some_and(|k| std.kind.fits(k))
                })
                .collect();
            let Some((node, input)) = places.first() else {
                continue;
            };
            let mut spec = ParamSpec::new(&name, std.kind);
            if std.kind != ParamKind::Image {
                spec.default = g.literal(node, input).cloned();
            }
            for place in places {
                spec.bindings.push(Binding {
                    node_id: place.0.clone(),
                    input: place.1.clone(),
                    via: BindingVia::Detected,
                });
                self.occupied
                    .insert(place, (name.clone(), BindingVia::Detected));
            }
            self.params.push(spec);
        }
    }

    fn placeholder_error(&self, node: &str, input: &str, reason: String) -> WorkflowError {
        WorkflowError::Placeholder {
            name: self.workflow.to_string(),
            node_id: node.to_string(),
            input: input.to_string(),
            reason,
        }
    }
}

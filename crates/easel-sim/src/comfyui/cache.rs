//! The output cache between jobs (contract 2, 8.4).
//!
//! ComfyUI keys each node's outputs by its input signature — class, literal inputs and
//! the signatures of everything upstream — and keeps only the entries the current graph
//! still uses. An identical graph therefore re-executes nothing (its output nodes replay
//! their old file names), a new seed re-runs that node and everything downstream, and
//! nodes that say they always change (SaveImageWebsocket) never hit.

use std::collections::HashMap;

use super::files::fnv1a;
use super::json::Json;
use super::nodes::Value;
use super::registry::Registry;
use super::state::Shared;

/// A finished node kept for later jobs, by input signature.
#[derive(Clone, Debug)]
pub struct Cached {
    /// One value per output slot.
    pub outputs: Vec<Value>,
    /// `{"meta", "output"}` for nodes with UI output.
    pub ui: Option<(Json, Json)>,
}

/// Input signatures: a node's class, its literal inputs and its ancestors' signatures
/// (ComfyUI's `CacheKeySetInputSignature`). An identical graph has identical
/// signatures, so it is served from cache; a new seed changes that node and everything
/// downstream.
pub struct Signatures {
    all: HashMap<String, String>,
}

impl Signatures {
    /// Signatures of every node of `graph`; `nonce` makes always-changed nodes unique.
    pub fn compute(
        shared: &Shared,
        graph: &Json,
        registry: &Registry,
        nonce: &mut u64,
    ) -> Signatures {
        let mut sigs = Signatures {
            all: HashMap::new(),
        };
        for (id, _) in graph.entries().unwrap_or(&[]) {
            sigs.of(shared, graph, registry, id, nonce, &mut Vec::new());
        }
        sigs
    }

    /// True if some node of the graph has this signature.
    pub fn contains(&self, signature: &str) -> bool {
        self.all.values().any(|s| s == signature)
    }

    /// The signature of node `id`.
    pub fn get(&self, id: &str) -> Option<&String> {
        self.all.get(id)
    }

    fn of(
        &mut self,
        shared: &Shared,
        graph: &Json,
        registry: &Registry,
        id: &str,
        nonce: &mut u64,
        visiting: &mut Vec<String>,
    ) -> String {
        if let Some(done) = self.all.get(id) {
            return done.clone();
        }
        if visiting.iter().any(|v| v == id) || graph.get(id).is_none() {
            return format!("missing:{id}");
        }
        visiting.push(id.to_owned());
        let node = graph.get(id).cloned().unwrap_or_default();
        let class_name = node.get("class_type").map(Json::py_str).unwrap_or_default();
        let mut text = format!("{class_name}(");
        let mut inputs: Vec<(String, Json)> = node
            .get("inputs")
            .and_then(Json::entries)
            .map(<[_]>::to_vec)
            .unwrap_or_default();
        inputs.sort_by(|a, b| a.0.cmp(&b.0));
        for (name, value) in &inputs {
            match super::exec::link_slot(value) {
                Some((source, slot)) => {
                    let upstream = self.of(shared, graph, registry, source, nonce, visiting);
                    text.push_str(&format!("{name}=@{upstream}:{slot};"));
                }
                None => text.push_str(&format!("{name}={};", value.to_text())),
            }
        }
        text.push(')');
        match registry.get(&class_name) {
            Some(class) if class.always_changed => {
                *nonce += 1;
                text.push_str(&format!("#changed{nonce}"));
            }
            Some(class) if class.name == "LoadImage" => {
                // IS_CHANGED is the file's hash: a re-upload under the same name reruns.
                let file = node
                    .get("inputs")
                    .and_then(|i| i.get("image"))
                    .map(Json::py_str);
                let hash =
                    file.and_then(|f| shared.files(|files| files.annotated(&f).map(|s| s.hash)));
                text.push_str(&format!("#file{hash:?}"));
            }
            _ => {}
        }
        visiting.pop();
        let signature = format!(
            "{:016x}{:016x}",
            fnv1a(text.as_bytes()),
            fnv1a(format!("{}{text}", text.len()).as_bytes())
        );
        self.all.insert(id.to_owned(), signature.clone());
        signature
    }
}

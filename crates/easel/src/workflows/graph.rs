//! Read-only helpers over an API-format graph (docs/contracts/comfyui.md §2): nodes keyed by
//! string id, each with `class_type`, `inputs` and an optional `_meta.title`. An input
//! whose value is an array `[source_id, output_index]` is a link; everything else,
//! including `{"__value__": [...]}` literal lists, is a literal.

use std::cmp::Ordering;

use serde_json::{Map, Value};

/// A link from an input to output `output` of node `node`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    pub node: String,
    pub output: u64,
}

/// The link an input value makes, if it is one. Node ids are strings in exports, but a
/// hand-written graph may use numbers; ComfyUI accepts both.
pub fn link(value: &Value) -> Option<Link> {
    let items = value.as_array()?;
    let [node, output] = items.as_slice() else {
        return None;
    };
    let node = match node {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    Some(Link {
        node,
        output: output.as_u64()?,
    })
}

/// Orders node ids the way people read them: numerically when both are numbers
/// ("9" before "10"), otherwise as text, numbers first.
pub fn id_order(a: &str, b: &str) -> Ordering {
    match (a.parse::<u64>(), b.parse::<u64>()) {
        (Ok(x), Ok(y)) => x.cmp(&y),
        (Ok(_), Err(_)) => Ordering::Less,
        (Err(_), Ok(_)) => Ordering::Greater,
        (Err(_), Err(_)) => a.cmp(b),
    }
}

/// A checked view of a graph whose every node has a `class_type` string and an `inputs`
/// object (checked once at load, so lookups here cannot fail on shape).
#[derive(Clone, Copy)]
pub struct Graph<'a> {
    nodes: &'a Map<String, Value>,
}

impl<'a> Graph<'a> {
    pub fn new(nodes: &'a Map<String, Value>) -> Graph<'a> {
        Graph { nodes }
    }

    /// Node ids in reading order (see [`id_order`]).
    pub fn ids(&self) -> Vec<&'a str> {
        let mut ids: Vec<&str> = self.nodes.keys().map(String::as_str).collect();
        ids.sort_by(|a, b| id_order(a, b));
        ids
    }

    pub fn class(&self, id: &str) -> &'a str {
        self.nodes
            .get(id)
            .and_then(|n| n.get("class_type"))
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    pub fn exists(&self, id: &str) -> bool {
        self.nodes.contains_key(id)
    }

    /// The node's inputs; empty for unknown ids.
    pub fn inputs(&self, id: &str) -> impl Iterator<Item = (&'a str, &'a Value)> + use<'a> {
        self.nodes
            .get(id)
            .and_then(|n| n.get("inputs"))
            .and_then(Value::as_object)
            .into_iter()
            .flat_map(|m| m.iter().map(|(k, v)| (k.as_str(), v)))
    }

    pub fn input(&self, id: &str, name: &str) -> Option<&'a Value> {
        self.nodes.get(id)?.get("inputs")?.get(name)
    }

    /// The input's value when it is typed into the node rather than linked.
    pub fn literal(&self, id: &str, name: &str) -> Option<&'a Value> {
        self.input(id, name).filter(|v| link(v).is_none())
    }

    /// Where the input is linked from, if it is linked to a node that exists.
    pub fn linked(&self, id: &str, name: &str) -> Option<Link> {
        self.input(id, name)
            .and_then(link)
            .filter(|l| self.exists(&l.node))
    }

    pub fn title(&self, id: &str) -> Option<&'a str> {
        self.nodes.get(id)?.get("_meta")?.get("title")?.as_str()
    }

    /// "node 6 CLIPTextEncode.text": how results and logs name a place in the graph.
    pub fn describe(&self, id: &str, input: &str) -> String {
        format!("node {id} {}.{input}", self.class(id))
    }
}

/// Checks that `root` is an API-format graph: an object of nodes, each an object with a
/// string `class_type` and an object `inputs`. Returns the reason when it is not.
pub fn check_shape(root: &Map<String, Value>) -> Result<(), String> {
    if root.is_empty() {
        return Err("the graph has no nodes".into());
    }
    for (id, node) in root {
        let Some(node) = node.as_object() else {
            return Err(format!(
                "top-level key {id:?} is not a node object (an API-format file maps node ids to {{\"class_type\", \"inputs\"}})"
            ));
        };
        if !node.get("class_type").is_some_and(Value::is_string) {
            return Err(format!("node {id} has no class_type"));
        }
        if !node.get("inputs").is_some_and(Value::is_object) {
            return Err(format!("node {id} has no inputs object"));
        }
    }
    Ok(())
}

/// A UI-format export (what ComfyUI's plain "Save" writes) has top-level `nodes` and
/// `links` arrays; the server cannot run it.
pub fn is_ui_format(root: &Map<String, Value>) -> bool {
    root.get("nodes").is_some_and(Value::is_array) && root.get("links").is_some_and(Value::is_array)
}

//! `{{name}}`, `{{name:type}}` and `{{name:type=default}}` placeholders in input values
//! (syntax in the module docs of `workflows`).

use std::collections::BTreeMap;

use serde_json::Value;

use super::graph::link;
use super::params::{ParamKind, as_text, coerce_kind, valid_name};

/// One `{{…}}` as written.
#[derive(Clone, Debug, PartialEq)]
pub struct Placeholder {
    pub name: String,
    pub kind: Option<ParamKind>,
    /// The text after `=`, unparsed (its meaning depends on the type).
    pub default: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Piece {
    Text(String),
    Slot(Placeholder),
}

/// Splits `text` into literal text and placeholders. `{{` not followed by a valid name is
/// left as text, so prompts that happen to contain braces still work; an unknown type
/// after a valid name is an error, since it is almost certainly a typo.
pub fn parse(text: &str) -> Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut rest = text;
    let mut literal = String::new();
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        match parse_one(&after[..end])? {
            Some(p) => {
                literal.push_str(&rest[..start]);
                if !literal.is_empty() {
                    pieces.push(Piece::Text(std::mem::take(&mut literal)));
                }
                pieces.push(Piece::Slot(p));
                rest = &after[end + 2..];
            }
            None => {
                literal.push_str(&rest[..start + 2]);
                rest = after;
            }
        }
    }
    literal.push_str(rest);
    if !literal.is_empty() {
        pieces.push(Piece::Text(literal));
    }
    Ok(pieces)
}

fn parse_one(inner: &str) -> Result<Option<Placeholder>, String> {
    let (head, default) = match inner.split_once('=') {
        Some((h, d)) => (h, Some(d.to_string())),
        None => (inner, None),
    };
    let (name, kind) = match head.split_once(':') {
        Some((n, k)) => (n.trim(), Some(k.trim())),
        None => (head.trim(), None),
    };
    if !valid_name(name) {
        return Ok(None);
    }
    let kind = match kind {
        None => None,
        Some(word) => Some(ParamKind::parse(word).ok_or_else(|| {
            format!("{{{{{inner}}}}} has type {word:?}; use string, int, float, bool or image")
        })?),
    };
    Ok(Some(Placeholder {
        name: name.to_string(),
        kind,
        default,
    }))
}

/// The placeholder a string consists of entirely, which is replaced by a typed value.
pub fn whole(text: &str) -> Option<Placeholder> {
    match parse(text).ok()?.as_slice() {
        [Piece::Slot(p)] => Some(p.clone()),
        _ => None,
    }
}

/// Every placeholder in an input value, looking into `{"__value__": [...]}` lists and
/// other nested literals but never into links.
pub fn collect(value: &Value, out: &mut Vec<Placeholder>) -> Result<(), String> {
    if link(value).is_some() {
        return Ok(());
    }
    collect_literal(value, out)
}

/// Below the top level nothing is a link: `{"__value__": ["a", 1]}` is a list of two
/// literals even though `["a", 1]` would be a link as an input's whole value.
fn collect_literal(value: &Value, out: &mut Vec<Placeholder>) -> Result<(), String> {
    match value {
        Value::String(s) => {
            for piece in parse(s)? {
                if let Piece::Slot(p) = piece {
                    out.push(p);
                }
            }
        }
        Value::Array(items) => {
            for v in items {
                collect_literal(v, out)?;
            }
        }
        Value::Object(map) => {
            for v in map.values() {
                collect_literal(v, out)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// Parses a placeholder's default text as `kind`.
pub fn default_value(kind: ParamKind, text: &str) -> Result<Value, String> {
    coerce_kind(kind, &Value::String(text.to_string()))
}

/// `value` with every placeholder replaced: a whole-string placeholder by the typed value,
/// one inside longer text by the value's text. `values` holds every parameter's value.
pub fn render(value: &Value, values: &BTreeMap<String, Value>) -> Result<Value, String> {
    if link(value).is_some() {
        return Ok(value.clone());
    }
    render_literal(value, values)
}

fn render_literal(value: &Value, values: &BTreeMap<String, Value>) -> Result<Value, String> {
    Ok(match value {
        Value::String(s) => {
            let pieces = parse(s)?;
            if let [Piece::Slot(p)] = pieces.as_slice() {
                return lookup(values, &p.name).cloned();
            }
            let mut out = String::with_capacity(s.len());
            for piece in &pieces {
                match piece {
                    Piece::Text(t) => out.push_str(t),
                    Piece::Slot(p) => out.push_str(&as_text(lookup(values, &p.name)?)),
                }
            }
            Value::String(out)
        }
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| render_literal(v, values))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| Ok((k.clone(), render_literal(v, values)?)))
                .collect::<Result<_, String>>()?,
        ),
        other => other.clone(),
    })
}

fn lookup<'v>(values: &'v BTreeMap<String, Value>, name: &str) -> Result<&'v Value, String> {
    values.get(name).ok_or_else(|| name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_forms_and_leaves_other_braces() {
        let p = whole("{{guidance:float=3.5}}").expect("placeholder");
        assert_eq!(p.name, "guidance");
        assert_eq!(p.kind, Some(ParamKind::Float));
        assert_eq!(p.default.as_deref(), Some("3.5"));
        assert_eq!(
            whole("{{ seed : int }}").expect("spaces").kind,
            Some(ParamKind::Int)
        );
        assert_eq!(
            whole("{{neg=}}").expect("empty default").default.as_deref(),
            Some("")
        );
        assert!(whole("a {{x}}").is_none());
        let pieces = parse("{{ not a name }} and {{subject}}!").expect("parse");
        assert_eq!(
            pieces,
            vec![
                Piece::Text("{{ not a name }} and ".into()),
                Piece::Slot(Placeholder {
                    name: "subject".into(),
                    kind: None,
                    default: None
                }),
                Piece::Text("!".into()),
            ]
        );
        assert!(parse("{{seed:integr}}").is_err());
        assert_eq!(
            parse("unclosed {{x").expect("ok"),
            vec![Piece::Text("unclosed {{x".into())]
        );
    }

    #[test]
    fn renders_typed_and_in_text() {
        let values = BTreeMap::from([
            ("n".to_string(), Value::from(7)),
            ("s".to_string(), Value::from("cat")),
        ]);
        let v = serde_json::json!({"__value__": ["{{n}}", "a {{s}} x{{n}}", ["{{s}}", 1]]});
        assert_eq!(
            render(&v, &values).expect("render"),
            serde_json::json!({"__value__": [7, "a cat x7", ["cat", 1]]})
        );
        let link = serde_json::json!(["4", 0]);
        assert_eq!(render(&link, &values).expect("link"), link);
        assert_eq!(
            render(&Value::from("{{missing}}"), &values).expect_err("missing"),
            "missing"
        );
    }
}

//! A JSON value that keeps the order of object keys.
//!
//! ComfyUI is a Python server: its dicts keep insertion order, and clients see fields in
//! that order (`{prompt_id, number, node_errors}`, graphs echoed in the order they were
//! sent, history oldest first). `serde_json::Value` sorts keys unless its
//! `preserve_order` feature is on, and turning that on would change key order for every
//! crate in the workspace, so the simulator carries its own small value type. It also
//! knows how Python prints values (`repr`, `str`), which ComfyUI's error texts embed.

use std::fmt::Write as _;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Number;

/// A JSON value whose objects are ordered lists of entries.
#[derive(Clone, Debug, PartialEq, Default)]
pub enum Json {
    /// `null` (Python `None`).
    #[default]
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// Any number, kept as parsed (so `-100.0` stays a float and `42` an int).
    Number(Number),
    /// A string.
    String(String),
    /// An array (Python list).
    Array(Vec<Json>),
    /// An object (Python dict) in insertion order.
    Object(Vec<(String, Json)>),
}

/// Builds a [`Json::Object`] from `key => value` pairs, values converted with
/// `Json::from`.
macro_rules! obj {
    () => { $crate::comfyui::json::Json::Object(Vec::new()) };
    ($($key:expr => $value:expr),+ $(,)?) => {
        $crate::comfyui::json::Json::Object(vec![
            $(($key.to_string(), $crate::comfyui::json::Json::from($value))),+
        ])
    };
}
pub(crate) use obj;

impl Json {
    /// An empty object.
    pub fn object() -> Json {
        Json::Object(Vec::new())
    }

    /// The value under `key`, if this is an object that has it.
    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Object(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Mutable access to the value under `key`.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Json> {
        match self {
            Json::Object(entries) => entries.iter_mut().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Sets `key` as a Python dict does: an existing key keeps its place. Does nothing
    /// on a non-object.
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<Json>) {
        let key = key.into();
        let value = value.into();
        if let Json::Object(entries) = self {
            match entries.iter_mut().find(|(k, _)| *k == key) {
                Some((_, slot)) => *slot = value,
                None => entries.push((key, value)),
            }
        }
    }

    /// Removes `key` and returns its value.
    pub fn remove(&mut self, key: &str) -> Option<Json> {
        match self {
            Json::Object(entries) => {
                let at = entries.iter().position(|(k, _)| k == key)?;
                Some(entries.remove(at).1)
            }
            _ => None,
        }
    }

    /// The entries, if this is an object.
    pub fn entries(&self) -> Option<&[(String, Json)]> {
        match self {
            Json::Object(entries) => Some(entries),
            _ => None,
        }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::String(s) => Some(s),
            _ => None,
        }
    }

    /// The elements, if this is an array.
    pub fn as_array(&self) -> Option<&[Json]> {
        match self {
            Json::Array(items) => Some(items),
            _ => None,
        }
    }

    /// The number as an `f64` (bools count as 0 and 1, as in Python).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Json::Number(n) => n.as_f64(),
            Json::Bool(b) => Some(f64::from(u8::from(*b))),
            _ => None,
        }
    }

    /// The number as an integer, if it is an integral JSON number.
    pub fn as_int(&self) -> Option<i128> {
        match self {
            Json::Number(n) => n
                .as_i64()
                .map(i128::from)
                .or_else(|| n.as_u64().map(i128::from)),
            Json::Bool(b) => Some(i128::from(*b)),
            _ => None,
        }
    }

    /// Python truthiness.
    pub fn truthy(&self) -> bool {
        match self {
            Json::Null => false,
            Json::Bool(b) => *b,
            Json::Number(n) => n.as_f64().is_some_and(|v| v != 0.0),
            Json::String(s) => !s.is_empty(),
            Json::Array(items) => !items.is_empty(),
            Json::Object(entries) => !entries.is_empty(),
        }
    }

    /// An integer as a JSON number (beyond 64 bits it degrades to a float, which only
    /// absurd seeds reach).
    pub fn int(value: i128) -> Json {
        if let Ok(v) = u64::try_from(value) {
            Json::Number(Number::from(v))
        } else if let Ok(v) = i64::try_from(value) {
            Json::Number(Number::from(v))
        } else {
            Json::float(value as f64)
        }
    }

    /// A float as a JSON number; non-finite values become `null`, as JSON has no NaN.
    pub fn float(value: f64) -> Json {
        Number::from_f64(value).map_or(Json::Null, Json::Number)
    }

    /// JSON text as Python's `json.dumps` writes it (what aiohttp's `json_response` and
    /// `send_json` put on the wire): `", "` and `": "` separators, non-ASCII escaped,
    /// floats in Python's spelling.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        self.write_json(&mut out);
        out
    }

    fn write_json(&self, out: &mut String) {
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Number(n) if n.is_f64() => {
                out.push_str(&py_float(n.as_f64().unwrap_or(0.0)));
            }
            Json::Number(n) => out.push_str(&n.to_string()),
            Json::String(s) => write_json_string(out, s),
            Json::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    item.write_json(out);
                }
                out.push(']');
            }
            Json::Object(entries) => {
                out.push('{');
                for (i, (key, value)) in entries.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    write_json_string(out, key);
                    out.push_str(": ");
                    value.write_json(out);
                }
                out.push('}');
            }
        }
    }

    /// Parses JSON text, keeping key order.
    pub fn parse(bytes: &[u8]) -> Result<Json, serde_json::Error> {
        serde_json::from_slice(bytes)
    }

    /// Python `repr()` of the value as `json.loads` would have built it.
    pub fn py_repr(&self) -> String {
        let mut out = String::new();
        self.write_repr(&mut out);
        out
    }

    /// Python `str()`: strings unquoted, everything else as `repr()`.
    pub fn py_str(&self) -> String {
        match self {
            Json::String(s) => s.clone(),
            other => other.py_repr(),
        }
    }

    fn write_repr(&self, out: &mut String) {
        match self {
            Json::Null => out.push_str("None"),
            Json::Bool(true) => out.push_str("True"),
            Json::Bool(false) => out.push_str("False"),
            Json::Number(n) => out.push_str(&py_number(n)),
            Json::String(s) => out.push_str(&py_str_repr(s)),
            Json::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    item.write_repr(out);
                }
                out.push(']');
            }
            Json::Object(entries) => {
                out.push('{');
                for (i, (key, value)) in entries.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    out.push_str(&py_str_repr(key));
                    out.push_str(": ");
                    value.write_repr(out);
                }
                out.push('}');
            }
        }
    }
}

/// A JSON string with `ensure_ascii` escaping, as Python's `json.dumps` writes it.
fn write_json_string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if c.is_ascii() && !c.is_ascii_control() => out.push(c),
            c => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
        }
    }
    out.push('"');
}

/// Python's text for a number: ints as digits, floats as `repr(float)`.
pub fn py_number(n: &Number) -> String {
    if n.is_f64() {
        py_float(n.as_f64().unwrap_or(f64::NAN))
    } else {
        n.to_string()
    }
}

/// Python's `repr(float)`: shortest round-trip digits, always with a `.0` or an
/// exponent, exponents written `e-05` / `e+16`.
pub fn py_float(value: f64) -> String {
    if value.is_nan() {
        return "nan".to_owned();
    }
    if value.is_infinite() {
        return if value > 0.0 { "inf" } else { "-inf" }.to_owned();
    }
    let magnitude = value.abs();
    if magnitude != 0.0 && !(1e-4..1e16).contains(&magnitude) {
        let text = format!("{value:e}");
        let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
        let (sign, digits) = match exponent.strip_prefix('-') {
            Some(rest) => ('-', rest),
            None => ('+', exponent),
        };
        return format!("{mantissa}e{sign}{digits:0>2}");
    }
    let text = format!("{value}");
    if text.contains('.') {
        text
    } else {
        format!("{text}.0")
    }
}

/// Python's `repr(str)`: single quotes unless the text has one and no double quote.
pub fn py_str_repr(text: &str) -> String {
    let quote = if text.contains('\'') && !text.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(text.len() + 2);
    out.push(quote);
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Json, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Json, E> {
        Ok(Json::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Json, E> {
        Ok(Json::Number(Number::from(v)))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Json, E> {
        Ok(Json::Number(Number::from(v)))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Json, E> {
        Ok(Json::float(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Json, E> {
        Ok(Json::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Json, E> {
        Ok(Json::String(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        // Python's json keeps the last value of a repeated key, at its first position.
        let mut object = Json::object();
        while let Some((key, value)) = map.next_entry::<String, Json>()? {
            object.insert(key, value);
        }
        Ok(object)
    }
}

impl From<&str> for Json {
    fn from(v: &str) -> Json {
        Json::String(v.to_owned())
    }
}

impl From<String> for Json {
    fn from(v: String) -> Json {
        Json::String(v)
    }
}

impl From<&String> for Json {
    fn from(v: &String) -> Json {
        Json::String(v.clone())
    }
}

impl From<bool> for Json {
    fn from(v: bool) -> Json {
        Json::Bool(v)
    }
}

impl From<f64> for Json {
    fn from(v: f64) -> Json {
        Json::float(v)
    }
}

macro_rules! from_int {
    ($($t:ty),*) => {$(
        impl From<$t> for Json {
            fn from(v: $t) -> Json {
                Json::Number(Number::from(v))
            }
        }
    )*};
}
from_int!(i32, i64, u32, u64, usize);

impl From<Number> for Json {
    fn from(v: Number) -> Json {
        Json::Number(v)
    }
}

impl From<Vec<Json>> for Json {
    fn from(v: Vec<Json>) -> Json {
        Json::Array(v)
    }
}

impl From<&Json> for Json {
    fn from(v: &Json) -> Json {
        v.clone()
    }
}

impl From<Vec<String>> for Json {
    fn from(v: Vec<String>) -> Json {
        Json::Array(v.into_iter().map(Json::String).collect())
    }
}

impl From<&[String]> for Json {
    fn from(v: &[String]) -> Json {
        Json::Array(v.iter().cloned().map(Json::String).collect())
    }
}

impl From<&[&str]> for Json {
    fn from(v: &[&str]) -> Json {
        Json::Array(v.iter().map(|s| Json::from(*s)).collect())
    }
}

impl<T: Into<Json>> From<Option<T>> for Json {
    fn from(v: Option<T>) -> Json {
        v.map_or(Json::Null, Into::into)
    }
}

impl From<&Json> for serde_json::Value {
    fn from(v: &Json) -> serde_json::Value {
        match v {
            Json::Null => serde_json::Value::Null,
            Json::Bool(b) => serde_json::Value::Bool(*b),
            Json::Number(n) => serde_json::Value::Number(n.clone()),
            Json::String(s) => serde_json::Value::String(s.clone()),
            Json::Array(items) => serde_json::Value::Array(items.iter().map(Into::into).collect()),
            Json::Object(entries) => serde_json::Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.clone(), serde_json::Value::from(v)))
                    .collect(),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_key_order_and_number_kinds() {
        let json = Json::parse(br#"{"b": 1, "a": -100.0, "c": [true, null, "x"]}"#).unwrap();
        assert_eq!(
            json.to_text(),
            r#"{"b": 1, "a": -100.0, "c": [true, null, "x"]}"#
        );
        assert_eq!(Json::from("é\n\"").to_text(), r#""\u00e9\n\"""#);
    }

    #[test]
    fn repeated_key_keeps_first_place_and_last_value() {
        let json = Json::parse(br#"{"a": 1, "b": 2, "a": 3}"#).unwrap();
        assert_eq!(json.to_text(), r#"{"a": 3, "b": 2}"#);
    }

    #[test]
    fn python_reprs() {
        let json = Json::parse(br#"{"a": ["x.safetensors", 1, 0.5, 1.0, false, null]}"#).unwrap();
        assert_eq!(
            json.py_repr(),
            "{'a': ['x.safetensors', 1, 0.5, 1.0, False, None]}"
        );
        assert_eq!(py_str_repr("it's"), "\"it's\"");
        assert_eq!(py_float(1e-5), "1e-05");
        assert_eq!(py_float(1e16), "1e+16");
        assert_eq!(py_float(-3.0), "-3.0");
        assert_eq!(py_float(0.3), "0.3");
    }
}

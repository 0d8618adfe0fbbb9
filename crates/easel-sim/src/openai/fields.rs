//! Typed reading of request fields, from a JSON body or from multipart text parts, with
//! OpenAI's error texts for a missing field or a wrong type.

use serde_json::{Map, Value};

use super::wire::{ApiError, BAD_JSON};

/// The fields of one request.
#[derive(Debug)]
pub struct Fields {
    map: Map<String, Value>,
    /// Multipart text parts: every value is a string, numbers are decimal text.
    from_form: bool,
}

impl Fields {
    /// The fields of a JSON body, which must be an object.
    pub fn json(bytes: &[u8]) -> Result<Fields, ApiError> {
        match serde_json::from_slice::<Value>(bytes) {
            Ok(Value::Object(map)) => Ok(Fields {
                map,
                from_form: false,
            }),
            _ => Err(ApiError::invalid(BAD_JSON, None, None)),
        }
    }

    /// The text parts of a multipart form; a repeated name keeps its last value.
    pub fn form<'a>(texts: impl IntoIterator<Item = (&'a str, &'a str)>) -> Fields {
        let map = texts
            .into_iter()
            .map(|(name, text)| (name.to_owned(), Value::String(text.to_owned())))
            .collect();
        Fields {
            map,
            from_form: true,
        }
    }

    /// Every field name, in name order.
    pub fn names(&self) -> Vec<&str> {
        self.map.keys().map(String::as_str).collect()
    }

    /// Whether `name` was sent with a non-null value.
    pub fn has(&self, name: &str) -> bool {
        self.map.get(name).is_some_and(|v| !v.is_null())
    }

    /// A string field; `None` when absent or null.
    pub fn string(&self, name: &str) -> Result<Option<&str>, ApiError> {
        match self.map.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) => Ok(Some(text)),
            Some(other) => Err(ApiError::invalid_type(name, "a string", kind(other))),
        }
    }

    /// An integer field; `None` when absent or null. Multipart text must be decimal.
    pub fn integer(&self, name: &str) -> Result<Option<i64>, ApiError> {
        match self.map.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(number)) => match number.as_i64() {
                Some(n) => Ok(Some(n)),
                None => Err(ApiError::invalid_type(name, "an integer", "a decimal")),
            },
            Some(Value::String(text)) if self.from_form => text
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| ApiError::invalid_type(name, "an integer", "a string")),
            Some(other) => Err(ApiError::invalid_type(name, "an integer", kind(other))),
        }
    }

    /// A required, non-empty string field.
    pub fn required_string(&self, name: &str) -> Result<&str, ApiError> {
        match self.string(name)? {
            Some(text) if !text.is_empty() => Ok(text),
            _ => Err(ApiError::missing(name)),
        }
    }

    /// A string field that must be one of `allowed` when present.
    pub fn choice(&self, name: &str, allowed: &[&str]) -> Result<Option<&str>, ApiError> {
        match self.string(name)? {
            Some(value) if !allowed.contains(&value) => {
                Err(ApiError::invalid_value(name, value, allowed))
            }
            value => Ok(value),
        }
    }
}

/// How OpenAI names a JSON value's type in its messages.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "an integer",
        Value::Number(_) => "a decimal",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrong_types_are_named() {
        let fields = Fields::json(br#"{"n": "2", "prompt": 3}"#).map_err(|e| e.message);
        let fields = fields.expect("object");
        let error = fields.integer("n").expect_err("string n");
        assert_eq!(
            error.message,
            "Invalid type for 'n': expected an integer, but got a string instead."
        );
        assert!(fields.required_string("prompt").is_err());
        assert!(Fields::json(b"[1]").is_err());
    }

    #[test]
    fn form_numbers_are_text() {
        let fields = Fields::form([("n", "2")]);
        assert_eq!(fields.integer("n").ok().flatten(), Some(2));
    }
}

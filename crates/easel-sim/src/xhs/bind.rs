//! Binding a publish request as gin's `ShouldBindJSON` does (contract 4, 10.4): Go's
//! JSON decoding into `PublishRequest` (first type error wins, keys matched without
//! regard to case, unknown keys ignored), then the validator's `required`/`min` tags,
//! all with their exact error texts.

use serde_json::{Value, json};

use super::gojson::{GoValue, decode};

/// The service's `PublishRequest`, as bound (absent fields are Go zero values).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PublishRequest {
    pub title: String,
    pub content: String,
    /// `None` when absent or null (Go's nil slice).
    pub images: Option<Vec<String>>,
    pub tags: Option<Vec<String>>,
    pub schedule_at: String,
    pub is_original: bool,
    pub visibility: String,
    pub products: Option<Vec<String>>,
}

/// Go types of the struct's fields.
#[derive(Clone, Copy)]
enum Kind {
    Str,
    Bool,
    Strings,
}

/// The fields in struct order: JSON name and type.
const FIELDS: &[(&str, Kind)] = &[
    ("title", Kind::Str),
    ("content", Kind::Str),
    ("images", Kind::Strings),
    ("tags", Kind::Strings),
    ("schedule_at", Kind::Str),
    ("is_original", Kind::Bool),
    ("visibility", Kind::Str),
    ("products", Kind::Strings),
];

/// Binds `body`; the error is the 400's `details`.
pub fn bind(body: &[u8]) -> Result<PublishRequest, String> {
    let value = decode(body)?;
    let mut request = PublishRequest::default();
    let members = match value {
        GoValue::Object(members) => members,
        GoValue::Null => Vec::new(),
        other => {
            return Err(format!(
                "json: cannot unmarshal {} into Go value of type main.PublishRequest",
                other.go_kind()
            ));
        }
    };
    let mut first_error: Option<String> = None;
    for (key, value) in &members {
        // Go prefers an exact match, then a case-insensitive one.
        let field = FIELDS.iter().find(|(name, _)| name == key).or_else(|| {
            FIELDS
                .iter()
                .find(|(name, _)| name.to_lowercase() == key.to_lowercase())
        });
        let Some(&(name, kind)) = field else {
            continue;
        };
        if let Err(error) = store(&mut request, name, kind, value)
            && first_error.is_none()
        {
            first_error = Some(error);
        }
    }
    if let Some(error) = first_error {
        return Err(error);
    }
    validate(&request)?;
    Ok(request)
}

fn type_error(value: &GoValue, field: &str, go_type: &str) -> String {
    format!(
        "json: cannot unmarshal {} into Go struct field PublishRequest.{field} of type {go_type}",
        value.go_kind()
    )
}

/// Stores one member like Go's decoder: null leaves the field alone (a slice becomes
/// nil), a wrong type is an error (elements of a slice are checked one by one).
fn store(
    request: &mut PublishRequest,
    name: &str,
    kind: Kind,
    value: &GoValue,
) -> Result<(), String> {
    match (kind, value) {
        (Kind::Strings, GoValue::Null) => {
            *slice(request, name) = None;
            Ok(())
        }
        (_, GoValue::Null) => Ok(()),
        (Kind::Str, GoValue::String(text)) => {
            *string(request, name) = text.clone();
            Ok(())
        }
        (Kind::Bool, GoValue::Bool(flag)) => {
            request.is_original = *flag;
            Ok(())
        }
        (Kind::Strings, GoValue::Array(items)) => {
            let mut strings = Vec::with_capacity(items.len());
            let mut error = None;
            for item in items {
                match item {
                    GoValue::String(text) => strings.push(text.clone()),
                    GoValue::Null => strings.push(String::new()),
                    other => {
                        error.get_or_insert_with(|| type_error(other, name, "string"));
                        strings.push(String::new());
                    }
                }
            }
            *slice(request, name) = Some(strings);
            error.map_or(Ok(()), Err)
        }
        (Kind::Str, other) => Err(type_error(other, name, "string")),
        (Kind::Bool, other) => Err(type_error(other, name, "bool")),
        (Kind::Strings, other) => Err(type_error(other, name, "[]string")),
    }
}

fn string<'a>(request: &'a mut PublishRequest, name: &str) -> &'a mut String {
    match name {
        "title" => &mut request.title,
        "content" => &mut request.content,
        "schedule_at" => &mut request.schedule_at,
        _ => &mut request.visibility,
    }
}

fn slice<'a>(request: &'a mut PublishRequest, name: &str) -> &'a mut Option<Vec<String>> {
    match name {
        "images" => &mut request.images,
        "tags" => &mut request.tags,
        _ => &mut request.products,
    }
}

/// The validator tags: `title`/`content` `required`, `images` `required,min=1`. Every
/// failure is reported, joined with newlines.
fn validate(request: &PublishRequest) -> Result<(), String> {
    let mut failures = Vec::new();
    let failure = |field: &str, tag: &str| {
        format!(
            "Key: 'PublishRequest.{field}' Error:Field validation for '{field}' failed on the '{tag}' tag"
        )
    };
    if request.title.is_empty() {
        failures.push(failure("Title", "required"));
    }
    if request.content.is_empty() {
        failures.push(failure("Content", "required"));
    }
    match &request.images {
        None => failures.push(failure("Images", "required")),
        Some(images) if images.is_empty() => failures.push(failure("Images", "min")),
        Some(_) => {}
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures.join("\n"))
    }
}

impl PublishRequest {
    /// The bound fields as JSON, every field present (Go's zero values for absent ones).
    pub fn to_json(&self) -> Value {
        json!({
            "title": self.title,
            "content": self.content,
            "images": self.images.clone().unwrap_or_default(),
            "tags": self.tags.clone().unwrap_or_default(),
            "schedule_at": self.schedule_at,
            "is_original": self.is_original,
            "visibility": self.visibility,
            "products": self.products.clone().unwrap_or_default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn required_fields_are_reported_together() {
        let error = bind(br#"{"images": []}"#).expect_err("invalid");
        assert_eq!(
            error,
            "Key: 'PublishRequest.Title' Error:Field validation for 'Title' failed on the 'required' tag\n\
             Key: 'PublishRequest.Content' Error:Field validation for 'Content' failed on the 'required' tag\n\
             Key: 'PublishRequest.Images' Error:Field validation for 'Images' failed on the 'min' tag"
        );
    }

    #[test]
    fn type_errors_name_the_field() {
        let error = bind(br#"{"title": "t", "images": "a.png"}"#).expect_err("invalid");
        assert_eq!(
            error,
            "json: cannot unmarshal string into Go struct field PublishRequest.images of type []string"
        );
        let error = bind(br#"{"images": [1]}"#).expect_err("invalid");
        assert_eq!(
            error,
            "json: cannot unmarshal number into Go struct field PublishRequest.images of type string"
        );
        let error = bind(b"[]").expect_err("invalid");
        assert_eq!(
            error,
            "json: cannot unmarshal array into Go value of type main.PublishRequest"
        );
    }

    #[test]
    fn keys_match_without_case_and_unknown_keys_are_ignored() {
        let request = bind(br#"{"Title": "t", "CONTENT": "c", "images": ["/a.png"], "x": 1}"#);
        let request = request.expect("valid");
        assert_eq!(request.title, "t");
        assert_eq!(request.content, "c");
    }
}

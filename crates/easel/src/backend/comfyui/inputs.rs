//! Image parameters of a workflow: the caller names files inside the output root; easel
//! checks them here and uploads them at submission (`/upload/image`).

use std::path::PathBuf;

use serde_json::{Map, Value};

use crate::outputs::{OutputRoot, inspect, validate_relative_dir};
use crate::request::InvalidInput;
use crate::workflows::{ParamKind, Workflow};

/// A checked input image.
pub struct InputImage {
    pub path: PathBuf,
    /// The name it is uploaded under (ComfyUI keeps identical bytes under one name).
    pub upload_name: String,
}

/// Splits `params` into the plain ones and the image ones, in the workflow's order of
/// image parameters.
pub fn split(
    workflow: &Workflow,
    params: &Map<String, Value>,
    root: &OutputRoot,
) -> Result<(Map<String, Value>, Vec<InputImage>), InvalidInput> {
    let mut plain = params.clone();
    let mut images = Vec::new();
    for spec in workflow
        .params
        .iter()
        .filter(|p| p.kind == ParamKind::Image)
    {
        let Some(value) = plain.remove(&spec.name) else {
            continue;
        };
        let field = "params";
        let Some(rel) = value.as_str() else {
            return Err(InvalidInput::new(
                field,
                format!("{} must be a path string, not {value}", spec.name),
                "Give the image as a path relative to the output root, e.g. \"photos/cat.png\".",
            ));
        };
        images.push(resolve(root, &spec.name, rel)?);
    }
    Ok((plain, images))
}

fn resolve(root: &OutputRoot, name: &str, rel: &str) -> Result<InputImage, InvalidInput> {
    let refuse = |reason: String| {
        InvalidInput::new(
            "params",
            format!("{name}: {reason}"),
            "Give a path relative to the output root of an image easel saved or you put there, e.g. \"photos/cat.png\".",
        )
    };
    validate_relative_dir(rel).map_err(|e| refuse(e.to_string()))?;
    let joined = root.path().join(rel);
    let path = joined
        .canonicalize()
        .map_err(|e| refuse(format!("{rel:?} cannot be opened ({e})")))?;
    if !root.contains(&path) || !path.is_file() {
        return Err(refuse(format!(
            "{rel:?} is not a file inside the output root"
        )));
    }
    let bytes =
        std::fs::read(&path).map_err(|e| refuse(format!("{rel:?} cannot be read ({e})")))?;
    let info =
        inspect(&bytes, None).map_err(|e| refuse(format!("{rel:?} is not an image ({e})")))?;
    let stem = path
        .file_stem()
        .map(|s| {
            s.to_string_lossy()
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                .collect::<String>()
        })
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "input".into());
    Ok(InputImage {
        path,
        upload_name: format!("{stem}.{}", info.kind.extension()),
    })
}

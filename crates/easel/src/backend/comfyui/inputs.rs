//! Image inputs of a workflow: image parameters named in `params` (paths inside the output
//! root), an edit's sources (filling the image parameters in order) and its mask (the image
//! parameter called `mask`). Checked at validation, uploaded at submission.

use std::path::PathBuf;

use serde_json::{Map, Value};

use crate::outputs::InputRoots;
use crate::request::{GenerateRequest, InvalidInput, Source};
use crate::workflows::{ParamKind, Workflow};

/// A checked input image: a file to read, or a public URL to download.
pub struct InputImage {
    pub path: Option<PathBuf>,
    pub url: Option<String>,
    /// The name it is uploaded under (ComfyUI keeps identical bytes under one name).
    pub upload_name: String,
}

/// A request's parameters, split for a workflow.
pub struct Split {
    pub params: Map<String, Value>,
    /// In the order of the workflow's image parameters.
    pub images: Vec<InputImage>,
    /// E.g. a mask with nowhere to go.
    pub warnings: Vec<String>,
}

/// Splits the request into plain parameters and the image inputs.
pub fn split(
    workflow: &Workflow,
    request: &GenerateRequest,
    roots: &InputRoots,
) -> Result<Split, InvalidInput> {
    let mut plain = request.params.clone();
    let mut images = Vec::new();
    let mut warnings = Vec::new();
    let mut sources = request.sources.iter();
    let image_params: Vec<_> = workflow
        .params
        .iter()
        .filter(|p| p.kind == ParamKind::Image)
        .collect();
    for spec in &image_params {
        if let Some(value) = plain.remove(&spec.name) {
            let Some(rel) = value.as_str() else {
                return Err(InvalidInput::new(
                    "params",
                    format!("{} must be a path string, not {value}", spec.name),
                    "Give the image as a path relative to the output root, e.g. \"photos/cat.png\".",
                ));
            };
            images.push(resolve(roots, &spec.name, rel)?);
        } else if spec.name == "mask" {
            if let Some(mask) = &request.mask {
                images.push(from_source(mask));
            }
        } else if let Some(source) = sources.next() {
            images.push(from_source(source));
        }
    }
    let left: Vec<&str> = sources.map(|s| s.label.as_str()).collect();
    if !left.is_empty() {
        return Err(InvalidInput::new(
            "images",
            format!(
                "workflow {} takes {} image(s); {} more were given ({})",
                workflow.name,
                image_params.len(),
                left.len(),
                left.join(", ")
            ),
            "Give fewer images, or pick a workflow with more image inputs (see list_workflows).",
        ));
    }
    if request.mask.is_some() && !image_params.iter().any(|p| p.name == "mask") {
        warnings.push(format!(
            "workflow {} has no mask input; the mask was not used",
            workflow.name
        ));
    }
    Ok(Split {
        params: plain,
        images,
        warnings,
    })
}

fn upload_name(stem_source: &str, ext: &str) -> String {
    let stem: String = stem_source
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or("input")
        .split('.')
        .next()
        .unwrap_or("input")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    format!("{}.{ext}", if stem.is_empty() { "input" } else { &stem })
}

fn from_source(source: &Source) -> InputImage {
    let ext = source
        .path
        .as_ref()
        .and_then(|p| p.extension())
        .map(|e| e.to_string_lossy().into_owned())
        .unwrap_or_else(|| "png".into());
    InputImage {
        path: source.path.clone(),
        url: source.url.clone(),
        upload_name: upload_name(&source.label, &ext),
    }
}

/// An image parameter's value: a file placed and checked by the one rule for files a caller
/// names (output root or input folders; see [`InputRoots`]). Blocking.
fn resolve(roots: &InputRoots, name: &str, text: &str) -> Result<InputImage, InvalidInput> {
    let (path, _, info) = roots.read_image(text).map_err(|why| {
        InvalidInput::new(
            "params",
            format!("{name}: {:?} {why}", text.trim()),
            "Give an image by a path relative to the output root (e.g. \"photos/cat.png\") or an absolute path inside a configured input_dirs folder.",
        )
    })?;
    Ok(InputImage {
        upload_name: upload_name(text, info.kind.extension()),
        path: Some(path),
        url: None,
    })
}

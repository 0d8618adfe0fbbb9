//! The one error type of the outputs module.
//!
//! These messages reach an AI agent as tool results, so each one names the request field at
//! fault, says why, and says what to do instead. I/O errors are part of the message text (not
//! only an error `source`) because the agent only ever sees the text.

use std::fmt;
use std::io;
use std::path::PathBuf;

use super::kind::ImageKind;
use super::save::OutputFormat;

/// Why an image could not be inspected, placed or saved.
#[derive(Debug)]
pub enum OutputError {
    /// `output_dir` is not a plain folder path relative to the output root.
    InvalidDir { value: String, reason: String },

    /// `output_dir` exists but leads outside the output root through a symbolic link.
    DirEscapesRoot {
        value: String,
        resolved: PathBuf,
        root: PathBuf,
    },

    /// A component of `output_dir` exists and is a file.
    NotADirectory { value: String, path: PathBuf },

    /// Creating or resolving a folder of `output_dir` failed.
    DirIo {
        value: String,
        action: &'static str,
        path: PathBuf,
        cause: io::Error,
    },

    /// Writing the image file into the chosen folder failed.
    WriteIo {
        action: &'static str,
        path: PathBuf,
        cause: io::Error,
    },

    /// `filename` is not a plain, portable file name.
    InvalidFilename { value: String, reason: String },

    /// Every numbered variant of `filename` is already taken.
    NamesExhausted {
        stem: String,
        extension: &'static str,
        dir: PathBuf,
        tries: u32,
    },

    /// The download had no bytes at all.
    EmptyImage,

    /// The download is something other than an image (an error page, JSON, …).
    NotAnImage { looks_like: String },

    /// The download is an image of a type easel does not keep (BMP, TIFF, AVIF, SVG, …).
    UnsupportedImage { looks_like: String },

    /// The server labelled the download with a type that is not an image type.
    NotImageContentType {
        content_type: String,
        looks_like: String,
    },

    /// The server said one image type and sent another.
    TypeMismatch { declared: String, actual: ImageKind },

    /// The bytes start like an image but its header cannot be read.
    Corrupt { kind: ImageKind, detail: String },

    /// The image could not be converted to the requested `format`.
    Convert {
        format: OutputFormat,
        kind: ImageKind,
        detail: String,
    },

    /// The file's name could not be recorded before publishing it (the job store failed,
    /// or the job was cancelled meanwhile), so it was not published.
    Unrecorded { path: PathBuf, reason: String },

    /// The output root itself (a configuration setting, not a request field) is unusable.
    Root {
        action: &'static str,
        path: PathBuf,
        cause: io::Error,
    },
}

impl fmt::Display for OutputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message_as("output_dir", "filename"))
    }
}

impl std::error::Error for OutputError {}

impl OutputError {
    /// The message, with the folder and file name fields spelled as the caller wrote them
    /// (`output_dir` and `filename` to generate_image, `copy_to` to get_job, `--out` on the
    /// command line).
    pub fn message_as(&self, dir: &str, name: &str) -> String {
        match self {
            Self::InvalidDir { value, reason } => format!(
                "{dir} {value:?} {reason}; give a folder relative to the output root, such as \"cats/2026\""
            ),
            Self::DirEscapesRoot {
                value,
                resolved,
                root,
            } => format!(
                "{dir} {value:?} leads to {} through a symbolic link, which is outside the output root {}; give a folder that stays inside the output root, such as \"cats/2026\"",
                resolved.display(),
                root.display()
            ),
            Self::NotADirectory { value, path } => format!(
                "{dir} {value:?}: {} exists and is a file, not a folder; give another folder, such as \"cats/2026\"",
                path.display()
            ),
            Self::DirIo {
                value,
                action,
                path,
                cause,
            } => format!(
                "{dir} {value:?}: could not {action} {}: {cause}; check the permissions and free space of the output root, or give another {dir}",
                path.display()
            ),
            Self::WriteIo {
                action,
                path,
                cause,
            } => format!(
                "saving into {dir} failed: could not {action} {}: {cause}; check the permissions and free space of the output root, or give another {dir}",
                path.display()
            ),
            Self::InvalidFilename { value, reason } => format!(
                "{name} {value:?} {reason}; give a plain name without folders, such as \"golden-cat\" (the extension is added to match the image type)"
            ),
            Self::NamesExhausted {
                stem,
                extension,
                dir: folder,
                tries,
            } => format!(
                "{name} {stem:?}: {stem}.{extension} and the numbered names up to {stem}-{tries}.{extension} all exist in {}; choose another {name} or {dir}",
                folder.display()
            ),
            Self::EmptyImage => "downloaded image is empty (0 bytes); the server sent no image data, so retry the generation or check the backend".to_string(),
            Self::NotAnImage { looks_like } => format!(
                "downloaded image is {looks_like}, not an image; the server probably returned an error instead of the picture, so check the backend's URL and credentials, then retry"
            ),
            Self::UnsupportedImage { looks_like } => format!(
                "downloaded image is {looks_like}, a type easel does not save (it keeps PNG, JPEG, WebP and GIF images, animated or not, and MP4 and WebM videos); configure the backend to return one of those"
            ),
            Self::NotImageContentType {
                content_type,
                looks_like,
            } => format!(
                "downloaded image was served as {content_type:?}, which is not an image type (the content is {looks_like}); the server probably returned an error instead of the picture, so check the backend and retry"
            ),
            Self::TypeMismatch { declared, actual } => format!(
                "downloaded image was declared as {declared:?} but its content is {actual}; the server mislabels its images or sent the wrong file, so check the backend before retrying"
            ),
            Self::Corrupt { kind, detail } => format!(
                "downloaded image starts like {kind} but its header cannot be read ({detail}); the download was probably cut short, so retry it"
            ),
            Self::Convert {
                format,
                kind,
                detail,
            } => format!(
                "format \"{format}\" cannot be produced from this {kind} image: {detail}; use format \"original\" to keep the image as downloaded"
            ),
            Self::Unrecorded { path, reason } => format!(
                "the image was not saved as {}: easel could not record that name first ({reason}); nothing was left under that name, and the job can fetch the image again",
                path.display()
            ),
            Self::Root {
                action,
                path,
                cause,
            } => format!(
                "output root {}: could not {action}: {cause}; set the output root to a folder easel can create and write",
                path.display()
            ),
        }
    }

    /// The request field this error is about: `output_dir`, `filename`, `format` or
    /// `downloaded image`. `None` for a problem with the configured output root.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            Self::InvalidDir { .. }
            | Self::DirEscapesRoot { .. }
            | Self::NotADirectory { .. }
            | Self::DirIo { .. }
            | Self::WriteIo { .. } => Some("output_dir"),
            Self::InvalidFilename { .. } | Self::NamesExhausted { .. } => Some("filename"),
            Self::EmptyImage
            | Self::NotAnImage { .. }
            | Self::UnsupportedImage { .. }
            | Self::NotImageContentType { .. }
            | Self::TypeMismatch { .. }
            | Self::Corrupt { .. } => Some("downloaded image"),
            Self::Convert { .. } => Some("format"),
            Self::Root { .. } | Self::Unrecorded { .. } => None,
        }
    }
}

//! Outputs: turning downloaded image bytes into files under the output root, and inline previews.
//!
//! "Files are the product" (ARCHITECTURE.md, decision 3): an image exists for the caller only once it
//! is on disk, complete, under a name nobody else had. Every path a caller gives is relative to
//! the output root and is refused if it could leave it; the bytes are kept exactly as
//! downloaded unless the caller asked for another format; a file is never overwritten and never
//! visible half-written. Inline previews are bounded so results stay under client size caps.

mod buffers;
mod convert;
mod digest;
mod error;
mod fspath;
mod kind;
mod media;
mod named;
mod names;
mod preview;
mod root;
mod save;
mod shrink;
mod temp;
mod thumbs;
mod write;

pub use digest::sha256_hex;
pub use error::OutputError;
pub use kind::{ImageInfo, ImageKind, inspect, inspect_named};
pub use media::{
    MediaClass, MediaInfo, SavedMedia, VideoKind, inspect_media, is_animated, plan_media_previews,
};
pub use named::{InputRoots, MAX_NAMED_BYTES, read_source_image};
pub use names::{default_stem, strip_image_extension, validate_relative_dir, validate_stem};
pub use preview::{
    FULL_BUDGET_B64, Preview, PreviewMode, PreviewPlan, THUMBNAIL_BUDGET_B64, THUMBNAIL_MAX_SIDE,
    plan_previews,
};
pub use root::OutputRoot;
pub use save::{OutputFormat, SaveRequest, SavedFile};
pub use shrink::{box_reduce, box_reduce_rgb, reduction_factor};
pub use thumbs::{ThumbError, Thumbnails, thumbnail_jpeg};

#[cfg(test)]
pub(crate) mod test_images;

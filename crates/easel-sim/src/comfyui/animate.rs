//! Nodes that save a batch of images as one animation or video, with the names and the
//! `/history` outputs the real ones give:
//!
//! - `SaveAnimatedWEBP`, `SaveAnimatedPNG` (comfy_extras/nodes_images.py) and `SaveWEBM`
//!   (nodes_video.py): `{prefix}_{counter:05}_.webp|png|webm`, reported under `images`
//!   with `animated: [true]`.
//! - `SaveVideo` (nodes_video.py, `ui.PreviewVideo`): the same, `.mp4`, prefix default
//!   `video/ComfyUI`.
//! - `VHS_VideoCombine` (ComfyUI-VideoHelperSuite, a custom node):
//!   `{prefix}_{counter:05}.{ext}` reported under `gifs`, each entry with its `format`
//!   (`video/h264-mp4`, `video/webm`, `image/webp`), `frame_rate` and `workflow`.

use bytes::Bytes;

use super::exec::{Ctx, Failure};
use super::files::Folder;
use super::json::{Json, obj};
use super::nodes::{Args, Produced};
use super::traceback::{self, frame};
use crate::clip;

/// The container a node writes.
#[derive(Clone, Copy)]
enum Container {
    Webp,
    Apng,
    Webm,
    Mp4,
}

impl Container {
    fn extension(self) -> &'static str {
        match self {
            Container::Webp => "webp",
            Container::Apng => "png",
            Container::Webm => "webm",
            Container::Mp4 => "mp4",
        }
    }

    fn encode(self, width: u32, height: u32, keys: &[String], fps: f64) -> Vec<u8> {
        match self {
            Container::Webp => clip::animated_webp(width, height, keys, fps),
            Container::Apng => clip::apng(width, height, keys, fps),
            Container::Webm => clip::webm(width, height, keys, fps),
            Container::Mp4 => clip::mp4(width, height, keys, fps),
        }
    }
}

/// Runs one of the saving nodes of the module docs.
pub async fn save(ctx: &Ctx<'_>, class: &str, args: &Args) -> Result<Produced, Failure> {
    let (input, container, fps, default_prefix) = match class {
        "SaveAnimatedWEBP" => ("images", Container::Webp, args.float("fps", 6.0), "ComfyUI"),
        "SaveAnimatedPNG" => ("images", Container::Apng, args.float("fps", 6.0), "ComfyUI"),
        "SaveWEBM" => (
            "images",
            Container::Webm,
            args.float("fps", 24.0),
            "ComfyUI",
        ),
        "SaveVideo" => (
            "video",
            Container::Mp4,
            args.video_fps("video").unwrap_or(30.0),
            "video/ComfyUI",
        ),
        _ => {
            let container = match args.text("format", "video/h264-mp4").as_str() {
                "video/webm" => Container::Webm,
                "image/webp" => Container::Webp,
                _ => Container::Mp4,
            };
            (
                "images",
                container,
                args.float("frame_rate", 8.0),
                "AnimateDiff",
            )
        }
    };
    let frames = args.pixels(input)?;
    let vhs = class == "VHS_VideoCombine";
    let folder = if vhs && !args.literal("save_output").is_none_or(Json::truthy) {
        Folder::Temp
    } else {
        Folder::Output
    };
    let prefix = args.text("filename_prefix", default_prefix);
    let path = ctx
        .shared
        .files(|f| f.save_path(folder, &prefix, frames.width, frames.height))
        .map_err(|message| {
            Failure::raised(
                "Exception",
                format!("{message}\n"),
                traceback::execution(vec![frame(
                    "folder_paths.py",
                    474,
                    "get_save_image_path",
                    "raise Exception(err)",
                )]),
            )
        })?;
    let (width, height) = (frames.width, frames.height);
    let keys: Vec<String> = (0..frames.batch.max(1))
        .map(|i| format!("{}#{i}", frames.key))
        .collect();
    let bytes = tokio::task::spawn_blocking(move || container.encode(width, height, &keys, fps))
        .await
        .map_err(|e| Failure::raised("RuntimeError", e.to_string(), Vec::new()))?;
    let name = if vhs {
        format!(
            "{}_{:05}.{}",
            path.filename,
            path.counter,
            container.extension()
        )
    } else {
        format!(
            "{}_{:05}_.{}",
            path.filename,
            path.counter,
            container.extension()
        )
    };
    ctx.shared
        .files_mut(|f| f.put(folder, &path.rel(&name), Bytes::from(bytes)));
    let entry = obj! {"filename" => name.as_str(), "subfolder" => path.subfolder.as_str(), "type" => folder.name()};
    let ui = if vhs {
        let mut entry = entry;
        let format = match container {
            Container::Webm => "video/webm",
            Container::Webp => "image/webp",
            _ => "video/h264-mp4",
        };
        entry.insert("format", format);
        entry.insert("frame_rate", Json::float(fps));
        entry.insert(
            "workflow",
            name.replace(&format!(".{}", container.extension()), ".png"),
        );
        obj! {"gifs" => vec![entry]}
    } else {
        obj! {"images" => vec![entry], "animated" => vec![Json::Bool(true)]}
    };
    Ok(Produced {
        outputs: Vec::new(),
        ui: Some(ui),
    })
}

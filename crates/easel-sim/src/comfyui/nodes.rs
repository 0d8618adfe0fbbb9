//! What each node class does when it runs.
//!
//! No model is loaded and no pixel is computed from another: the simulator follows the
//! data flow only as far as clients can observe it. Latents and images carry their size
//! and batch, so a `VAEDecode` of a 1024x768 latent gives 1024x768 images and a
//! `LoadImage` gives the uploaded file's real size; and each value carries a key derived
//! from everything upstream (seeds, texts, loaded file), so the saved PNG — drawn by
//! [`picture::png`](crate::picture::png) from that key — changes exactly when a real
//! result would. Samplers emit progress (with optional previews) and SaveImage writes
//! real files with ComfyUI's names.

use bytes::Bytes;

use super::exec::{Ctx, Failure};
use super::files::{self, Folder};
use super::json::{Json, obj};
use super::state::after;
use super::traceback::{self, ROOT, frame};
use super::ws::Encoding;
use crate::picture;

/// Pixel data flowing between nodes: its size, batch and content key.
#[derive(Clone, Debug)]
pub struct Pixels {
    /// Width in pixels (latents: of the image they decode to).
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Images in the batch.
    pub batch: u32,
    /// What the content depends on.
    pub key: String,
}

/// A value on a link.
#[derive(Clone, Debug)]
pub enum Value {
    /// `IMAGE`.
    Image(Pixels),
    /// `LATENT`.
    Latent(Pixels),
    /// `MASK`.
    Mask(Pixels),
    /// `VIDEO` (`CreateVideo`): its frames and rate.
    Video(Pixels, f64),
    /// `MODEL`, `CLIP`, `VAE`, `CONDITIONING`: nothing about them is observable, so
    /// only the type is kept.
    Other(&'static str),
}

impl Value {
    /// `str(value)` as ComfyUI formats it in `execution_error.current_inputs`.
    pub fn py_str(&self) -> String {
        const TENSOR: &str = "tensor([[[[0.5020, 0.5020, 0.5020],\n          [0.5020, 0.5020, 0.5020],\n          ...,\n          [0.5020, 0.5020, 0.5020]]]])";
        match self {
            Value::Image(_) | Value::Mask(_) => TENSOR.to_owned(),
            Value::Latent(_) => format!("{{'samples': {TENSOR}}}"),
            Value::Video(..) => "<comfy_api.latest._input_impl.video_types.VideoFromComponents object at 0x7f3c5a1e3f10>".to_owned(),
            Value::Other("MODEL") => {
                "<comfy.model_patcher.ModelPatcher object at 0x7f3c5a1e2b90>".to_owned()
            }
            Value::Other("CLIP") => "<comfy.sd.CLIP object at 0x7f3c5a1e2d10>".to_owned(),
            Value::Other("VAE") => "<comfy.sd.VAE object at 0x7f3c5a1e2e50>".to_owned(),
            Value::Other(_) => format!("[[{TENSOR}, {{'pooled_output': {TENSOR}}}]]"),
        }
    }
}

/// An input as the node function receives it.
#[derive(Clone, Debug)]
pub enum Arg {
    /// A literal from the graph.
    Literal(Json),
    /// The value a link carries.
    Linked(Value),
}

/// A node's inputs, in graph order.
#[derive(Debug, Default)]
pub struct Args(pub Vec<(String, Arg)>);

impl Args {
    pub(super) fn get(&self, name: &str) -> Option<&Arg> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, a)| a)
    }

    pub(super) fn literal(&self, name: &str) -> Option<&Json> {
        match self.get(name)? {
            Arg::Literal(value) => Some(value),
            Arg::Linked(_) => None,
        }
    }

    pub(super) fn int(&self, name: &str, default: i64) -> i64 {
        self.literal(name)
            .and_then(Json::as_int)
            .map_or(default, |v| {
                v.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
            })
    }

    pub(super) fn size(&self, name: &str, default: u32) -> u32 {
        self.int(name, i64::from(default))
            .clamp(0, i64::from(u32::MAX)) as u32
    }

    pub(super) fn float(&self, name: &str, default: f64) -> f64 {
        self.literal(name).and_then(Json::as_f64).unwrap_or(default)
    }

    /// The frame rate of a `VIDEO` input.
    pub(super) fn video_fps(&self, name: &str) -> Option<f64> {
        match self.get(name)? {
            Arg::Linked(Value::Video(_, fps)) => Some(*fps),
            _ => None,
        }
    }

    pub(super) fn text(&self, name: &str, default: &str) -> String {
        self.literal(name)
            .map_or_else(|| default.to_owned(), Json::py_str)
    }

    pub(super) fn pixels(&self, name: &str) -> Result<Pixels, Failure> {
        match self.get(name) {
            Some(Arg::Linked(
                Value::Image(p) | Value::Latent(p) | Value::Mask(p) | Value::Video(p, _),
            )) => Ok(p.clone()),
            _ => Err(Failure::raised(
                "Exception",
                format!("Required input '{name}' has no image data"),
                Vec::new(),
            )),
        }
    }
}

/// What a node returned: its outputs and its UI data (for `executed` and history).
#[derive(Debug)]
pub struct Produced {
    /// One value per output slot.
    pub outputs: Vec<Value>,
    /// `{"images": [...]}` for saving nodes.
    pub ui: Option<Json>,
}

impl Produced {
    pub(super) fn values(outputs: Vec<Value>) -> Result<Produced, Failure> {
        Ok(Produced { outputs, ui: None })
    }
}

/// Latent sizes are whole multiples of 8 pixels (one latent cell).
fn latent_side(pixels: u32) -> u32 {
    (pixels / 8).max(1) * 8
}

/// Runs `class` with `args`. `ctx.key(slot)` names each output.
pub async fn run(ctx: &Ctx<'_>, class: &str, args: &Args) -> Result<Produced, Failure> {
    let same = |p: Pixels, slot: usize| Pixels {
        key: ctx.key(slot),
        ..p
    };
    match class {
        "EmptyImage" => Produced::values(vec![Value::Image(Pixels {
            width: args.size("width", 512),
            height: args.size("height", 512),
            batch: args.size("batch_size", 1),
            key: ctx.key(0),
        })]),
        "ImageAddNoise" | "ImageInvert" => {
            Produced::values(vec![Value::Image(same(args.pixels("image")?, 0))])
        }
        "ImageScale" => {
            let source = args.pixels("image")?;
            let (w, h) = (args.size("width", 512), args.size("height", 512));
            let (width, height) = match (w, h) {
                (0, 0) => (source.width, source.height),
                (0, h) => (scaled(source.width, h, source.height), h),
                (w, 0) => (w, scaled(source.height, w, source.width)),
                (w, h) => (w, h),
            };
            Produced::values(vec![Value::Image(Pixels {
                width,
                height,
                ..same(source, 0)
            })])
        }
        "LoadImage" => load_image(ctx, args),
        "SaveImage" => save_images(ctx, args, Folder::Output).await,
        "PreviewImage" => save_images(ctx, args, Folder::Temp).await,
        "SaveAnimatedWEBP" | "SaveAnimatedPNG" | "SaveWEBM" | "SaveVideo" | "VHS_VideoCombine" => {
            super::animate::save(ctx, class, args).await
        }
        "CreateVideo" => {
            let fps = args.float("fps", 30.0);
            Produced::values(vec![Value::Video(same(args.pixels("images")?, 0), fps)])
        }
        "SaveImageWebsocket" => stream_images(ctx, args).await,
        "CheckpointLoaderSimple" => Produced::values(vec![
            Value::Other("MODEL"),
            Value::Other("CLIP"),
            Value::Other("VAE"),
        ]),
        "UNETLoader" | "ModelSamplingAuraFlow" => Produced::values(vec![Value::Other("MODEL")]),
        "CLIPLoader" | "DualCLIPLoader" => Produced::values(vec![Value::Other("CLIP")]),
        "VAELoader" => Produced::values(vec![Value::Other("VAE")]),
        "LoraLoader" => Produced::values(vec![Value::Other("MODEL"), Value::Other("CLIP")]),
        "CLIPTextEncode" | "FluxGuidance" | "ConditioningCombine" => {
            Produced::values(vec![Value::Other("CONDITIONING")])
        }
        "KSampler" | "KSamplerAdvanced" => sample(ctx, class, args).await,
        "EmptyLatentImage" | "EmptySD3LatentImage" => {
            Produced::values(vec![Value::Latent(Pixels {
                width: latent_side(args.size("width", 512)),
                height: latent_side(args.size("height", 512)),
                batch: args.size("batch_size", 1),
                key: ctx.key(0),
            })])
        }
        "VAEDecode" => Produced::values(vec![Value::Image(same(args.pixels("samples")?, 0))]),
        "VAEEncode" => {
            let image = args.pixels("pixels")?;
            Produced::values(vec![Value::Latent(Pixels {
                width: latent_side(image.width),
                height: latent_side(image.height),
                ..same(image, 0)
            })])
        }
        other => Err(Failure::raised(
            "KeyError",
            format!("'{other}'"),
            Vec::new(),
        )),
    }
}

/// `round(side * num / den)`, at least 1, for ImageScale's kept aspect ratio.
fn scaled(side: u32, num: u32, den: u32) -> u32 {
    let value = (f64::from(side) * f64::from(num) / f64::from(den.max(1))).round();
    (value as u32).max(1)
}

fn load_image(ctx: &Ctx<'_>, args: &Args) -> Result<Produced, Failure> {
    let name = args.text("image", "");
    let path = format!("{ROOT}/input/{name}");
    let bytes = ctx
        .shared
        .files(|f| f.annotated(&name).map(|s| s.bytes.clone()))
        .ok_or_else(|| {
            Failure::raised(
                "FileNotFoundError",
                format!("[Errno 2] No such file or directory: '{path}'"),
                load_trace("i = Image.open(image_path)"),
            )
        })?;
    let (width, height) = files::dimensions(&bytes).ok_or_else(|| {
        Failure::raised(
            "PIL.UnidentifiedImageError",
            format!("cannot identify image file '{path}'"),
            load_trace("img = node_helpers.pillow(Image.open, image_path)"),
        )
    })?;
    let image = Pixels {
        width,
        height,
        batch: 1,
        key: ctx.key(0),
    };
    let mask = Pixels {
        key: ctx.key(1),
        ..image.clone()
    };
    Produced::values(vec![Value::Image(image), Value::Mask(mask)])
}

fn load_trace(source: &str) -> Vec<String> {
    traceback::execution(vec![frame("nodes.py", 1698, "load_image", source)])
}

/// SaveImage / PreviewImage: writes `batch` PNGs named `{prefix}_{counter:05}_.png`.
async fn save_images(ctx: &Ctx<'_>, args: &Args, folder: Folder) -> Result<Produced, Failure> {
    let images = args.pixels("images")?;
    let prefix = match folder {
        Folder::Temp => format!("ComfyUI_temp_{}", temp_suffix()),
        _ => args.text("filename_prefix", "ComfyUI"),
    };
    let path = ctx
        .shared
        .files(|f| f.save_path(folder, &prefix, images.width, images.height))
        .map_err(|message| {
            Failure::raised(
                "Exception",
                format!("{message}\n"),
                traceback::execution(vec![
                    frame(
                        "nodes.py",
                        1678,
                        "save_images",
                        "full_output_folder, filename, counter, subfolder, filename_prefix = folder_paths.get_save_image_path(filename_prefix, self.output_dir, images[0].shape[1], images[0].shape[0])",
                    ),
                    frame("folder_paths.py", 474, "get_save_image_path", "raise Exception(err)"),
                ]),
            )
        })?;
    let (width, height, key) = (images.width, images.height, images.key.clone());
    let batch = images.batch;
    let rendered = tokio::task::spawn_blocking(move || {
        (0..batch)
            .map(|i| Bytes::from(picture::png(width, height, &format!("{key}#{i}"))))
            .collect::<Vec<_>>()
    })
    .await
    .map_err(|e| Failure::raised("RuntimeError", e.to_string(), Vec::new()))?;
    let mut results = Vec::new();
    for (i, bytes) in rendered.into_iter().enumerate() {
        let stem = path.filename.replace("%batch_num%", &i.to_string());
        let name = format!("{stem}_{:05}_.png", path.counter + i as u64);
        ctx.shared
            .files_mut(|f| f.put(folder, &path.rel(&name), bytes));
        results.push(obj! {"filename" => name, "subfolder" => path.subfolder.as_str(), "type" => folder.name()});
    }
    let outputs = match folder {
        Folder::Output => vec![Value::Image(images)],
        _ => Vec::new(),
    };
    Ok(Produced {
        outputs,
        ui: Some(obj! {"images" => results}),
    })
}

/// PreviewImage's random file prefix (upstream draws from this very alphabet).
fn temp_suffix() -> String {
    const LETTERS: &[u8] = b"abcdefghijklmnopqrstupvxyz";
    (0..5)
        .map(|_| char::from(LETTERS[rand::random_range(0..LETTERS.len())]))
        .collect()
}

/// SaveImageWebsocket: one PNG frame per image, progress `0..batch-1`.
async fn stream_images(ctx: &Ctx<'_>, args: &Args) -> Result<Produced, Failure> {
    let images = args.pixels("images")?;
    for i in 0..images.batch {
        let (w, h, key) = (images.width, images.height, format!("{}#{i}", images.key));
        let png = render(move || picture::png(w, h, &key)).await?;
        ctx.progress(
            u64::from(i),
            u64::from(images.batch),
            Some((png, Encoding::Png)),
        )
        .await?;
    }
    Ok(Produced {
        outputs: Vec::new(),
        ui: None,
    })
}

/// KSampler / KSamplerAdvanced: `steps` progress events `1..=steps`, each after
/// `step_latency` (on a fixed schedule from the first step, so `steps × step_latency` is the
/// sampling time), each followed by a JPEG preview when previews are on.
async fn sample(ctx: &Ctx<'_>, class: &str, args: &Args) -> Result<Produced, Failure> {
    let latent = args.pixels("latent_image")?;
    let steps = args.int("steps", 20).max(0);
    let count = if class == "KSamplerAdvanced" {
        let start = args.int("start_at_step", 0);
        let end = args.int("end_at_step", 10_000).min(steps);
        (end - start).max(0)
    } else {
        steps
    } as u64;
    let (latency, previews) = ctx.shared.config(|c| (c.step_latency, c.previews));
    let out_key = ctx.key(0);
    let started = tokio::time::Instant::now();
    for step in 1..=count {
        let due = u32::try_from(step).map_or(latency, |n| latency.saturating_mul(n));
        ctx.shared.pause_until(after(started, due)).await;
        let preview = if previews {
            let (w, h) = ((latent.width / 8).max(1), (latent.height / 8).max(1));
            let key = format!("{out_key}@{step}");
            Some((
                render(move || picture::jpeg(w, h, &key)).await?,
                Encoding::Jpeg,
            ))
        } else {
            None
        };
        ctx.progress(step, count, preview).await?;
    }
    Produced::values(vec![Value::Latent(Pixels {
        key: out_key,
        ..latent
    })])
}

/// Encodes a picture off the async threads.
async fn render(draw: impl FnOnce() -> Vec<u8> + Send + 'static) -> Result<Bytes, Failure> {
    tokio::task::spawn_blocking(draw)
        .await
        .map(Bytes::from)
        .map_err(|e| Failure::raised("RuntimeError", e.to_string(), Vec::new()))
}

/// The Python function a class runs, for tracebacks of injected failures.
pub fn function_of(class: &str) -> &'static str {
    match class {
        "KSampler" | "KSamplerAdvanced" => "sample",
        "SaveImage" | "PreviewImage" | "SaveImageWebsocket" | "SaveAnimatedWEBP"
        | "SaveAnimatedPNG" => "save_images",
        "SaveWEBM" | "SaveVideo" => "save_video",
        "VHS_VideoCombine" => "combine_video",
        "VAEDecode" => "decode",
        "VAEEncode" => "encode",
        "CLIPTextEncode" => "encode",
        "LoadImage" => "load_image",
        "CheckpointLoaderSimple" => "load_checkpoint",
        "UNETLoader" => "load_unet",
        "CLIPLoader" | "DualCLIPLoader" => "load_clip",
        "VAELoader" => "load_vae",
        "LoraLoader" => "load_lora",
        _ => "execute",
    }
}

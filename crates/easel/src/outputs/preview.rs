//! Inline previews: the image content put in a tool result next to the file paths.
//!
//! MCP clients reject results over about 1 MiB and every inline byte costs the model context,
//! so previews are bounded: small JPEG thumbnails by default, the original images only when
//! asked for and only while they fit. The files on disk are the product; a missing preview is
//! explained in a note, never an error.

use std::num::NonZeroUsize;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};

use base64::prelude::{BASE64_STANDARD, Engine as _};
use image::{DynamicImage, RgbImage};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::buffers;
use super::convert::{decode_flat_rgb_into, encode_jpeg};
use super::kind::{ImageInfo, ImageKind, inspect};
use super::shrink::{box_reduce_rgb, reduction_factor};

/// Longest side of a thumbnail, in pixels.
pub const THUMBNAIL_MAX_SIDE: u32 = 512;
/// Base64 characters all thumbnails of one result may take together.
pub const THUMBNAIL_BUDGET_B64: usize = 256 * 1024;
/// Base64 characters full images of one result may take together: under the ~1 MiB result cap
/// of clients, with room for the rest of the result.
pub const FULL_BUDGET_B64: usize = 900 * 1024;

/// JPEG qualities tried, in order, before a thumbnail is made smaller instead.
const THUMBNAIL_QUALITIES: [u8; 3] = [80, 65, 50];
/// Below this longest side a thumbnail shows too little to be worth its bytes.
const THUMBNAIL_MIN_SIDE: u32 = 32;

/// How images appear inline in a result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PreviewMode {
    /// No inline images; only the file paths.
    None,
    /// Small JPEG previews, at most 512 pixels on the longest side.
    #[default]
    Thumbnail,
    /// The original images, if together they fit in the result (about 900 KiB); thumbnails
    /// otherwise.
    Full,
}

/// One inline image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preview {
    pub mime: &'static str,
    pub base64: String,
    pub width: u32,
    pub height: u32,
}

/// The previews for one result, and a note for the reader about anything left out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PreviewPlan {
    pub previews: Vec<Preview>,
    pub note: Option<String>,
}

/// Previews for `images` (downloaded bytes, in result order) in `mode`.
///
/// Never fails: an image that cannot be previewed is left out and the note says which and why.
pub fn plan_previews(images: &[&[u8]], mode: PreviewMode) -> PreviewPlan {
    match mode {
        PreviewMode::None => PreviewPlan::default(),
        PreviewMode::Thumbnail => thumbnails(images),
        PreviewMode::Full => full_images(images),
    }
}

fn full_images(images: &[&[u8]]) -> PreviewPlan {
    let mut notes = Vec::new();
    let mut fitting: Vec<(&[u8], ImageInfo)> = Vec::new();
    let mut total = 0;
    for (index, bytes) in images.iter().enumerate() {
        match inspect(bytes, None) {
            Ok(info) => {
                total += base64_len(bytes.len());
                fitting.push((bytes, info));
            }
            Err(e) => notes.push(format!("image {}: no preview, {e}", index + 1)),
        }
    }
    if total > FULL_BUDGET_B64 {
        let mut plan = thumbnails(images);
        let fallback = format!(
            "Full images were too large for an inline result ({} KiB as base64, limit {} KiB; clients reject results over 1 MiB), so thumbnails are shown instead; the full-size files are on disk at the paths given.",
            total.div_ceil(1024),
            FULL_BUDGET_B64 / 1024
        );
        plan.note = Some(match plan.note {
            Some(more) => format!("{fallback} {more}"),
            None => fallback,
        });
        return plan;
    }
    let previews = fitting
        .into_iter()
        .map(|(bytes, info)| Preview {
            mime: info.kind.mime(),
            base64: BASE64_STANDARD.encode(bytes),
            width: info.width,
            height: info.height,
        })
        .collect();
    PreviewPlan {
        previews,
        note: join_notes(notes),
    }
}

fn thumbnails(images: &[&[u8]]) -> PreviewPlan {
    if images.is_empty() {
        return PreviewPlan::default();
    }
    let budget = THUMBNAIL_BUDGET_B64 / images.len();
    let results = map_in_parallel(images, |bytes| {
        // A decoder bug must cost one preview, not the whole result.
        catch_unwind(AssertUnwindSafe(|| thumbnail(bytes, budget)))
            .unwrap_or_else(|_| Err("no preview, the image decoder failed unexpectedly".into()))
    });
    let mut plan = PreviewPlan::default();
    let mut notes = Vec::new();
    for (index, result) in results.into_iter().enumerate() {
        match result {
            Some(Ok(preview)) => plan.previews.push(preview),
            Some(Err(why)) => notes.push(format!("image {}: {why}", index + 1)),
            None => notes.push(format!(
                "image {}: no preview, an internal error",
                index + 1
            )),
        }
    }
    plan.note = join_notes(notes);
    plan
}

/// A JPEG thumbnail of at most `budget` base64 characters, or why there is none.
fn thumbnail(bytes: &[u8], budget: usize) -> Result<Preview, String> {
    let info = inspect(bytes, None).map_err(|e| format!("no preview, {e}"))?;
    if info.kind == ImageKind::Gif {
        return small_original(bytes, info, budget).ok_or_else(|| {
            "no preview, easel cannot make thumbnails of GIF images and this one is too large to show as it is; the file is on disk".to_owned()
        });
    }
    let factor = reduction_factor(info.width, info.height, THUMBNAIL_MAX_SIDE);
    let mut current = shrunk(bytes, info.kind, factor).map_err(|e| format!("no preview, {e}"))?;
    let budget_bytes = budget / 4 * 3;
    let mut quality_index = 0;
    loop {
        let quality = THUMBNAIL_QUALITIES[quality_index];
        let jpeg = encode_jpeg(&current, quality).map_err(|e| format!("no preview, {e}"))?;
        if base64_len(jpeg.len()) <= budget {
            return Ok(Preview {
                mime: ImageKind::Jpeg.mime(),
                base64: BASE64_STANDARD.encode(&jpeg),
                width: current.width(),
                height: current.height(),
            });
        }
        let lowest = THUMBNAIL_QUALITIES.len() - 1;
        if quality_index < lowest {
            // One quality step saves roughly a third; far over budget, go straight to the
            // lowest quality instead of paying for encodes that cannot fit.
            let far_over = jpeg.len() > budget_bytes.saturating_mul(3) / 2;
            quality_index = if far_over { lowest } else { quality_index + 1 };
            continue;
        }
        // Size scales with pixel count, so shrink the side by the square root of how far over
        // budget we are, with a margin, and always by a real step so the loop ends.
        let ratio = (budget_bytes as f64 / jpeg.len() as f64).sqrt() * 0.9;
        let side = current.width().max(current.height());
        let new_side = (f64::from(side) * ratio.clamp(0.25, 0.85)) as u32;
        if new_side < THUMBNAIL_MIN_SIDE {
            return Err(format!(
                "no preview, even a small thumbnail does not fit its share of the inline budget ({budget} base64 characters); the file is on disk"
            ));
        }
        current = DynamicImage::ImageRgb8(current)
            .thumbnail(new_side, new_side)
            .into_rgb8();
    }
}

/// The image decoded (bounded, whatever its colour type), flattened on white and shrunk by
/// `factor`. Flattening comes before shrinking, since averaging transparent pixels' colours
/// into opaque ones would tint the edges.
pub(super) fn shrunk(bytes: &[u8], kind: ImageKind, factor: u32) -> Result<RgbImage, String> {
    let mut buf = buffers::take();
    let small = decode_flat_rgb_into(bytes, kind, &mut buf).and_then(|(width, height)| {
        box_reduce_rgb(&buf, width, height, factor)
            .ok_or_else(|| "the decoder returned too few pixels".to_string())
    });
    buffers::give_back(buf);
    small
}

/// The image as it is, if it is already thumbnail-sized and within budget.
fn small_original(bytes: &[u8], info: ImageInfo, budget: usize) -> Option<Preview> {
    let fits =
        info.width.max(info.height) <= THUMBNAIL_MAX_SIDE && base64_len(bytes.len()) <= budget;
    fits.then(|| Preview {
        mime: info.kind.mime(),
        base64: BASE64_STANDARD.encode(bytes),
        width: info.width,
        height: info.height,
    })
}

/// `f` over `items` on up to one thread per core; results in input order. Decoding and
/// encoding are CPU-bound and independent, and generations often return several images.
/// A slot is `None` only if `f` panicked.
fn map_in_parallel<T: Send>(items: &[&[u8]], f: impl Fn(&[u8]) -> T + Sync) -> Vec<Option<T>> {
    let workers = std::thread::available_parallelism()
        .map_or(1, NonZeroUsize::get)
        .min(items.len());
    if workers <= 1 {
        return items.iter().map(|bytes| Some(f(bytes))).collect();
    }
    let next = AtomicUsize::new(0);
    let mut slots: Vec<Option<T>> = items.iter().map(|_| None).collect();
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let index = next.fetch_add(1, Ordering::Relaxed);
                        let Some(bytes) = items.get(index) else { break };
                        done.push((index, f(bytes)));
                    }
                    done
                })
            })
            .collect();
        for handle in handles {
            // A panicked worker leaves its slots empty; the caller notes them.
            for (index, value) in handle.join().unwrap_or_default() {
                slots[index] = Some(value);
            }
        }
    });
    slots
}

fn base64_len(bytes: usize) -> usize {
    bytes.div_ceil(3) * 4
}

fn join_notes(notes: Vec<String>) -> Option<String> {
    (!notes.is_empty()).then(|| notes.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outputs::test_images::{TINY_GIF, encode, noise, noise_rgba};

    /// A preview's pixel size, from decoding it.
    fn decoded_size(preview: &Preview) -> (u32, u32) {
        let bytes = BASE64_STANDARD.decode(&preview.base64).expect("base64");
        let img = image::load_from_memory(&bytes).expect("decodes");
        (img.width(), img.height())
    }

    fn total_b64(plan: &PreviewPlan) -> usize {
        plan.previews.iter().map(|p| p.base64.len()).sum()
    }

    #[test]
    fn none_gives_nothing() {
        let png = encode(&noise(8, 8, 1), ImageKind::Png);
        assert_eq!(
            plan_previews(&[&png], PreviewMode::None),
            PreviewPlan::default()
        );
    }

    #[test]
    fn thumbnails_of_four_large_images_fit_the_budget() {
        // One encoded image reused: the budget logic is per image, and encoding four 1664²
        // noisy images in a debug build would only slow the test down.
        let jpeg = encode(&noise(1664, 1664, 7), ImageKind::Jpeg);
        assert!(jpeg.len() > THUMBNAIL_BUDGET_B64, "input is large");
        let images: Vec<&[u8]> = vec![&jpeg; 4];
        let plan = plan_previews(&images, PreviewMode::Thumbnail);
        assert_eq!(plan.previews.len(), 4, "{:?}", plan.note);
        assert_eq!(plan.note, None);
        assert!(total_b64(&plan) <= THUMBNAIL_BUDGET_B64);
        for preview in &plan.previews {
            assert_eq!(preview.mime, "image/jpeg");
            assert!(preview.width.max(preview.height) <= THUMBNAIL_MAX_SIDE);
            assert!(preview.base64.len() <= THUMBNAIL_BUDGET_B64 / 4);
            assert_eq!(decoded_size(preview), (preview.width, preview.height));
        }
    }

    #[test]
    fn thumbnails_keep_aspect_and_never_upscale() {
        let wide = encode(&noise(1000, 250, 1), ImageKind::Png);
        let small = encode(&noise_rgba(100, 60, 2), ImageKind::Png);
        let plan = plan_previews(&[&wide, &small], PreviewMode::Thumbnail);
        let sizes: Vec<_> = plan.previews.iter().map(|p| (p.width, p.height)).collect();
        // Shrunk by the smallest whole factor that fits 512 (here 2), aspect kept.
        assert_eq!(sizes, [(500, 125), (100, 60)]);
    }

    /// The mean colour of a preview's left and right halves.
    fn half_means(preview: &Preview) -> [[f64; 3]; 2] {
        let bytes = BASE64_STANDARD.decode(&preview.base64).expect("base64");
        let img = image::load_from_memory(&bytes)
            .expect("decodes")
            .into_rgb8();
        let mut sums = [[0.0; 3]; 2];
        let mut counts = [0.0; 2];
        for (x, _, px) in img.enumerate_pixels() {
            let half = usize::from(x >= img.width() / 2);
            counts[half] += 1.0;
            for c in 0..3 {
                sums[half][c] += f64::from(px[c]);
            }
        }
        [0, 1].map(|h| sums[h].map(|s| s / counts[h]))
    }

    #[test]
    fn thumbnails_keep_colours_for_rgb_and_flatten_alpha_on_white() {
        let rgb =
            DynamicImage::ImageRgb8(RgbImage::from_pixel(1024, 768, image::Rgb([200, 40, 90])));
        let plan = plan_previews(&[&encode(&rgb, ImageKind::Png)], PreviewMode::Thumbnail);
        let [left, right] = half_means(&plan.previews[0]);
        for mean in [left, right] {
            for (got, want) in mean.iter().zip([200.0, 40.0, 90.0]) {
                assert!((got - want).abs() < 4.0, "{mean:?}");
            }
        }
        // Transparent left half over white; the opaque right half keeps its colours.
        let rgba = noise_rgba(1200, 600, 9);
        let plan = plan_previews(&[&encode(&rgba, ImageKind::Png)], PreviewMode::Thumbnail);
        assert_eq!(decoded_size(&plan.previews[0]), (400, 200));
        let [left, right] = half_means(&plan.previews[0]);
        assert!(left.iter().all(|c| *c > 250.0), "{left:?}");
        assert!(right.iter().all(|c| *c < 230.0), "{right:?}");
    }

    #[test]
    fn bad_images_are_noted_not_fatal() {
        let png = encode(&noise(8, 8, 1), ImageKind::Png);
        let mut truncated = encode(&noise(64, 64, 2), ImageKind::Png);
        truncated.truncate(truncated.len() / 2);
        let html: &[u8] = b"<html>oops</html>";
        let plan = plan_previews(&[html, &png, &truncated], PreviewMode::Thumbnail);
        assert_eq!(plan.previews.len(), 1);
        let note = plan.note.expect("note");
        assert!(
            note.contains("image 1: no preview") && note.contains("HTML"),
            "{note}"
        );
        assert!(note.contains("image 3: no preview"), "{note}");
    }

    #[test]
    fn a_bomb_gets_a_note_instead_of_a_preview() {
        let bomb = easel_sim::bomb::bomb_png(11_000, 11_000, 6, 8);
        for mode in [PreviewMode::Thumbnail, PreviewMode::Full] {
            let plan = plan_previews(&[&bomb], mode);
            assert!(plan.previews.is_empty(), "{mode:?}");
            let note = plan.note.expect("note");
            assert!(note.contains("11000x11000"), "{note}");
        }
    }

    #[test]
    fn small_gif_is_shown_as_is() {
        let plan = plan_previews(&[TINY_GIF], PreviewMode::Thumbnail);
        assert_eq!(plan.previews.len(), 1);
        assert_eq!(plan.previews[0].mime, "image/gif");
    }

    #[test]
    fn full_stays_full_when_small() {
        let png = encode(&noise_rgba(64, 64, 1), ImageKind::Png);
        let webp = encode(&noise(32, 16, 2), ImageKind::Webp);
        let plan = plan_previews(&[&png, &webp], PreviewMode::Full);
        assert_eq!(plan.note, None);
        assert_eq!(plan.previews.len(), 2);
        assert_eq!(plan.previews[0].mime, "image/png");
        assert_eq!(plan.previews[0].base64, BASE64_STANDARD.encode(&png));
        assert_eq!((plan.previews[1].width, plan.previews[1].height), (32, 16));
        assert_eq!(plan.previews[1].mime, "image/webp");
    }

    #[test]
    fn full_falls_back_to_thumbnails_when_too_large() {
        let jpeg = encode(&noise(1024, 1024, 3), ImageKind::Jpeg);
        let images: Vec<&[u8]> = vec![&jpeg; 2];
        assert!(
            base64_len(jpeg.len()) * 2 > FULL_BUDGET_B64,
            "input is large"
        );
        let plan = plan_previews(&images, PreviewMode::Full);
        assert_eq!(plan.previews.len(), 2);
        assert!(
            plan.previews
                .iter()
                .all(|p| p.mime == "image/jpeg" && p.width <= 512)
        );
        assert!(total_b64(&plan) <= THUMBNAIL_BUDGET_B64);
        let note = plan.note.expect("note");
        assert!(note.contains("too large for an inline result"), "{note}");
        assert!(note.contains("on disk"), "{note}");
    }

    #[test]
    fn tiny_budgets_omit_with_a_note() {
        let jpeg = encode(&noise(256, 256, 4), ImageKind::Jpeg);
        let many: Vec<&[u8]> = vec![&jpeg; 2000];
        let plan = thumbnails(&many[..1]);
        assert_eq!(plan.previews.len(), 1);
        // 2000 images leave 131 characters each: smaller than any JPEG.
        let err = thumbnail(&jpeg, THUMBNAIL_BUDGET_B64 / many.len()).expect_err("too small");
        assert!(err.contains("does not fit its share"), "{err}");
    }
}

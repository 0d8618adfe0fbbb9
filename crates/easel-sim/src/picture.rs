//! Deterministic pictures for simulated image services.
//!
//! A simulator must hand out real, decodable images whose bytes depend only on what was
//! asked for: the same prompt and seed give the same file (so tests can compare bytes),
//! a different seed gives a different one, and thumbnails of different jobs look
//! different at a glance (so a person running `easel demo` can tell them apart). The
//! pictures are a colour gradient with a few shapes, all derived from a hash of a key
//! string, and are encoded with fast PNG compression so that even a 1664x1664 image is
//! cheap to make.

use image::ImageEncoder;
use image::codecs::png::{CompressionType, FilterType, PngEncoder};

/// A valid 1x1 PNG, returned only if encoding fails (which writing to memory does not do
/// in practice), so callers always get a decodable image.
const FALLBACK_PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x02, 0x00, 0x00, 0x00, 0x90, 0x77, 0x53,
    0xde, 0x00, 0x00, 0x00, 0x0c, 0x49, 0x44, 0x41, 0x54, 0x08, 0xd7, 0x63, 0xf8, 0xcf, 0xc0, 0x00,
    0x00, 0x03, 0x01, 0x01, 0x00, 0x18, 0xdd, 0x8d, 0xb0, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e,
    0x44, 0xae, 0x42, 0x60, 0x82,
];

/// Encodes a `width` x `height` RGB PNG whose content is a pure function of `key`.
///
/// Same arguments, same bytes, on every platform and every run (the hash is spelled out
/// here, not borrowed from `std`, whose hasher may change). A zero side is treated as 1.
pub fn png(width: u32, height: u32, key: &str) -> Vec<u8> {
    let width = width.max(1);
    let height = height.max(1);
    let pixels = render(width, height, key);
    let mut out = Vec::with_capacity(pixels.len() / 8);
    let encoder = PngEncoder::new_with_quality(&mut out, CompressionType::Fast, FilterType::Up);
    match encoder.write_image(&pixels, width, height, image::ExtendedColorType::Rgb8) {
        Ok(()) => out,
        Err(error) => {
            tracing::error!(%error, width, height, "PNG encoding failed; serving a 1x1 image");
            FALLBACK_PNG.to_vec()
        }
    }
}

/// Encodes a `width` x `height` baseline JPEG of the same picture [`png`] draws for `key`,
/// for services that stream previews as JPEG (ComfyUI's latent previews). Deterministic
/// like [`png`]; a zero side is treated as 1.
pub fn jpeg(width: u32, height: u32, key: &str) -> Vec<u8> {
    let width = width.max(1);
    let height = height.max(1);
    let pixels = render(width, height, key);
    match encode_jpeg(&pixels, width, height) {
        Ok(out) => out,
        Err(error) => {
            tracing::error!(%error, width, height, "JPEG encoding failed; serving a 1x1 image");
            encode_jpeg(&[128, 128, 128], 1, 1).unwrap_or_default()
        }
    }
}

/// Encodes a `width` x `height` lossless WebP of the same picture [`png`] draws for `key`,
/// for services that can answer in WebP (OpenAI's `output_format: "webp"`).
/// Deterministic like [`png`]; a zero side is treated as 1. Falls back to a PNG only if
/// encoding fails, which writing to memory does not do in practice.
pub fn webp(width: u32, height: u32, key: &str) -> Vec<u8> {
    let width = width.max(1);
    let height = height.max(1);
    let pixels = render(width, height, key);
    let mut out = Vec::with_capacity(pixels.len() / 4);
    let encoder = image::codecs::webp::WebPEncoder::new_lossless(&mut out);
    match encoder.write_image(&pixels, width, height, image::ExtendedColorType::Rgb8) {
        Ok(()) => out,
        Err(error) => {
            tracing::error!(%error, width, height, "WebP encoding failed; serving a 1x1 PNG");
            FALLBACK_PNG.to_vec()
        }
    }
}

fn encode_jpeg(pixels: &[u8], width: u32, height: u32) -> image::ImageResult<Vec<u8>> {
    let mut out = Vec::with_capacity(pixels.len() / 10);
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85).write_image(
        pixels,
        width,
        height,
        image::ExtendedColorType::Rgb8,
    )?;
    Ok(out)
}

/// Draws the picture into a row-major RGB8 buffer.
fn render(width: u32, height: u32, key: &str) -> Vec<u8> {
    let mut rng = SplitMix64(fnv1a(key.as_bytes()));
    let (w, h) = (width as usize, height as usize);
    let mut pixels = vec![0u8; w * h * 3];
    gradient(&mut pixels, w, h, &mut rng);
    let shapes = 3 + rng.below(5);
    for _ in 0..shapes {
        let shape = Shape::random(w, h, &mut rng);
        shape.draw(&mut pixels, w, h);
    }
    pixels
}

/// Fills the buffer with a linear gradient between two colours along a random direction.
fn gradient(pixels: &mut [u8], w: usize, h: usize, rng: &mut SplitMix64) {
    let from = rng.colour();
    let to = rng.colour();
    // Weights of x and y in the gradient position; together they span 0..=1<<16.
    let wx = rng.below(17) as i64;
    let wy = 16 - wx;
    let span = (wx * w as i64 + wy * h as i64).max(1);
    let col: Vec<i64> = (0..w as i64).map(|x| ((x * wx) << 16) / span).collect();
    for y in 0..h {
        let row_t = (((y as i64) * wy) << 16) / span;
        let line = &mut pixels[y * w * 3..(y + 1) * w * 3];
        for (x, px) in line.chunks_exact_mut(3).enumerate() {
            let t = col[x] + row_t;
            for c in 0..3 {
                let a = i64::from(from[c]);
                let b = i64::from(to[c]);
                px[c] = (a + (((b - a) * t) >> 16)) as u8;
            }
        }
    }
}

/// One filled shape, blended three quarters over what is below it.
enum Shape {
    Circle {
        cx: i64,
        cy: i64,
        r: i64,
        colour: [u8; 3],
    },
    Rect {
        x0: usize,
        y0: usize,
        x1: usize,
        y1: usize,
        colour: [u8; 3],
    },
}

impl Shape {
    fn random(w: usize, h: usize, rng: &mut SplitMix64) -> Shape {
        let side = w.min(h) as u64;
        let colour = rng.colour();
        let cx = rng.below(w as u64) as i64;
        let cy = rng.below(h as u64) as i64;
        if rng.below(2) == 0 {
            let r = (side / 20 + rng.below(side / 4 + 1)) as i64;
            Shape::Circle { cx, cy, r, colour }
        } else {
            let half_w = (w as u64 / 20 + rng.below(w as u64 / 4 + 1)) as i64;
            let half_h = (h as u64 / 20 + rng.below(h as u64 / 4 + 1)) as i64;
            let clamp = |v: i64, max: usize| v.clamp(0, max as i64) as usize;
            Shape::Rect {
                x0: clamp(cx - half_w, w),
                y0: clamp(cy - half_h, h),
                x1: clamp(cx + half_w, w),
                y1: clamp(cy + half_h, h),
                colour,
            }
        }
    }

    fn draw(&self, pixels: &mut [u8], w: usize, h: usize) {
        match *self {
            Shape::Circle { cx, cy, r, colour } => {
                let y0 = (cy - r).max(0) as usize;
                let y1 = ((cy + r + 1).max(0) as usize).min(h);
                for y in y0..y1 {
                    let dy = y as i64 - cy;
                    let reach = r * r - dy * dy;
                    if reach < 0 {
                        continue;
                    }
                    let dx = reach.isqrt();
                    let x0 = (cx - dx).max(0) as usize;
                    let x1 = ((cx + dx + 1).max(0) as usize).min(w);
                    blend_span(pixels, w, y, x0, x1, colour);
                }
            }
            Shape::Rect {
                x0,
                y0,
                x1,
                y1,
                colour,
            } => {
                for y in y0..y1 {
                    blend_span(pixels, w, y, x0, x1, colour);
                }
            }
        }
    }
}

/// Blends `colour` over pixels `x0..x1` of row `y`.
fn blend_span(pixels: &mut [u8], w: usize, y: usize, x0: usize, x1: usize, colour: [u8; 3]) {
    if x0 >= x1 {
        return;
    }
    let line = &mut pixels[(y * w + x0) * 3..(y * w + x1) * 3];
    for px in line.chunks_exact_mut(3) {
        for c in 0..3 {
            px[c] = ((u16::from(colour[c]) * 3 + u16::from(px[c])) / 4) as u8;
        }
    }
}

/// 64-bit FNV-1a: a stable, well-known hash, so pictures never change between builds.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// SplitMix64: a tiny, fully specified generator, for the same reason as [`fnv1a`].
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (0 when `n` is 0).
    fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }

    fn colour(&mut self) -> [u8; 3] {
        let v = self.next().to_le_bytes();
        [v[0], v[1], v[2]]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(bytes: &[u8]) -> image::RgbImage {
        image::load_from_memory_with_format(bytes, image::ImageFormat::Png)
            .expect("valid PNG")
            .to_rgb8()
    }

    #[test]
    fn png_has_requested_size_and_is_deterministic() {
        let a = png(320, 200, "a cat\n42");
        let b = png(320, 200, "a cat\n42");
        assert_eq!(a, b);
        let img = decode(&a);
        assert_eq!(img.dimensions(), (320, 200));
    }

    #[test]
    fn different_keys_give_different_pictures() {
        let a = decode(&png(64, 64, "a cat\n42"));
        let b = decode(&png(64, 64, "a cat\n43"));
        let differing = a.pixels().zip(b.pixels()).filter(|(p, q)| p != q).count();
        assert!(differing > 64 * 64 / 4, "only {differing} pixels differ");
    }

    #[test]
    fn jpeg_decodes_to_requested_size() {
        let bytes = jpeg(40, 24, "preview");
        assert_eq!(&bytes[..2], &[0xff, 0xd8]);
        let img = image::load_from_memory_with_format(&bytes, image::ImageFormat::Jpeg)
            .expect("valid JPEG");
        assert_eq!((img.width(), img.height()), (40, 24));
    }

    #[test]
    fn webp_decodes_to_requested_size() {
        let bytes = webp(48, 20, "webp");
        assert_eq!(&bytes[..4], b"RIFF");
        assert_eq!(&bytes[8..12], b"WEBP");
        let img = image::load_from_memory_with_format(&bytes, image::ImageFormat::WebP)
            .expect("valid WebP");
        assert_eq!((img.width(), img.height()), (48, 20));
    }

    #[test]
    fn zero_sides_still_give_a_valid_png() {
        assert_eq!(decode(&png(0, 0, "x")).dimensions(), (1, 1));
    }

    #[test]
    fn fallback_png_is_valid() {
        assert_eq!(decode(FALLBACK_PNG).dimensions(), (1, 1));
    }
}

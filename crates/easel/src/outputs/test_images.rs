//! Test images made on the spot, with noise so encoded sizes are like real pictures'.

use std::io::Cursor;

use image::{DynamicImage, Rgb, RgbImage, Rgba, RgbaImage};

use super::kind::ImageKind;

/// The smallest valid GIF: one transparent pixel.
pub const TINY_GIF: &[u8] = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00\x21\xf9\x04\x01\x00\x00\x00\x00\x2c\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02\x44\x01\x00\x3b";

/// A gradient with per-pixel noise: compresses about as badly as a detailed photo.
pub fn noise(width: u32, height: u32, seed: u64) -> DynamicImage {
    let mut rng = XorShift(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    DynamicImage::ImageRgb8(RgbImage::from_fn(width, height, |x, y| {
        let base = [
            (x * 255 / width.max(1)) as u8,
            (y * 255 / height.max(1)) as u8,
            128,
        ];
        Rgb(base.map(|c| c.wrapping_add((rng.next() % 96) as u8)))
    }))
}

/// Like [`noise`] with a transparent left half.
pub fn noise_rgba(width: u32, height: u32, seed: u64) -> DynamicImage {
    let rgb = noise(width, height, seed).into_rgb8();
    DynamicImage::ImageRgba8(RgbaImage::from_fn(width, height, |x, y| {
        let [r, g, b] = rgb.get_pixel(x, y).0;
        Rgba([r, g, b, if x < width / 2 { 0 } else { 255 }])
    }))
}

pub fn encode(img: &DynamicImage, kind: ImageKind) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    let img = if kind == ImageKind::Jpeg {
        DynamicImage::ImageRgb8(img.to_rgb8())
    } else {
        img.clone()
    };
    img.write_to(&mut out, kind.format())
        .expect("encode test image");
    out.into_inner()
}

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

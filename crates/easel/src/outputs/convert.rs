//! Decoding and re-encoding, shared by format conversion and previews.

use std::borrow::Cow;
use std::io::Cursor;

use image::codecs::png::PngEncoder;
use image::codecs::webp::WebPEncoder;
use image::{ColorType, DynamicImage, ImageDecoder, ImageReader, RgbImage};

use super::error::OutputError;
use super::kind::ImageKind;
use super::save::OutputFormat;

/// JPEG quality for saved conversions: visually lossless for generated images.
const SAVE_JPEG_QUALITY: u8 = 90;

/// The bytes to write for `format`: the input itself when no conversion is needed (including
/// when the image already is of the requested type, so nothing is lost re-encoding it).
pub(crate) fn convert(
    bytes: &[u8],
    kind: ImageKind,
    format: OutputFormat,
) -> Result<Cow<'_, [u8]>, OutputError> {
    let Some(target) = format.target_kind() else {
        return Ok(Cow::Borrowed(bytes));
    };
    if target == kind {
        return Ok(Cow::Borrowed(bytes));
    }
    let fail = |detail: String| OutputError::Convert {
        format,
        kind,
        detail,
    };
    // An image too large to decode within the bound is kept as it came rather than lost: the
    // saved file's type and extension say what it is.
    if let Err(why) = decode_fits(bytes, kind) {
        tracing::warn!(%format, %kind, "not converting: {why}; saving the original bytes");
        return Ok(Cow::Borrowed(bytes));
    }
    let mut out = Vec::new();
    let written = match target {
        ImageKind::Jpeg => {
            let mut buf = Vec::new();
            let (width, height) = decode_flat_rgb_into(bytes, kind, &mut buf).map_err(fail)?;
            let rgb = RgbImage::from_raw(width, height, buf)
                .ok_or_else(|| fail("the decoder returned too few pixels".into()))?;
            out = encode_jpeg(&rgb, SAVE_JPEG_QUALITY).map_err(fail)?;
            Ok(())
        }
        ImageKind::Png => decode(bytes, kind, 0)
            .map_err(fail)?
            .write_with_encoder(PngEncoder::new(&mut out)),
        // The WebP encoder takes 8-bit RGB(A) only (a conversion of up to 4 bytes a pixel),
        // and is lossless.
        ImageKind::Webp => {
            let img = decode(bytes, kind, 4).map_err(fail)?;
            if img.color().has_alpha() {
                img.into_rgba8()
                    .write_with_encoder(WebPEncoder::new_lossless(&mut out))
            } else {
                img.into_rgb8()
                    .write_with_encoder(WebPEncoder::new_lossless(&mut out))
            }
        }
        ImageKind::Gif => return Err(fail("easel does not write GIF files".into())),
    };
    written.map_err(|e| fail(format!("encoding failed: {e}")))?;
    Ok(Cow::Owned(out))
}

/// Most memory one decode may take for pixels, counted before anything is allocated: beyond
/// any generated image's preview (a 6000² RGB image is 103 MiB), and what keeps a
/// decompression bomb (a few hundred KB of PNG claiming 11000² RGBA, 484 MiB) from being
/// decoded at all. Previews run one per core, so two decodes at once stay under ~300 MiB.
pub(crate) const MAX_DECODE_BYTES: u64 = 128 * 1024 * 1024;

/// A decoder for `bytes`, with the library's own allocation limit set to ours as well.
fn decoder(bytes: &[u8], kind: ImageKind) -> Result<impl ImageDecoder + '_, String> {
    if kind == ImageKind::Gif {
        return Err("easel is built without a GIF decoder".into());
    }
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    let mut reader = ImageReader::with_format(Cursor::new(bytes), kind.format());
    reader.limits(limits);
    reader
        .into_decoder()
        .map_err(|e| format!("it could not be decoded: {e}"))
}

/// Refuses a decode that would take more than [`MAX_DECODE_BYTES`]; `cost` is what it needs.
fn check_cost(width: u32, height: u32, cost: u64) -> Result<(), String> {
    if cost > MAX_DECODE_BYTES {
        return Err(format!(
            "it is {width}x{height} pixels, which would take {} MiB to decode, more than easel's limit of {} MiB",
            cost.div_ceil(1 << 20),
            MAX_DECODE_BYTES >> 20
        ));
    }
    Ok(())
}

/// Whether decoding the image (for any conversion, up to RGBA) stays within the bound.
fn decode_fits(bytes: &[u8], kind: ImageKind) -> Result<(), String> {
    if kind == ImageKind::Gif {
        return Ok(()); // refused with its own message
    }
    check_decoder(&decoder(bytes, kind)?, kind, 4)
}

/// Refuses `decoder`'s image when decoding it, plus `extra` bytes a pixel for a conversion,
/// would take more than [`MAX_DECODE_BYTES`].
fn check_decoder(decoder: &impl ImageDecoder, kind: ImageKind, extra: u64) -> Result<(), String> {
    let (width, height) = decoder.dimensions();
    let pixels = u64::from(width) * u64::from(height);
    check_cost(
        width,
        height,
        native_cost(kind, decoder.total_bytes()) + extra * pixels,
    )
}

/// What decoding `decoder`'s image takes beyond its pixels: the JPEG decoder decodes into a
/// buffer of its own and copies it out.
fn native_cost(kind: ImageKind, total: u64) -> u64 {
    if kind == ImageKind::Jpeg {
        total * 2
    } else {
        total
    }
}

/// Decodes the whole image in its own pixel layout, within [`MAX_DECODE_BYTES`] including
/// `extra` bytes per pixel the caller will need for a conversion; the error says why in
/// words fit for a message.
pub(crate) fn decode(bytes: &[u8], kind: ImageKind, extra: u64) -> Result<DynamicImage, String> {
    let decoder = decoder(bytes, kind)?;
    check_decoder(&decoder, kind, extra)?;
    DynamicImage::from_decoder(decoder).map_err(|e| format!("it could not be decoded: {e}"))
}

/// Decodes any image into `buf` (reusing its allocation) as 8-bit RGB with transparency
/// composited over white, and returns its size.
///
/// Whatever the colour type (grey, alpha, 16-bit, float), the pixels are decoded into `buf`
/// and converted there in place, so the one allocation is the larger of the decoded and the
/// RGB size, checked against [`MAX_DECODE_BYTES`] before it is made.
///
/// Previews decode into buffers they keep: a fresh multi-megabyte buffer per image made glibc
/// keep freed buffers in per-thread arenas, and a burst of 256 previews peaked at 110 MiB.
pub(crate) fn decode_flat_rgb_into(
    bytes: &[u8],
    kind: ImageKind,
    buf: &mut Vec<u8>,
) -> Result<(u32, u32), String> {
    let decoder = decoder(bytes, kind)?;
    let color = decoder.color_type();
    let (width, height) = decoder.dimensions();
    let native = decoder.total_bytes();
    let pixels = u64::from(width) * u64::from(height);
    let rgb = pixels * 3;
    check_cost(width, height, native_cost(kind, native).max(rgb))?;
    // Both bounded just above, so they fit in usize.
    buf.resize(native.max(rgb) as usize, 0);
    decoder
        .read_image(&mut buf[..native as usize])
        .map_err(|e| format!("it could not be decoded: {e}"))?;
    flatten_in_place(buf, color, pixels as usize)?;
    buf.truncate(rgb as usize);
    Ok((width, height))
}

/// Converts `pixels` pixels of `color` at the start of `buf` into 8-bit RGB flattened on
/// white, in place. Layouts wider than RGB are converted front to back (each pixel's output
/// lands at or before its input); narrower ones (grey) back to front.
fn flatten_in_place(buf: &mut [u8], color: ColorType, pixels: usize) -> Result<(), String> {
    let size = usize::from(color.bytes_per_pixel());
    let read = |px: &[u8]| -> [u8; 3] {
        let channels = usize::from(color.channel_count());
        let sample = |c: usize| -> f32 {
            match color {
                ColorType::L16 | ColorType::La16 | ColorType::Rgb16 | ColorType::Rgba16 => {
                    f32::from(u16::from_ne_bytes([px[2 * c], px[2 * c + 1]])) / 65535.0
                }
                ColorType::Rgb32F | ColorType::Rgba32F => {
                    f32::from_ne_bytes([px[4 * c], px[4 * c + 1], px[4 * c + 2], px[4 * c + 3]])
                        .clamp(0.0, 1.0)
                }
                _ => f32::from(px[c]) / 255.0,
            }
        };
        let (rgb, alpha) = match channels {
            1 => ([sample(0); 3], 1.0),
            2 => ([sample(0); 3], sample(1)),
            3 => ([sample(0), sample(1), sample(2)], 1.0),
            _ => ([sample(0), sample(1), sample(2)], sample(3)),
        };
        rgb.map(|v| ((v * alpha + (1.0 - alpha)) * 255.0 + 0.5) as u8)
    };
    match color {
        // The common case needs no work at all.
        ColorType::Rgb8 => Ok(()),
        ColorType::Rgba8 => {
            // Integer blend, as in flatten_on_white: most generated images with alpha.
            for i in 0..pixels {
                let (r, g, b, a) = (buf[4 * i], buf[4 * i + 1], buf[4 * i + 2], buf[4 * i + 3]);
                let alpha = u16::from(a);
                let blend =
                    |c: u8| ((u16::from(c) * alpha + 255 * (255 - alpha) + 127) / 255) as u8;
                buf[3 * i..3 * i + 3].copy_from_slice(&[blend(r), blend(g), blend(b)]);
            }
            Ok(())
        }
        _ if size >= 3 => {
            for i in 0..pixels {
                let out = read(&buf[size * i..size * (i + 1)]);
                buf[3 * i..3 * i + 3].copy_from_slice(&out);
            }
            Ok(())
        }
        ColorType::L8 | ColorType::La8 | ColorType::L16 => {
            for i in (0..pixels).rev() {
                let out = read(&buf[size * i..size * (i + 1)]);
                buf[3 * i..3 * i + 3].copy_from_slice(&out);
            }
            Ok(())
        }
        other => Err(format!(
            "it has a pixel layout easel cannot show ({other:?})"
        )),
    }
}

/// JPEG bytes of `img` at `quality` (1–100).
///
/// `jpeg-encoder` (with SIMD) rather than `image`'s encoder: 1.8 ms instead of 6.5 ms for a
/// 512² thumbnail (docs/PERFORMANCE.md), the same baseline JPEG.
pub(crate) fn encode_jpeg(img: &RgbImage, quality: u8) -> Result<Vec<u8>, String> {
    let fail = |e: &dyn std::fmt::Display| format!("JPEG encoding failed: {e}");
    let too_large = || fail(&"JPEG sides are at most 65535 pixels");
    let width = u16::try_from(img.width()).map_err(|_| too_large())?;
    let height = u16::try_from(img.height()).map_err(|_| too_large())?;
    let mut out = Vec::new();
    jpeg_encoder::Encoder::new(&mut out, quality.clamp(1, 100))
        .encode(img.as_raw(), width, height, jpeg_encoder::ColorType::Rgb)
        .map_err(|e| fail(&e))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outputs::test_images::{TINY_GIF, noise_rgba};

    use crate::outputs::test_images::{encode, noise};
    use easel_sim::bomb::bomb_png;

    fn flat(bytes: &[u8]) -> RgbImage {
        let mut buf = Vec::new();
        let (w, h) = decode_flat_rgb_into(bytes, ImageKind::Png, &mut buf).expect("decodes");
        RgbImage::from_raw(w, h, buf).expect("size")
    }

    #[test]
    fn transparency_is_flattened_on_white() {
        let png = encode(&noise_rgba(8, 2, 3), ImageKind::Png);
        let flat = flat(&png);
        assert_eq!(flat.get_pixel(0, 0).0, [255, 255, 255]);
        assert_ne!(flat.get_pixel(7, 0).0, [255, 255, 255]);
    }

    #[test]
    fn every_colour_type_decodes_to_the_same_rgb() {
        let rgb = noise(16, 9, 5);
        let reference = flat(&encode(&rgb, ImageKind::Png));
        let grey = DynamicImage::ImageLuma8(rgb.to_luma8());
        let grey_ref = flat(&encode(&grey, ImageKind::Png));
        let variants = [
            (DynamicImage::ImageRgba8(rgb.to_rgba8()), &reference),
            (DynamicImage::ImageRgb16(rgb.to_rgb16()), &reference),
            (DynamicImage::ImageRgba16(rgb.to_rgba16()), &reference),
            (DynamicImage::ImageLumaA8(rgb.to_luma_alpha8()), &grey_ref),
            (DynamicImage::ImageLuma16(rgb.to_luma16()), &grey_ref),
            (DynamicImage::ImageLumaA16(rgb.to_luma_alpha16()), &grey_ref),
        ];
        for (image, expected) in variants {
            let color = image.color();
            let got = flat(&encode(&image, ImageKind::Png));
            let off = got
                .as_raw()
                .iter()
                .zip(expected.as_raw())
                .map(|(a, b)| a.abs_diff(*b))
                .max();
            assert!(off <= Some(1), "{color:?}: off by {off:?}");
        }
        assert_eq!(
            grey_ref.get_pixel(3, 3).0[0],
            grey.to_luma8().get_pixel(3, 3).0[0]
        );
    }

    #[test]
    fn bombs_are_refused_before_their_pixels_are_allocated() {
        // RGBA 8-bit 11000² (484 MiB), grey+alpha 16-bit 16000² (1 GiB), RGB 16-bit 6000².
        for (side, colour, depth) in [(11_000, 6, 8), (16_000, 4, 16), (6_000, 2, 16)] {
            let png = bomb_png(side, side, colour, depth);
            let mut buf = Vec::new();
            let err = decode_flat_rgb_into(&png, ImageKind::Png, &mut buf).expect_err("bomb");
            assert!(err.contains("more than easel's limit"), "{err}");
            assert_eq!(buf.capacity(), 0, "nothing allocated for {side}²");
            let err = decode(&png, ImageKind::Png, 0).expect_err("bomb");
            assert!(err.contains(&format!("{side}x{side}")), "{err}");
            // Converting keeps the original bytes rather than decoding it.
            let kept = convert(&png, ImageKind::Png, OutputFormat::Jpeg).expect("kept");
            assert!(matches!(kept, Cow::Borrowed(_)));
        }
    }

    #[test]
    fn gif_cannot_be_converted() {
        let err = convert(TINY_GIF, ImageKind::Gif, OutputFormat::Png).expect_err("no GIF decoder");
        assert_eq!(err.field(), Some("format"));
        assert!(err.to_string().contains("use format \"original\""), "{err}");
    }
}

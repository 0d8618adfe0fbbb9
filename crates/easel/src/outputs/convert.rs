//! Decoding and re-encoding, shared by format conversion and previews.

use std::borrow::Cow;
use std::io::Cursor;

use image::codecs::png::PngEncoder;
use image::codecs::webp::WebPEncoder;
use image::{DynamicImage, ImageDecoder, ImageReader, RgbImage};

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
    let img = decode(bytes, kind).map_err(fail)?;
    let mut out = Vec::new();
    let written = match target {
        ImageKind::Png => img.write_with_encoder(PngEncoder::new(&mut out)),
        ImageKind::Jpeg => {
            out = encode_jpeg(&flatten_on_white(img), SAVE_JPEG_QUALITY).map_err(fail)?;
            Ok(())
        }
        // The WebP encoder takes 8-bit RGB(A) only, and is lossless.
        ImageKind::Webp if img.color().has_alpha() => img
            .into_rgba8()
            .write_with_encoder(WebPEncoder::new_lossless(&mut out)),
        ImageKind::Webp => img
            .into_rgb8()
            .write_with_encoder(WebPEncoder::new_lossless(&mut out)),
        ImageKind::Gif => return Err(fail("easel does not write GIF files".into())),
    };
    written.map_err(|e| fail(format!("encoding failed: {e}")))?;
    Ok(Cow::Owned(out))
}

/// Decodes the whole image; the error says why in words fit for a message.
pub(crate) fn decode(bytes: &[u8], kind: ImageKind) -> Result<DynamicImage, String> {
    if kind == ImageKind::Gif {
        return Err("easel is built without a GIF decoder".into());
    }
    ImageReader::with_format(Cursor::new(bytes), kind.format())
        .decode()
        .map_err(|e| format!("it could not be decoded: {e}"))
}

/// Largest decoded image easel accepts, in bytes: beyond any generated image (8192² RGBA is
/// 256 MiB), and a bound on what a hostile file can make easel allocate.
const MAX_DECODED_BYTES: u64 = 256 * 1024 * 1024;

/// Decodes an 8-bit RGB image into `buf` (reusing its allocation) and returns its size, or
/// `None` when the image has another pixel layout (alpha, grey, 16-bit), for [`decode`].
///
/// Previews decode into buffers they keep: a fresh multi-megabyte buffer per image made glibc
/// keep freed buffers in per-thread arenas, and a burst of 256 previews peaked at 110 MiB.
pub(crate) fn decode_rgb8_into(
    bytes: &[u8],
    kind: ImageKind,
    buf: &mut Vec<u8>,
) -> Result<Option<(u32, u32)>, String> {
    if kind == ImageKind::Gif {
        return Err("easel is built without a GIF decoder".into());
    }
    let fail = |e: image::ImageError| format!("it could not be decoded: {e}");
    let decoder = ImageReader::with_format(Cursor::new(bytes), kind.format())
        .into_decoder()
        .map_err(fail)?;
    if decoder.color_type() != image::ColorType::Rgb8 {
        return Ok(None);
    }
    let total = decoder.total_bytes();
    if total > MAX_DECODED_BYTES {
        return Err(format!(
            "it could not be decoded: it would take {} MiB decoded, more than easel's limit of {} MiB",
            total.div_ceil(1 << 20),
            MAX_DECODED_BYTES >> 20
        ));
    }
    let (width, height) = decoder.dimensions();
    // Bounded just above, so it fits in usize.
    buf.resize(total as usize, 0);
    decoder.read_image(buf).map_err(fail)?;
    Ok(Some((width, height)))
}

/// 8-bit RGB with any transparency composited over white, as JPEG has no alpha channel and
/// black (what dropping alpha gives) makes transparent areas look like damage.
pub(crate) fn flatten_on_white(img: DynamicImage) -> RgbImage {
    if !img.color().has_alpha() {
        return img.into_rgb8();
    }
    let rgba = img.into_rgba8();
    let mut out = RgbImage::new(rgba.width(), rgba.height());
    for (src, dst) in rgba.pixels().zip(out.pixels_mut()) {
        let alpha = u16::from(src[3]);
        for c in 0..3 {
            let blended = (u16::from(src[c]) * alpha + 255 * (255 - alpha) + 127) / 255;
            dst[c] = blended as u8;
        }
    }
    out
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

    #[test]
    fn transparency_is_flattened_on_white() {
        let flat = flatten_on_white(noise_rgba(8, 2, 3));
        assert_eq!(flat.get_pixel(0, 0).0, [255, 255, 255]);
        assert_ne!(flat.get_pixel(7, 0).0, [255, 255, 255]);
    }

    #[test]
    fn gif_cannot_be_converted() {
        let err = convert(TINY_GIF, ImageKind::Gif, OutputFormat::Png).expect_err("no GIF decoder");
        assert_eq!(err.field(), Some("format"));
        assert!(err.to_string().contains("use format \"original\""), "{err}");
    }
}

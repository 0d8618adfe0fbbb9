//! Shrinking images for thumbnails.
//!
//! `image`'s own `thumbnail` averages areas in floating point per output pixel and cost
//! ~11 ms of the ~18 ms a 1024² thumbnail took (docs/PERFORMANCE.md). Averaging whole
//! `factor` × `factor` blocks with integer sums is the same area filter for an integer
//! factor, at a quarter of the cost, so thumbnails shrink by the smallest integer factor that
//! brings the longest side within the limit.

use image::RgbImage;

/// The integer factor that brings the longest side of a `width` × `height` image to at most
/// `max_side` (1 when it already fits).
pub fn reduction_factor(width: u32, height: u32, max_side: u32) -> u32 {
    width.max(height).div_ceil(max_side.max(1)).max(1)
}

/// `img` shrunk by `factor` in both directions; see [`box_reduce_rgb`].
pub fn box_reduce(img: &RgbImage, factor: u32) -> RgbImage {
    box_reduce_rgb(img.as_raw(), img.width(), img.height(), factor)
        .unwrap_or_else(|| RgbImage::new(1, 1))
}

/// The 8-bit RGB pixels `src` of a `width` × `height` image, shrunk by `factor` in both
/// directions: each output pixel is the rounded mean of a `factor` × `factor` block. Edge
/// pixels that do not fill a whole block are dropped (at most `factor - 1` columns and rows),
/// and no side becomes smaller than one pixel. `None` if `src` is shorter than the size says.
pub fn box_reduce_rgb(src: &[u8], width: u32, height: u32, factor: u32) -> Option<RgbImage> {
    let stride = width as usize * 3;
    let src = src.get(..stride * height as usize)?;
    let factor = factor.clamp(1, width.max(height).max(1));
    if factor == 1 {
        return RgbImage::from_raw(width, height, src.to_vec());
    }
    // A block wider or taller than the image uses what there is of it.
    let (fx, fy) = (factor.min(width).max(1), factor.min(height).max(1));
    let (w, h) = ((width / fx) as usize, (height / fy) as usize);
    let (fx, fy) = (fx as usize, fy as usize);
    let area = (fx * fy) as u32;
    let mut out = Vec::with_capacity(w * h * 3);
    // Rows are summed first, element by element (which the compiler vectorises), then each
    // block's columns: two cheap passes instead of a gather per output pixel.
    let mut columns = vec![0u32; stride];
    for band in src.chunks_exact(stride * fy).take(h) {
        columns.fill(0);
        for row in band.chunks_exact(stride) {
            for (sum, &value) in columns.iter_mut().zip(row) {
                *sum += u32::from(value);
            }
        }
        for block in columns.chunks_exact(fx * 3).take(w) {
            let mut rgb = [0u32; 3];
            for px in block.chunks_exact(3) {
                rgb[0] += px[0];
                rgb[1] += px[1];
                rgb[2] += px[2];
            }
            out.extend(rgb.map(|sum| ((sum + area / 2) / area) as u8));
        }
    }
    RgbImage::from_raw(w as u32, h as u32, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn factor_is_the_smallest_that_fits() {
        assert_eq!(reduction_factor(1024, 1024, 512), 2);
        assert_eq!(reduction_factor(1664, 928, 512), 4);
        assert_eq!(reduction_factor(1025, 10, 512), 3);
        assert_eq!(reduction_factor(512, 300, 512), 1);
        assert_eq!(reduction_factor(0, 0, 512), 1);
    }

    #[test]
    fn blocks_are_averaged_with_rounding() {
        // 4x2 image, factor 2: two blocks.
        let img = RgbImage::from_raw(
            4,
            2,
            vec![
                0, 10, 255, 1, 11, 255, 100, 0, 0, 100, 0, 0, //
                0, 10, 255, 1, 12, 254, 200, 0, 0, 201, 0, 0,
            ],
        )
        .expect("buffer");
        let out = box_reduce(&img, 2);
        assert_eq!((out.width(), out.height()), (2, 1));
        // (0+1+0+1)/4 = 0.5 → 1 (round half up); (10+11+10+12)/4 = 10.75 → 11.
        assert_eq!(out.get_pixel(0, 0).0, [1, 11, 255]);
        assert_eq!(out.get_pixel(1, 0).0, [150, 0, 0]);
    }

    #[test]
    fn leftover_edges_are_dropped_and_sides_stay_positive() {
        let img = RgbImage::from_pixel(1025, 3, image::Rgb([7, 8, 9]));
        let out = box_reduce(&img, 3);
        assert_eq!((out.width(), out.height()), (341, 1));
        assert!(out.pixels().all(|p| p.0 == [7, 8, 9]));
        let thin = box_reduce(&RgbImage::new(2000, 1), 4);
        assert_eq!((thin.width(), thin.height()), (500, 1));
    }

    #[test]
    fn a_short_buffer_is_refused() {
        assert!(box_reduce_rgb(&[0; 11], 2, 2, 2).is_none());
        assert!(box_reduce_rgb(&[0; 12], 2, 2, 2).is_some());
    }

    #[test]
    fn a_uniform_image_stays_uniform_at_any_factor() {
        let img = RgbImage::from_pixel(1664, 928, image::Rgb([30, 60, 90]));
        let out = box_reduce(&img, reduction_factor(1664, 928, 512));
        assert!(out.width() <= 512 && out.height() <= 512);
        assert_eq!((out.width(), out.height()), (416, 232));
        assert!(out.pixels().all(|p| p.0 == [30, 60, 90]));
    }
}

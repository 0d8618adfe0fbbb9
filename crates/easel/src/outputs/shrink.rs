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
    if width == 0 || height == 0 {
        return None;
    }
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
    // Row sums of up to 257 bytes fit in 16 bits, which halves the memory traffic of the
    // first pass; only a hostile image (over 131 072 px on one side) needs 32.
    let out = if fy <= 257 {
        reduce::<u16>(src, stride, (fx, fy), (w, h))
    } else {
        reduce::<u32>(src, stride, (fx, fy), (w, h))
    };
    RgbImage::from_raw(w as u32, h as u32, out)
}

/// Box reduction of `src` (rows of `stride` bytes) by `fx` × `fy` blocks into `w` × `h`
/// pixels, summing rows in `A`, which must hold `fy` × 255.
fn reduce<A>(src: &[u8], stride: usize, (fx, fy): (usize, usize), (w, h): (usize, usize)) -> Vec<u8>
where
    A: Copy + Default + std::ops::AddAssign + From<u8> + Into<u32>,
{
    let mean = RoundedMean::of((fx * fy) as u32);
    let mut out = vec![0u8; w * h * 3];
    // Rows are summed first, element by element (which the compiler vectorises), then each
    // block's columns, written straight into the output row.
    let mut columns = vec![A::default(); stride];
    let bands = src.chunks_exact(stride * fy);
    for (band, out_row) in bands.zip(out.chunks_exact_mut(w * 3)) {
        columns.fill(A::default());
        for row in band.chunks_exact(stride) {
            for (sum, &value) in columns.iter_mut().zip(row) {
                *sum += A::from(value);
            }
        }
        for (block, px) in columns
            .chunks_exact(fx * 3)
            .zip(out_row.chunks_exact_mut(3))
        {
            let mut rgb = [0u32; 3];
            for column in block.chunks_exact(3) {
                rgb[0] += column[0].into();
                rgb[1] += column[1].into();
                rgb[2] += column[2].into();
            }
            px[0] = mean.of_sum(rgb[0]);
            px[1] = mean.of_sum(rgb[1]);
            px[2] = mean.of_sum(rgb[2]);
        }
    }
    out
}

/// Rounded division of block sums by the block's area, by multiplying with a fixed-point
/// reciprocal: one division per channel per output pixel was most of the shrink's time.
struct RoundedMean {
    area: u32,
    /// ⌈2⁴⁰ / area⌉: exact for every sum of `area` bytes while area < 2¹⁶ (the error of the
    /// reciprocal stays below one part in `area` of a unit over numerators < 2⁴⁰ / area).
    reciprocal: u64,
}

impl RoundedMean {
    const SHIFT: u32 = 40;

    fn of(area: u32) -> RoundedMean {
        let area = area.max(1);
        RoundedMean {
            area,
            reciprocal: (1u64 << Self::SHIFT).div_ceil(u64::from(area)),
        }
    }

    /// `sum / area` rounded half up, for a sum of `area` byte values.
    fn of_sum(&self, sum: u32) -> u8 {
        let n = u64::from(sum) + u64::from(self.area / 2);
        let mean = if self.area < 1 << 16 {
            (n * self.reciprocal) >> Self::SHIFT
        } else {
            n / u64::from(self.area)
        };
        mean.min(255) as u8
    }
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
    fn tall_blocks_sum_in_32_bits() {
        // 300 rows of white in one block: 300 × 255 overflows 16 bits.
        let img = RgbImage::from_pixel(600, 300, image::Rgb([255, 128, 1]));
        let out = box_reduce(&img, 300);
        assert_eq!((out.width(), out.height()), (2, 1));
        assert!(out.pixels().all(|p| p.0 == [255, 128, 1]));
    }

    #[test]
    fn the_reciprocal_divides_exactly() {
        for area in (1..=300).chain([1024, 4095, 4096, 65_535, 65_536, 70_000]) {
            let mean = RoundedMean::of(area);
            let step = (area / 64).max(1) as usize;
            for sum in (0..=255 * area).step_by(step).chain([255 * area]) {
                let want = ((sum + area / 2) / area) as u8;
                assert_eq!(mean.of_sum(sum), want, "area {area}, sum {sum}");
            }
        }
    }

    #[test]
    fn a_short_buffer_or_empty_image_is_refused() {
        assert!(box_reduce_rgb(&[0; 11], 2, 2, 2).is_none());
        assert!(box_reduce_rgb(&[], 0, 5, 3).is_none());
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

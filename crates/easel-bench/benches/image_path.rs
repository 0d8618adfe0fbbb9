//! The image path of one generated image, in-process: save it under the output root
//! (type sniffing, size check, sandboxed never-overwrite write) and make its inline
//! thumbnail (decode, shrink to 512 px, JPEG within the budget), for 1024² and 1664² PNGs
//! like the simulators serve.
//!
//! ```sh
//! cargo bench -p easel-bench --bench image_path
//! ```

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use easel::outputs::{OutputFormat, OutputRoot, PreviewMode, SaveRequest, plan_previews};

const SIDES: [u32; 2] = [1024, 1664];

/// A fresh stem per save: a clash would make easel probe `name-2`, `name-3`, … and the
/// benchmark would measure the probing instead of the save.
static NEXT: AtomicU64 = AtomicU64::new(0);

fn save_once(root: &OutputRoot, png: &[u8]) {
    let stem = format!("bench-{}", NEXT.fetch_add(1, Ordering::Relaxed));
    let saved = root
        .save(&SaveRequest {
            dir: Some("bench"),
            stem: &stem,
            bytes: png,
            format: OutputFormat::Original,
        })
        .expect("save");
    // Keep the disk from filling up over thousands of iterations.
    std::fs::remove_file(&saved.path).expect("remove");
    black_box(saved);
}

fn thumbnail_once(png: &[u8]) {
    let plan = plan_previews(&[png], PreviewMode::Thumbnail);
    assert_eq!(plan.previews.len(), 1, "{:?}", plan.note);
    black_box(plan);
}

fn image_path(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = OutputRoot::new(dir.path()).expect("output root");
    let mut group = c.benchmark_group("image_path");
    group.sample_size(30);
    group.measurement_time(Duration::from_secs(4));
    for side in SIDES {
        let png = easel_sim::picture::png(side, side, &format!("criterion {side}"));
        group.throughput(Throughput::Bytes(png.len() as u64));
        let id = format!("{side}x{side}");
        group.bench_with_input(BenchmarkId::new("save", &id), &png, |b, png| {
            b.iter(|| save_once(&root, png))
        });
        group.bench_with_input(BenchmarkId::new("thumbnail", &id), &png, |b, png| {
            b.iter(|| thumbnail_once(png))
        });
        group.bench_with_input(BenchmarkId::new("save+thumbnail", &id), &png, |b, png| {
            b.iter(|| {
                save_once(&root, png);
                thumbnail_once(png);
            })
        });
    }
    group.finish();
}

/// Where a thumbnail's time goes (see `docs/PERFORMANCE.md`): decoding the PNG, shrinking
/// it with `image`'s `thumbnail` as easel does today, shrinking it with an integer box
/// pre-reduction first (the recommended fix, prototyped here), and the JPEG encode.
fn thumbnail_parts(c: &mut Criterion) {
    let mut group = c.benchmark_group("thumbnail_parts");
    group.sample_size(30);
    group.measurement_time(Duration::from_secs(3));
    for side in SIDES {
        let png = easel_sim::picture::png(side, side, &format!("criterion {side}"));
        let img = image::load_from_memory(&png).expect("decode").into_rgb8();
        let small = image::DynamicImage::ImageRgb8(img.clone())
            .thumbnail(512, 512)
            .into_rgb8();
        let id = format!("{side}x{side}");
        group.bench_with_input(BenchmarkId::new("decode_png", &id), &png, |b, png| {
            b.iter(|| black_box(image::load_from_memory(png).expect("decode")))
        });
        group.bench_with_input(
            BenchmarkId::new("resize_image_thumbnail", &id),
            &img,
            |b, img| b.iter(|| black_box(image::imageops::thumbnail(img, 512, 512))),
        );
        group.bench_with_input(
            BenchmarkId::new("resize_box_then_thumbnail", &id),
            &img,
            |b, img| {
                b.iter(|| {
                    let reduced = box_reduce(img, (side / 512).max(1));
                    black_box(image::imageops::thumbnail(&reduced, 512, 512))
                })
            },
        );
        group.bench_with_input(
            BenchmarkId::new("resize_box_then_triangle", &id),
            &img,
            |b, img| b.iter(|| black_box(fast_thumbnail(img, 512))),
        );
        // One box pass by ceil(side / 512): at most 512 px (1024 → 512, 1664 → 416).
        group.bench_with_input(BenchmarkId::new("resize_box_only", &id), &img, |b, img| {
            b.iter(|| black_box(box_reduce(img, side.div_ceil(512))))
        });
        group.bench_with_input(
            BenchmarkId::new("jpeg_encoder_crate_q80_of_512", &id),
            &small,
            |b, small| {
                b.iter(|| {
                    let mut out = Vec::new();
                    jpeg_encoder::Encoder::new(&mut out, 80)
                        .encode(
                            small.as_raw(),
                            small.width() as u16,
                            small.height() as u16,
                            jpeg_encoder::ColorType::Rgb,
                        )
                        .expect("jpeg");
                    black_box(out)
                })
            },
        );
        group.bench_with_input(
            BenchmarkId::new("jpeg_q80_of_512", &id),
            &small,
            |b, small| {
                b.iter(|| {
                    let mut out = Vec::new();
                    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 80)
                        .encode_image(small)
                        .expect("jpeg");
                    black_box(out)
                })
            },
        );
    }
    group.finish();
}

/// The recommended thumbnail resize: an integer box reduction to the smallest size still at
/// least `max_side`, then (only if needed) a bilinear resize for the last < 2x step.
fn fast_thumbnail(img: &image::RgbImage, max_side: u32) -> image::RgbImage {
    let side = img.width().max(img.height());
    let reduced = box_reduce(img, (side / max_side).max(1));
    let side = reduced.width().max(reduced.height());
    if side <= max_side {
        return reduced;
    }
    let (w, h) = (
        (u64::from(reduced.width()) * u64::from(max_side) / u64::from(side)).max(1) as u32,
        (u64::from(reduced.height()) * u64::from(max_side) / u64::from(side)).max(1) as u32,
    );
    image::imageops::resize(&reduced, w, h, image::imageops::FilterType::Triangle)
}

/// Averages `factor` x `factor` blocks with integer sums: a cheap exact downscale by an
/// integer factor before the precise (and per-pixel expensive) final resize.
fn box_reduce(img: &image::RgbImage, factor: u32) -> image::RgbImage {
    if factor <= 1 {
        return img.clone();
    }
    let (w, h) = (img.width() / factor, img.height() / factor);
    let src = img.as_raw();
    let stride = img.width() as usize * 3;
    let area = factor * factor;
    let mut out = Vec::with_capacity(w as usize * h as usize * 3);
    let mut sums = vec![0u32; w as usize * 3];
    for y in 0..h as usize {
        sums.iter_mut().for_each(|s| *s = 0);
        for row in 0..factor as usize {
            let line = &src[(y * factor as usize + row) * stride..][..stride];
            for (x, sum) in sums.chunks_exact_mut(3).enumerate() {
                let start = x * factor as usize * 3;
                for px in line[start..start + factor as usize * 3].chunks_exact(3) {
                    sum[0] += u32::from(px[0]);
                    sum[1] += u32::from(px[1]);
                    sum[2] += u32::from(px[2]);
                }
            }
        }
        out.extend(sums.iter().map(|s| ((s + area / 2) / area) as u8));
    }
    image::RgbImage::from_raw(w, h, out).expect("buffer size")
}

/// Start-up work that `easel serve` does before it answers `initialize`: building one HTTP
/// client (rustls with the platform verifier reads the system's root certificates). easel
/// builds two, one per backend.
fn startup_parts(c: &mut Criterion) {
    easel::logging::install_tls_provider();
    let mut group = c.benchmark_group("startup_parts");
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(3));
    group.bench_function("http_client_build", |b| {
        b.iter(|| black_box(easel::backend::http::client(Duration::from_secs(60)).expect("client")))
    });
    group.finish();
}

criterion_group!(benches, image_path, thumbnail_parts, startup_parts);
criterion_main!(benches);

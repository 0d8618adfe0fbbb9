//! The image path of one generated image, in-process: save it under the output root
//! (type sniffing, size check, sandboxed never-overwrite write) and make its inline
//! thumbnail (decode, shrink to 512 px, JPEG within the budget), for 1024² and 1664² PNGs
//! like the simulators serve.
//!
//! ```sh
//! cargo bench -p easel-bench --bench image_path
//! ```

// A benchmark of fixed inputs has nothing to recover from: failing loudly is right here (the
// workspace denies unwrap, expect and panic in production code).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use easel::outputs::{
    OutputFormat, OutputRoot, PreviewMode, SaveRequest, THUMBNAIL_MAX_SIDE, box_reduce,
    plan_previews, reduction_factor,
};

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

/// Where a thumbnail's time goes (see `docs/PERFORMANCE.md`): decoding the PNG, shrinking it
/// (easel's integer box reduction, beside `image`'s `thumbnail` that easel used before), and
/// the JPEG encode (`jpeg-encoder`, which easel uses, beside `image`'s encoder).
fn thumbnail_parts(c: &mut Criterion) {
    let mut group = c.benchmark_group("thumbnail_parts");
    group.sample_size(30);
    group.measurement_time(Duration::from_secs(3));
    for side in SIDES {
        let png = easel_sim::picture::png(side, side, &format!("criterion {side}"));
        let img = image::load_from_memory(&png).expect("decode").into_rgb8();
        let factor = reduction_factor(side, side, THUMBNAIL_MAX_SIDE);
        let small = box_reduce(&img, factor);
        let id = format!("{side}x{side}");
        group.bench_with_input(BenchmarkId::new("decode_png", &id), &png, |b, png| {
            b.iter(|| black_box(image::load_from_memory(png).expect("decode")))
        });
        // By ceil(side / 512): 1024 → 512, 1664 → 416.
        group.bench_with_input(BenchmarkId::new("resize_box", &id), &img, |b, img| {
            b.iter(|| black_box(box_reduce(img, factor)))
        });
        group.bench_with_input(
            BenchmarkId::new("resize_image_thumbnail", &id),
            &img,
            |b, img| b.iter(|| black_box(image::imageops::thumbnail(img, 512, 512))),
        );
        group.bench_with_input(
            BenchmarkId::new("jpeg_encoder_crate_q80", &id),
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
            BenchmarkId::new("jpeg_image_crate_q80", &id),
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

criterion_group!(benches, image_path, thumbnail_parts);
criterion_main!(benches);

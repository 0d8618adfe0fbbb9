//! Animations and videos of the pictures [`picture`](crate::picture) draws, one frame per
//! key, for simulated nodes that save them (ComfyUI's `SaveAnimatedWEBP`, `SaveAnimatedPNG`,
//! `SaveWEBM`, `SaveVideo`, VideoHelperSuite's `VHS_VideoCombine`).
//!
//! Animated WebP and APNG are real, decodable files (each frame a lossless WebP or a PNG of
//! the picture). MP4 and WebM have real containers (ISO BMFF boxes with the track's size;
//! an EBML document with the video track's pixel size) around sample data that is not
//! encoded video: no H.264 or VP9 encoder is at hand, and clients only store these files,
//! read their container and serve them on.

use crate::picture;

/// An animated WebP (`VP8X` with the animation flag, `ANIM`, one `ANMF` per frame).
pub fn animated_webp(width: u32, height: u32, keys: &[String], fps: f64) -> Vec<u8> {
    let (width, height) = (width.max(1), height.max(1));
    let duration = frame_ms(fps);
    let mut chunks = Vec::new();
    let mut vp8x = vec![0x02, 0, 0, 0];
    vp8x.extend_from_slice(&u24(width - 1));
    vp8x.extend_from_slice(&u24(height - 1));
    chunks.extend(riff_chunk(b"VP8X", &vp8x));
    // Background colour (white), loop forever.
    chunks.extend(riff_chunk(b"ANIM", &[255, 255, 255, 255, 0, 0]));
    for key in keys {
        let still = picture::webp(width, height, key);
        // A still lossless WebP is `RIFF size WEBP` and one `VP8L` chunk: keep the chunk.
        let frame = still.get(12..).unwrap_or_default();
        let mut anmf = Vec::with_capacity(16 + frame.len());
        anmf.extend_from_slice(&u24(0));
        anmf.extend_from_slice(&u24(0));
        anmf.extend_from_slice(&u24(width - 1));
        anmf.extend_from_slice(&u24(height - 1));
        anmf.extend_from_slice(&u24(duration));
        // Do not blend, do not dispose: each frame covers the canvas.
        anmf.push(0x02);
        anmf.extend_from_slice(frame);
        chunks.extend(riff_chunk(b"ANMF", &anmf));
    }
    let mut out = b"RIFF".to_vec();
    out.extend_from_slice(&((4 + chunks.len()) as u32).to_le_bytes());
    out.extend_from_slice(b"WEBP");
    out.extend(chunks);
    out
}

/// An APNG: the first frame is also the default image, the others are `fdAT` chunks.
pub fn apng(width: u32, height: u32, keys: &[String], fps: f64) -> Vec<u8> {
    let (width, height) = (width.max(1), height.max(1));
    let frames: Vec<Vec<u8>> = keys
        .iter()
        .map(|k| picture::png(width, height, k))
        .collect();
    let Some(first) = frames.first() else {
        return picture::png(width, height, "");
    };
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    for (kind, data) in png_chunks(first) {
        if &kind == b"IHDR" {
            out.extend(png_chunk(b"IHDR", data));
        }
    }
    let mut actl = (frames.len() as u32).to_be_bytes().to_vec();
    actl.extend_from_slice(&0u32.to_be_bytes());
    out.extend(png_chunk(b"acTL", &actl));
    let delay = frame_ms(fps).min(u32::from(u16::MAX)) as u16;
    let mut sequence = 0u32;
    for (i, frame) in frames.iter().enumerate() {
        let mut fctl = sequence.to_be_bytes().to_vec();
        sequence += 1;
        for v in [width, height, 0, 0] {
            fctl.extend_from_slice(&v.to_be_bytes());
        }
        fctl.extend_from_slice(&delay.to_be_bytes());
        fctl.extend_from_slice(&1000u16.to_be_bytes());
        fctl.extend_from_slice(&[0, 0]);
        out.extend(png_chunk(b"fcTL", &fctl));
        for (kind, data) in png_chunks(frame) {
            if &kind != b"IDAT" {
                continue;
            }
            if i == 0 {
                out.extend(png_chunk(b"IDAT", data));
            } else {
                let mut fdat = sequence.to_be_bytes().to_vec();
                sequence += 1;
                fdat.extend_from_slice(data);
                out.extend(png_chunk(b"fdAT", &fdat));
            }
        }
    }
    out.extend(png_chunk(b"IEND", &[]));
    out
}

/// An MP4 container (`ftyp`, `moov` with `mvhd` and one video `trak` whose `tkhd` gives the
/// size, `mdat`); see the module docs about its samples.
pub fn mp4(width: u32, height: u32, keys: &[String], fps: f64) -> Vec<u8> {
    let duration = frame_ms(fps).saturating_mul(keys.len() as u32);
    let mut ftyp = b"isom".to_vec();
    ftyp.extend_from_slice(&0x200u32.to_be_bytes());
    for brand in [b"isom", b"iso2", b"avc1", b"mp41"] {
        ftyp.extend_from_slice(brand);
    }
    let mut mvhd = vec![0u8; 4];
    mvhd.extend_from_slice(&[0; 8]);
    mvhd.extend_from_slice(&1000u32.to_be_bytes());
    mvhd.extend_from_slice(&duration.to_be_bytes());
    mvhd.extend_from_slice(&0x0001_0000u32.to_be_bytes());
    mvhd.extend_from_slice(&0x0100u16.to_be_bytes());
    mvhd.extend_from_slice(&[0; 10]);
    mvhd.extend_from_slice(&MATRIX);
    mvhd.extend_from_slice(&[0; 24]);
    mvhd.extend_from_slice(&2u32.to_be_bytes());
    let mut tkhd = vec![0, 0, 0, 3];
    tkhd.extend_from_slice(&[0; 8]);
    tkhd.extend_from_slice(&1u32.to_be_bytes());
    tkhd.extend_from_slice(&[0; 4]);
    tkhd.extend_from_slice(&duration.to_be_bytes());
    tkhd.extend_from_slice(&[0; 8]);
    tkhd.extend_from_slice(&[0; 8]);
    tkhd.extend_from_slice(&MATRIX);
    tkhd.extend_from_slice(&(width.max(1) << 16).to_be_bytes());
    tkhd.extend_from_slice(&(height.max(1) << 16).to_be_bytes());
    let trak = iso_box(b"trak", &iso_box(b"tkhd", &tkhd));
    let mut moov = iso_box(b"mvhd", &mvhd);
    moov.extend(trak);
    let mut out = iso_box(b"ftyp", &ftyp);
    out.extend(iso_box(b"moov", &moov));
    out.extend(iso_box(b"mdat", &samples(keys)));
    out
}

/// A WebM document (EBML header with DocType `webm`, a segment with one VP9 video track of
/// the given size and one cluster of blocks); see the module docs about its blocks.
pub fn webm(width: u32, height: u32, keys: &[String], fps: f64) -> Vec<u8> {
    let header = [
        ebml(&[0x42, 0x86], &uint(1)),
        ebml(&[0x42, 0xF7], &uint(1)),
        ebml(&[0x42, 0xF2], &uint(4)),
        ebml(&[0x42, 0xF3], &uint(8)),
        ebml(&[0x42, 0x82], b"webm"),
        ebml(&[0x42, 0x87], &uint(4)),
        ebml(&[0x42, 0x85], &uint(2)),
    ]
    .concat();
    let info = [
        ebml(&[0x2A, 0xD7, 0xB1], &uint(1_000_000)),
        ebml(&[0x4D, 0x80], b"easel-sim"),
        ebml(&[0x57, 0x41], b"easel-sim"),
    ]
    .concat();
    let video = [
        ebml(&[0xB0], &uint(u64::from(width.max(1)))),
        ebml(&[0xBA], &uint(u64::from(height.max(1)))),
    ]
    .concat();
    let track = [
        ebml(&[0xD7], &uint(1)),
        ebml(&[0x73, 0xC5], &uint(1)),
        ebml(&[0x83], &uint(1)),
        ebml(&[0x86], b"V_VP9"),
        ebml(&[0xE0], &video),
    ]
    .concat();
    let step = frame_ms(fps);
    let mut cluster = ebml(&[0xE7], &uint(0));
    for (i, key) in keys.iter().enumerate() {
        let mut block = vec![0x81];
        let at = (step.saturating_mul(i as u32)).min(i16::MAX as u32) as i16;
        block.extend_from_slice(&at.to_be_bytes());
        block.push(0x80);
        block.extend_from_slice(&fnv(key.as_bytes()).to_be_bytes());
        cluster.extend(ebml(&[0xA3], &block));
    }
    let segment = [
        ebml(&[0x15, 0x49, 0xA9, 0x66], &info),
        ebml(&[0x16, 0x54, 0xAE, 0x6B], &ebml(&[0xAE], &track)),
        ebml(&[0x1F, 0x43, 0xB6, 0x75], &cluster),
    ]
    .concat();
    let mut out = ebml(&[0x1A, 0x45, 0xDF, 0xA3], &header);
    out.extend(ebml(&[0x18, 0x53, 0x80, 0x67], &segment));
    out
}

/// Milliseconds per frame at `fps` (at least 1).
fn frame_ms(fps: f64) -> u32 {
    if fps.is_finite() && fps > 0.0 {
        ((1000.0 / fps).round() as u32).max(1)
    } else {
        1000
    }
}

/// The identity matrix of `mvhd` and `tkhd`.
const MATRIX: [u8; 36] = [
    0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0x40, 0, 0, 0,
];

/// Stand-in sample data: one hash per frame, so different frames give different files.
fn samples(keys: &[String]) -> Vec<u8> {
    keys.iter()
        .flat_map(|k| fnv(k.as_bytes()).to_be_bytes())
        .collect()
}

/// FNV-1a, spelled out so the bytes are the same everywhere.
fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn u24(v: u32) -> [u8; 3] {
    let b = v.to_le_bytes();
    [b[0], b[1], b[2]]
}

fn riff_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut out = kind.to_vec();
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(data);
    if data.len() % 2 == 1 {
        out.push(0);
    }
    out
}

fn iso_box(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
    let mut out = ((8 + body.len()) as u32).to_be_bytes().to_vec();
    out.extend_from_slice(kind);
    out.extend_from_slice(body);
    out
}

/// An EBML element with an 8-byte size field.
fn ebml(id: &[u8], body: &[u8]) -> Vec<u8> {
    let mut out = id.to_vec();
    out.push(0x01);
    out.extend_from_slice(&(body.len() as u64).to_be_bytes()[1..]);
    out.extend_from_slice(body);
    out
}

/// An unsigned integer in as few big-endian bytes as it needs.
fn uint(v: u64) -> Vec<u8> {
    let bytes = v.to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count().min(7);
    bytes[skip..].to_vec()
}

/// The chunks of a PNG, as (type, data).
fn png_chunks(png: &[u8]) -> Vec<([u8; 4], &[u8])> {
    let mut out = Vec::new();
    let mut at = 8;
    while let Some(head) = png.get(at..at + 8) {
        let len = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
        let kind = [head[4], head[5], head[6], head[7]];
        let Some(data) = png.get(at + 8..at + 8 + len) else {
            break;
        };
        out.push((kind, data));
        at += 12 + len;
    }
    out
}

fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut out = (data.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let mut crc_input = kind.to_vec();
    crc_input.extend_from_slice(data);
    out.extend_from_slice(&crc32(&crc_input).to_be_bytes());
    out
}

/// CRC-32 (IEEE), as PNG chunks carry it.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("k{i}")).collect()
    }

    #[test]
    fn animated_webp_and_apng_decode_to_their_first_frame() {
        for (bytes, format) in [
            (
                animated_webp(24, 16, &keys(3), 8.0),
                image::ImageFormat::WebP,
            ),
            (apng(24, 16, &keys(3), 8.0), image::ImageFormat::Png),
        ] {
            let img = image::load_from_memory_with_format(&bytes, format).expect("decodes");
            assert_eq!((img.width(), img.height()), (24, 16), "{format:?}");
        }
    }

    #[test]
    fn crc_matches_a_known_value() {
        assert_eq!(crc32(b"IEND"), 0xAE42_6082);
    }
}

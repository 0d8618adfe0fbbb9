//! Decompression bombs: tiny, valid PNG files whose pixels take hundreds of megabytes once
//! decoded, the way a hostile or broken server could answer. Made directly (a deflate stream
//! of back-references to one zero byte) so that building a 11000² bomb (3 MiB for 484 MiB
//! of pixels) costs milliseconds instead of compressing half a gigabyte.

/// A valid PNG of `width`×`height` all-zero pixels (transparent black, or black) of PNG
/// colour type `colour` (0 grey, 2 RGB, 4 grey+alpha, 6 RGBA) at `depth` bits (8 or 16).
pub fn bomb_png(width: u32, height: u32, colour: u8, depth: u8) -> Vec<u8> {
    let channels: u64 = match colour {
        0 => 1,
        4 => 2,
        2 => 3,
        _ => 4,
    };
    let row = 1 + u64::from(width) * channels * u64::from(depth) / 8;
    let raw = row * u64::from(height);
    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[depth, colour, 0, 0, 0]);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    chunk(&mut png, b"IHDR", &ihdr);
    chunk(&mut png, b"IDAT", &zlib_zeros(raw));
    chunk(&mut png, b"IEND", &[]);
    png
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut table = [0u32; 256];
    for (n, entry) in table.iter_mut().enumerate() {
        let mut c = n as u32;
        for _ in 0..8 {
            c = if c & 1 == 1 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
        }
        *entry = c;
    }
    !bytes.iter().fold(!0u32, |c, &b| {
        table[((c ^ u32::from(b)) & 0xFF) as usize] ^ (c >> 8)
    })
}

/// A zlib stream of `n` zero bytes: one fixed-Huffman block, a literal 0, then matches of
/// length 258 (and a shorter last one) at distance 1.
fn zlib_zeros(n: u64) -> Vec<u8> {
    let mut bits = Bits::default();
    bits.out.extend_from_slice(&[0x78, 0xDA]);
    bits.put(1, 1); // last block
    bits.put(1, 2); // fixed Huffman
    if n > 0 {
        bits.huffman(0b0011_0000, 8); // literal 0
    }
    let mut left = n.saturating_sub(1);
    while left > 0 {
        let len = left.min(258);
        if len < 3 {
            for _ in 0..len {
                bits.huffman(0b0011_0000, 8);
            }
        } else {
            bits.length(len as u32);
            bits.put(0, 5); // distance code 0: distance 1
        }
        left -= len;
    }
    bits.huffman(0, 7); // end of block (code 256)
    bits.flush();
    let (a, b) = (1u32, (n % 65521) as u32);
    bits.out.extend_from_slice(&((b << 16) | a).to_be_bytes());
    bits.out
}

#[derive(Default)]
struct Bits {
    out: Vec<u8>,
    acc: u32,
    count: u32,
}

impl Bits {
    /// `count` bits of `value`, least significant first (deflate's order for extra bits).
    fn put(&mut self, value: u32, count: u32) {
        for i in 0..count {
            self.acc |= ((value >> i) & 1) << self.count;
            self.count += 1;
            if self.count == 8 {
                self.out.push(self.acc as u8);
                self.acc = 0;
                self.count = 0;
            }
        }
    }

    /// A Huffman code, most significant bit first.
    fn huffman(&mut self, code: u32, len: u32) {
        for i in (0..len).rev() {
            self.put((code >> i) & 1, 1);
        }
    }

    /// A match length of 3..=258 in the fixed code.
    fn length(&mut self, len: u32) {
        const BASES: [(u32, u32); 29] = [
            (3, 0),
            (4, 0),
            (5, 0),
            (6, 0),
            (7, 0),
            (8, 0),
            (9, 0),
            (10, 0),
            (11, 1),
            (13, 1),
            (15, 1),
            (17, 1),
            (19, 2),
            (23, 2),
            (27, 2),
            (31, 2),
            (35, 3),
            (43, 3),
            (51, 3),
            (59, 3),
            (67, 4),
            (83, 4),
            (99, 4),
            (115, 4),
            (131, 5),
            (163, 5),
            (195, 5),
            (227, 5),
            (258, 0),
        ];
        let index = BASES
            .iter()
            .rposition(|&(base, _)| base <= len)
            .unwrap_or(0);
        let (base, extra) = BASES[index];
        let symbol = 257 + index as u32;
        // Fixed code: 256..=279 are 7 bits from 0; 280..=287 are 8 bits from 0b1100_0000.
        if symbol <= 279 {
            self.huffman(symbol - 256, 7);
        } else {
            self.huffman(0b1100_0000 + (symbol - 280), 8);
        }
        self.put(len - base, extra);
    }

    fn flush(&mut self) {
        if self.count > 0 {
            self.out.push(self.acc as u8);
            self.acc = 0;
            self.count = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bombs_are_small_valid_pngs() {
        let png = bomb_png(300, 200, 6, 8);
        let img = image::load_from_memory(&png).expect("decodes");
        assert_eq!((img.width(), img.height()), (300, 200));
        assert!(img.to_rgba8().pixels().all(|p| p.0 == [0, 0, 0, 0]));
        let big = bomb_png(11_000, 11_000, 6, 8);
        // Fixed Huffman codes cost 13 bits per 258 zeros: 3 MiB for 484 MiB of pixels.
        assert!(big.len() < 4 << 20, "{} bytes", big.len());
    }
}

//! Decode buffers kept between previews.
//!
//! A decoded 1024² image is 3 MiB. Allocating one per preview made glibc keep the freed
//! buffers in its per-thread arenas (its mmap threshold rises to the largest block freed), so
//! a burst of 256 results peaked at 110 MiB resident. Previews run at most one per core at a
//! time, so a few reused buffers are all they need.

use std::sync::Mutex;

/// Buffers kept for reuse; previews beyond this many at once allocate and free their own.
const KEPT: usize = 8;
/// Larger buffers (images over ~2300² RGB) are freed after use rather than kept.
const MAX_KEPT_BYTES: usize = 16 * 1024 * 1024;

static POOL: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());

/// A buffer to decode into: a kept one if there is one (its contents are stale and get
/// overwritten), else an empty one.
pub fn take() -> Vec<u8> {
    POOL.lock()
        .ok()
        .and_then(|mut pool| pool.pop())
        .unwrap_or_default()
}

/// Returns a buffer for reuse, unless enough are kept already or it is too large to keep.
pub fn give_back(buf: Vec<u8>) {
    if buf.capacity() > MAX_KEPT_BYTES {
        return;
    }
    if let Ok(mut pool) = POOL.lock()
        && pool.len() < KEPT
    {
        pool.push(buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_are_reused_and_huge_ones_are_not_kept() {
        let mut buf = take();
        buf.resize(1024, 7);
        let address = buf.as_ptr();
        give_back(buf);
        // Other tests may take buffers concurrently; ours is among those kept.
        let mut seen = Vec::new();
        let mut found = false;
        for _ in 0..KEPT {
            let b = take();
            found |= b.as_ptr() == address && b.len() == 1024;
            seen.push(b);
        }
        assert!(found, "the returned buffer was kept for reuse");
        seen.into_iter().for_each(give_back);

        let huge = vec![0u8; MAX_KEPT_BYTES + 1];
        let address = huge.as_ptr();
        give_back(huge);
        let kept: Vec<_> = (0..KEPT).map(|_| take()).collect();
        assert!(kept.iter().all(|b| b.as_ptr() != address));
        kept.into_iter().for_each(give_back);
    }
}

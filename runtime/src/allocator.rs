//! The global allocator of Hermes' binaries: mimalloc, asked through its plain entry
//! points whenever they already give the alignment Rust asks for.
//!
//! Why mimalloc instead of glibc's malloc: under load, glibc's `malloc`/`free` (with
//! `malloc_consolidate` and `unlink_chunk`) took about 16 % of the gateway's samples, a
//! third of its user-space time (`perf record` under `wrk` with the counting publisher),
//! as the hit path allocates small, short-lived strings and maps per event; and a quarter
//! of the operator's compile step at 10,000 Tags, which builds and drops a config of
//! millions of small values. Built with `no_thp`: with transparent huge pages on
//! `madvise` (Debian's default) mimalloc asks for huge pages and the idle gateway grew
//! from 12 to 22 MiB resident.
//!
//! Why not `mimalloc::MiMalloc`: it passes every request to `mi_malloc_aligned`, even
//! the `align ≤ 16` ones that are nearly all of Rust's. mimalloc v3 serves such a request
//! on its fast path only when a free block of the size's bin happens to be aligned and the
//! size is at most 1 KiB; otherwise (a 1.5 KiB buffer, a bin just emptied) it takes
//! `mi_theap_malloc_zero_aligned_at_generic`, which over-allocates. Under the load
//! benchmark's hit mix that was five requests in every hit, about 1,000 instructions a
//! request. The same change is proposed upstream (purpleprotocol/mimalloc_rust#170).
//!
//! The contract kept: a block from `mi_malloc(size)` comes from a bin whose block size is
//! a multiple of 8 (of 16 when the size is a multiple of 16) on a page whose first block
//! is 16-aligned, so it is aligned to any `align ≤ 16` that divides `size`. Everything
//! else (a larger alignment, or a size that is not a multiple of it) keeps the `_aligned`
//! entry points. `tests::every_layout_gets_its_alignment` checks it.

use std::alloc::{GlobalAlloc, Layout};
use std::ffi::c_void;

use libmimalloc_sys::{
    mi_free, mi_malloc, mi_malloc_aligned, mi_realloc, mi_realloc_aligned, mi_zalloc,
    mi_zalloc_aligned,
};

/// The largest alignment a plain `mi_malloc` block is sure to have (mimalloc's
/// `MI_MAX_ALIGN_SIZE`), when its size is a multiple of that alignment.
const PLAIN_ALIGN: usize = 16;

/// mimalloc, through `mi_malloc`/`mi_zalloc`/`mi_realloc` where they suffice.
#[derive(Debug, Clone, Copy, Default)]
pub struct Allocator;

/// Whether the plain entry points give `size` bytes aligned to `align`.
#[inline]
fn plain(size: usize, align: usize) -> bool {
    align <= PLAIN_ALIGN && size.is_multiple_of(align)
}

// SAFETY: every block comes from mimalloc and goes back to it through `mi_free`, which
// frees blocks of either family; the alignment each path gives is the module's contract.
unsafe impl GlobalAlloc for Allocator {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: mimalloc's allocation functions take any size and alignment.
        unsafe {
            if plain(layout.size(), layout.align()) {
                mi_malloc(layout.size()).cast()
            } else {
                mi_malloc_aligned(layout.size(), layout.align()).cast()
            }
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as in `alloc`.
        unsafe {
            if plain(layout.size(), layout.align()) {
                mi_zalloc(layout.size()).cast()
            } else {
                mi_zalloc_aligned(layout.size(), layout.align()).cast()
            }
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        // SAFETY: `ptr` came from this allocator, so from mimalloc.
        unsafe { mi_free(ptr.cast::<c_void>()) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr` came from this allocator; mimalloc's reallocation keeps the
        // contents and frees the old block when it moves.
        unsafe {
            if plain(new_size, layout.align()) {
                mi_realloc(ptr.cast::<c_void>(), new_size).cast()
            } else {
                mi_realloc_aligned(ptr.cast::<c_void>(), new_size, layout.align()).cast()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sizes around every bin edge up to a few pages, and the alignments Rust types ask for.
    fn layouts() -> impl Iterator<Item = Layout> {
        let sizes = (1..=1100).chain((1100..70_000).step_by(97)).chain([
            4096,
            8192,
            65_536,
            1 << 20,
            (1 << 20) + 8,
        ]);
        sizes.flat_map(|size| {
            [1usize, 2, 4, 8, 16, 32, 64, 128, 4096]
                .into_iter()
                .filter_map(move |align| Layout::from_size_align(size, align).ok())
        })
    }

    #[test]
    fn every_layout_gets_its_alignment() {
        let allocator = Allocator;
        // Many blocks alive at once, so later ones come from partly used pages.
        let mut live = Vec::new();
        for layout in layouts() {
            // SAFETY: the layouts have non-zero sizes; each block is freed below with its
            // own layout.
            unsafe {
                let block = allocator.alloc(layout);
                assert!(!block.is_null(), "{layout:?}");
                assert_eq!(block as usize % layout.align(), 0, "{layout:?}");
                block.write_bytes(0xa5, layout.size());
                let zeroed = allocator.alloc_zeroed(layout);
                assert_eq!(zeroed as usize % layout.align(), 0, "{layout:?}");
                assert!(
                    std::slice::from_raw_parts(zeroed, layout.size())
                        .iter()
                        .all(|&b| b == 0),
                    "{layout:?} not zeroed"
                );
                live.push((block, layout));
                live.push((zeroed, layout));
            }
            if live.len() > 4096 {
                for (block, layout) in live.drain(..2048) {
                    // SAFETY: allocated above with this layout, freed once.
                    unsafe { allocator.dealloc(block, layout) };
                }
            }
        }
        for (block, layout) in live {
            // SAFETY: as above.
            unsafe { allocator.dealloc(block, layout) };
        }
    }

    #[test]
    fn realloc_keeps_contents_and_alignment() {
        let allocator = Allocator;
        for align in [1usize, 8, 16, 64] {
            let mut layout = Layout::from_size_align(24.max(align), align).unwrap();
            // SAFETY: the block is written within its size, grown with its current layout
            // and freed once with its last one.
            unsafe {
                let mut block = allocator.alloc(layout);
                for (i, byte) in (0..layout.size()).enumerate() {
                    block.add(byte).write(i as u8);
                }
                let first = layout.size();
                for new_size in [40, 1000, 5000, 100_000, 48] {
                    let new_size = new_size.max(align) / align * align;
                    block = allocator.realloc(block, layout, new_size);
                    assert_eq!(block as usize % align, 0, "align {align}, size {new_size}");
                    let kept = first.min(new_size);
                    for i in 0..kept {
                        assert_eq!(*block.add(i), i as u8, "align {align}, size {new_size}");
                    }
                    layout = Layout::from_size_align(new_size, align).unwrap();
                }
                allocator.dealloc(block, layout);
            }
        }
    }
}

//! glibc allocator tunables for the two kinds of process this binary runs:
//! a load generator that wants freed memory kept, and a server whose
//! memory budget only bounds resident memory if freed memory goes back.
//!
//! Both set glibc's thresholds explicitly, which also turns off its
//! dynamic mmap threshold: after the first large buffer is freed, glibc
//! raises that threshold to the buffer's size, and from then on large
//! buffers come from the heap, where freeing them returns nothing to the
//! kernel. Other platforms and allocators are left as they are.

/// Keeps memory that the process frees for reuse instead of giving it
/// back to the OS (`switchboard bench`). With large messages every payload
/// buffer is freed and allocated again; glibc's defaults return such
/// blocks (mmap'd, or trimmed off the heap top) to the kernel, and a
/// profile of the 1 MiB scenario showed a quarter of the load generator's
/// CPU in page faults and zeroing the same pages again. The peak working
/// set is only the messages in flight, so holding on to it costs little.
pub(crate) fn keep_freed_memory() {
    // glibc's maximum mmap threshold on 64-bit; a 1 GiB trim threshold.
    set_thresholds(32 << 20, 1 << 30);
}

/// Gives large freed buffers back to the kernel at once (`switchboard
/// serve` with a memory budget). The budget charges the bytes a peer makes
/// the server hold (a frame being read, inflation, outbound queues) and
/// refuses what would cross it, but the charge is released when the buffer
/// is freed: if the allocator then keeps the pages, resident memory grows
/// past the budget anyway. With glibc's dynamic threshold, 100 deflate
/// bombs at once against a 64 MiB budget peaked 73-81 MiB above the idle
/// server (`crates/cli/tests/serve_memory_budget.rs`); with blocks of
/// 128 KiB and more mmap'd and the heap top trimmed past 128 KiB, 22-50
/// MiB. The cost is a page-fault pass over each large buffer the server
/// allocates, which a server holding messages of that size pays anyway.
pub(crate) fn return_freed_memory() {
    set_thresholds(128 << 10, 128 << 10);
}

fn set_thresholds(mmap_threshold: i32, trim_threshold: i32) {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallopt only sets glibc allocator tunables; it takes the
        // allocator's own lock and is safe to call at any time, from any
        // thread. A rejected value (return 0) leaves the default in place,
        // which is still correct, only with other memory behaviour.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, mmap_threshold);
            libc::mallopt(libc::M_TRIM_THRESHOLD, trim_threshold);
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    let _ = (mmap_threshold, trim_threshold);
}

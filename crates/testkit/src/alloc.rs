//! A global allocator that forwards to [`System`] and reports every change
//! of live heap bytes to a meter, for tests and examples that measure what
//! a connection holds.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicIsize, Ordering};

/// Receives each change of live heap bytes. It runs inside the allocator,
/// so it must not allocate.
pub trait AllocationMeter: Sync {
    /// `delta` bytes were allocated (positive) or freed (negative).
    fn record(&self, delta: isize);
}

/// Forwards every call to [`System`] and reports the size changes to `M`.
/// Install it with `#[global_allocator]`.
pub struct CountingAllocator<M> {
    meter: M,
}

impl<M> CountingAllocator<M> {
    /// An allocator reporting to `meter`; `const` so it can be a `static`.
    pub const fn new(meter: M) -> Self {
        Self { meter }
    }

    /// The meter, to read the figures.
    pub fn meter(&self) -> &M {
        &self.meter
    }
}

// SAFETY: every call is forwarded unchanged to the system allocator, which
// upholds the GlobalAlloc contract; the meter does not allocate (see
// `AllocationMeter`).
unsafe impl<M: AllocationMeter> GlobalAlloc for CountingAllocator<M> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same layout contract as the caller's.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            self.meter.record(layout.size() as isize);
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same layout contract as the caller's.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            self.meter.record(layout.size() as isize);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` with `layout`.
        unsafe { System.dealloc(ptr, layout) };
        self.meter.record(-(layout.size() as isize));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr` was allocated by `System` with `layout`.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            self.meter
                .record(new_size as isize - layout.size() as isize);
        }
        new
    }
}

/// Live and peak heap bytes of the whole process.
#[derive(Debug, Default)]
pub struct ProcessMeter {
    live: AtomicIsize,
    peak: AtomicIsize,
}

impl ProcessMeter {
    /// Zero live and peak bytes; `const` for the allocator's `static`.
    pub const fn new() -> Self {
        Self {
            live: AtomicIsize::new(0),
            peak: AtomicIsize::new(0),
        }
    }

    /// Bytes allocated and not yet freed.
    pub fn live(&self) -> isize {
        self.live.load(Ordering::Relaxed)
    }

    /// The most live bytes since the last [`ProcessMeter::reset_peak`].
    pub fn peak(&self) -> isize {
        self.peak.load(Ordering::Relaxed)
    }

    /// Starts a new peak measurement from the current live bytes.
    pub fn reset_peak(&self) {
        self.peak.store(self.live(), Ordering::Relaxed);
    }
}

impl AllocationMeter for ProcessMeter {
    fn record(&self, delta: isize) {
        let now = self.live.fetch_add(delta, Ordering::Relaxed) + delta;
        self.peak.fetch_max(now, Ordering::Relaxed);
    }
}

thread_local! {
    static THREAD_LIVE: Cell<isize> = const { Cell::new(0) };
    static THREAD_PEAK: Cell<isize> = const { Cell::new(0) };
}

/// Live and peak heap bytes of the current thread, so that tests running
/// in parallel do not disturb each other's measurements.
#[derive(Debug, Default)]
pub struct ThreadMeter;

impl ThreadMeter {
    /// Runs `f` and returns its result and the peak of bytes this thread
    /// held beyond what it held before.
    pub fn peak_allocation<T>(&self, f: impl FnOnce() -> T) -> (T, usize) {
        let base = THREAD_LIVE.with(Cell::get);
        THREAD_PEAK.with(|peak| peak.set(base));
        let result = f();
        let peak = THREAD_PEAK.with(Cell::get) - base;
        (result, peak.max(0) as usize)
    }
}

impl AllocationMeter for ThreadMeter {
    fn record(&self, delta: isize) {
        // `try_with`: the allocator also runs while thread-locals are torn
        // down. The cells have no destructors, so they never allocate.
        let _ = THREAD_LIVE.try_with(|live| {
            let now = live.get() + delta;
            live.set(now);
            let _ = THREAD_PEAK.try_with(|peak| peak.set(peak.get().max(now)));
        });
    }
}

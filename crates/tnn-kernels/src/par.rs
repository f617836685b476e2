//! Splitting a kernel's work across threads, without changing its result.
//!
//! The crate has no threads of its own: whoever has some (the threaded wasm build's worker pool, a test's
//! `std::thread::scope`) implements [`Pool`] and installs it for the calling thread with [`with_pool`] or
//! [`set_thread_pool`]. Kernels then call [`for_each`], which runs serially when no pool is installed, inside a
//! task (no nesting), or for a single task.
//!
//! Every split in the crate cuts along outputs that are computed independently — output rows or columns of a GEMM,
//! groups of channels of a depthwise convolution, chunks of an elementwise map — at boundaries where each output
//! still goes through exactly the same operations in the same order as in one piece. So a kernel returns the same
//! bits whatever the number of threads; the tests check that against serial runs.

use core::cell::{Cell, UnsafeCell};

/// Something that runs tasks on several threads.
pub trait Pool: Sync {
    /// Threads that may run tasks at once, the caller included. Slots passed to tasks are below this.
    fn threads(&self) -> usize;
    /// Calls `f(task, slot)` once for every `task < tasks`, and returns when all have returned. Tasks run
    /// concurrently on at most [`threads`](Self::threads) threads; `slot` names the thread running the task (no two
    /// tasks run at once with the same slot), so a task may use per-slot scratch without locking.
    fn run(&self, tasks: usize, f: &(dyn Fn(usize, usize) + Sync));
}

thread_local! {
    // The pool this thread hands its tasks to; None inside a task, so nested calls run serially.
    static CURRENT: Cell<Option<*const (dyn Pool + 'static)>> = const { Cell::new(None) };
}

/// Installs `pool` for the calling thread for good (the threaded wasm build's main thread).
pub fn set_thread_pool(pool: Option<&'static dyn Pool>) {
    CURRENT.with(|c| c.set(pool.map(|p| p as *const dyn Pool)));
}

/// Runs `f` with `pool` installed for the calling thread, then restores what was there.
pub fn with_pool<R>(pool: &dyn Pool, f: impl FnOnce() -> R) -> R {
    // SAFETY: the pointer is only dereferenced by this thread while `pool` is borrowed (it is removed below, also
    // when `f` unwinds, before the borrow ends); the lifetime is erased only to store it in the thread-local.
    let erased: *const (dyn Pool + 'static) = unsafe { core::mem::transmute::<*const (dyn Pool + '_), _>(pool as *const dyn Pool) };
    struct Restore(Option<*const (dyn Pool + 'static)>);
    impl Drop for Restore {
        fn drop(&mut self) {
            CURRENT.with(|c| c.set(self.0));
        }
    }
    let _restore = Restore(CURRENT.with(|c| c.replace(Some(erased))));
    f()
}

/// Threads a kernel called from this thread may use now: 1 without a pool or inside a task.
pub fn threads() -> usize {
    // SAFETY: see `with_pool` and `set_thread_pool`: an installed pointer is live while installed.
    CURRENT.with(|c| c.get()).map_or(1, |p| unsafe { (*p).threads() })
}

/// Calls `f(task, slot)` for every `task < tasks`, on the installed pool if there is one (see [`Pool::run`]),
/// else in order on this thread with slot 0.
pub fn for_each(tasks: usize, f: impl Fn(usize, usize) + Sync) {
    let pool = CURRENT.with(|c| c.get());
    match pool {
        Some(p) if tasks > 1 => {
            // Tasks running on this thread must not hand work to the pool again: it is busy with them.
            struct Restore(*const (dyn Pool + 'static));
            impl Drop for Restore {
                fn drop(&mut self) {
                    CURRENT.with(|c| c.set(Some(self.0)));
                }
            }
            CURRENT.with(|c| c.set(None));
            let _restore = Restore(p);
            // SAFETY: as in `threads`.
            unsafe { (*p).run(tasks, &f) }
        }
        _ => (0..tasks).for_each(|t| f(t, 0)),
    }
}

/// How many pieces to cut `units` of work into for [`for_each`]: about four per thread, so that uneven progress
/// evens out, but none smaller than `min_units`; 1 without a pool.
pub fn pieces(units: usize, min_units: usize) -> usize {
    let t = threads();
    if t <= 1 || units == 0 {
        return 1;
    }
    (4 * t).min(units / min_units.max(1)).max(1)
}

/// The half-open range of piece `i` of `pieces` over `0..units`, with every boundary a multiple of `align`
/// (except `units` itself).
pub fn piece(i: usize, pieces: usize, units: usize, align: usize) -> (usize, usize) {
    let blocks = units.div_ceil(align);
    let lo = (blocks * i / pieces * align).min(units);
    let hi = (blocks * (i + 1) / pieces * align).min(units);
    (lo, hi)
}

/// A raw pointer that tasks on other threads may carry: they write disjoint parts of what it points to.
#[derive(Clone, Copy)]
pub struct SendPtr<T>(pub *mut T);
// SAFETY: only used to hand buffers to tasks that touch disjoint elements (each use says which).
unsafe impl<T> Send for SendPtr<T> {}
unsafe impl<T> Sync for SendPtr<T> {}

impl<T> SendPtr<T> {
    /// The pointer (a method, so that closures capture the whole `SendPtr` and not its field).
    #[inline(always)]
    pub fn get(self) -> *mut T {
        self.0
    }
}

/// Calls `f(unit, scratch)` for every `unit < units`: ranges of at least `min_units` units (about four per thread)
/// run as tasks on the pool, each with its thread's slot of `scratch`. What the channel-group and strip loops of the
/// FFT paths share; the units must be independent.
pub fn for_each_unit<T: Send>(units: usize, min_units: usize, scratch: &PerSlot<T>, f: impl Fn(usize, &mut T) + Sync) {
    let pieces = pieces(units, min_units);
    for_each(pieces, |t, slot| {
        let (lo, hi) = piece(t, pieces, units, 1);
        // SAFETY: the pool gives `slot` to one running task at a time, and the borrow ends with the task.
        let sc = unsafe { scratch.get(slot) };
        for unit in lo..hi {
            f(unit, sc);
        }
    });
}

/// One `T` per pool slot: scratch that each thread of a [`for_each`] uses without locking.
pub struct PerSlot<T> {
    slots: Vec<UnsafeCell<T>>,
}

// SAFETY: each slot is only reached through `get` with a slot index that `Pool::run` gives to one thread at a time.
unsafe impl<T: Send> Sync for PerSlot<T> {}

impl<T> PerSlot<T> {
    /// One slot, made by `make`, per thread a kernel called from this thread may use now ([`threads`]).
    pub fn for_pool(mut make: impl FnMut() -> T) -> Self {
        PerSlot { slots: (0..threads()).map(|_| UnsafeCell::new(make())).collect() }
    }

    /// Makes sure every thread of the installed pool has a slot: scratch made under a narrower pool (or none) is
    /// made again by `make`, once, when a wider one is installed.
    pub fn fit_pool(&mut self, make: impl FnMut() -> T) {
        if threads() > self.slots.len() {
            *self = PerSlot::for_pool(make);
        }
    }

    /// Slots held.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Never true: there is always a slot.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The first slot, for serial use.
    pub fn first(&mut self) -> &mut T {
        self.slots[0].get_mut()
    }

    /// Every slot.
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        // SAFETY: shared access while no task runs (callers hold `&self` outside `for_each`).
        self.slots.iter().map(|s| unsafe { &*s.get() })
    }

    /// The scratch of `slot`.
    ///
    /// # Safety
    /// Only from a task given `slot` by [`for_each`] (or with no task running), and not kept past the task.
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn get(&self, slot: usize) -> &mut T {
        &mut *self.slots[slot].get()
    }
}

/// A [`Pool`] on `std::thread::scope`, for tests on the host: each `run` starts `threads - 1` threads.
#[cfg(not(target_arch = "wasm32"))]
pub struct ScopedThreads(pub usize);

#[cfg(not(target_arch = "wasm32"))]
impl Pool for ScopedThreads {
    fn threads(&self) -> usize {
        self.0.max(1)
    }
    fn run(&self, tasks: usize, f: &(dyn Fn(usize, usize) + Sync)) {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let next = AtomicUsize::new(0);
        let work = |slot: usize| loop {
            let t = next.fetch_add(1, Ordering::Relaxed);
            if t >= tasks {
                break;
            }
            f(t, slot);
        };
        std::thread::scope(|s| {
            for slot in 1..self.threads() {
                let work = &work;
                s.spawn(move || work(slot));
            }
            work(0);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn every_task_runs_once_and_nesting_is_serial() {
        let hits: Vec<AtomicUsize> = (0..100).map(|_| AtomicUsize::new(0)).collect();
        with_pool(&ScopedThreads(3), || {
            assert_eq!(threads(), 3);
            for_each(100, |t, slot| {
                assert!(slot < 3);
                assert_eq!(threads(), 1, "inside a task, kernels run serially");
                hits[t].fetch_add(1, Ordering::Relaxed);
            });
            assert_eq!(threads(), 3, "the pool is back after the call");
        });
        assert_eq!(threads(), 1);
        assert!(hits.iter().all(|h| h.load(Ordering::Relaxed) == 1));
    }

    #[test]
    fn pieces_cover_the_range_on_aligned_boundaries() {
        for units in [0, 1, 5, 64, 100, 1537] {
            for n in 1..9 {
                let mut at = 0;
                for i in 0..n {
                    let (lo, hi) = piece(i, n, units, 16);
                    assert_eq!(lo, at);
                    assert!(lo % 16 == 0 || lo == units);
                    at = hi;
                }
                assert_eq!(at, units);
            }
        }
    }
}

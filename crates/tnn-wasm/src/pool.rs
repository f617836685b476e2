//! The threaded build's worker pool: `tnn_kernels::par::Pool` over Web Workers (or Node worker threads) that share
//! this module's memory.
//!
//! JS starts the workers (ts/core/pool.ts); each instantiates this module on the shared memory and calls
//! [`pool_worker`], which never returns until [`pool_stop`]. The thread that called `init()` installs the pool with
//! [`pool_start`] and from then on hands every split kernel's tasks to it.
//!
//! Control lives in a few atomics in linear memory:
//! - `JOB` packs a job number (high 32 bits) and the next unclaimed task (low 32). Threads claim a task with a
//!   compare-and-swap that also checks the job number, so a worker that wakes late for a finished job can never
//!   take a task of the next one. The closure and task count of the current job are published before its number.
//! - `WAKE` counts jobs; idle workers spin on it for a short while, then sleep in `memory.atomic.wait32` on it.
//!   The caller notifies only when someone sleeps (`SLEEPERS`), which keeps back-to-back small jobs (decoding) off
//!   the futex.
//! - `DONE` counts finished tasks of the current job; the caller runs tasks itself, then waits for it to reach the
//!   count: spinning, then (where the caller may block, see [`pool_start`]) sleeping on it.
//!
//! A browser's main thread may not block (`Atomics.wait` throws there), so on it the caller only spins; it is
//! never idle long, since it runs tasks of its own job until none is left.
//! Without the `atomics` target feature every entry point is a no-op and nothing is installed.

use wasm_bindgen::prelude::*;

#[cfg(target_feature = "atomics")]
mod imp {
    use core::arch::wasm32::{memory_atomic_notify, memory_atomic_wait32};
    use core::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, AtomicU64, AtomicUsize, Ordering::*};
    use tnn_kernels::par::{self, Pool};

    /// Job number (high 32 bits) and next unclaimed task (low 32).
    static JOB: AtomicU64 = AtomicU64::new(0);
    /// The task counter of a job being published: at or past every task count, so nothing is claimed.
    const CLOSED: u64 = u32::MAX as u64;
    /// Address of the current job's `&dyn Fn(usize, usize)` (a thin pointer to the fat one, on the caller's stack).
    static JOB_FN: AtomicUsize = AtomicUsize::new(0);
    static JOB_TASKS: AtomicU32 = AtomicU32::new(0);
    static DONE: AtomicI32 = AtomicI32::new(0);
    static WAKE: AtomicI32 = AtomicI32::new(0);
    static SLEEPERS: AtomicI32 = AtomicI32::new(0);
    /// Workers inside `pool_worker`.
    static WORKERS: AtomicU32 = AtomicU32::new(0);
    /// Threads the pool was started with, the caller included: slots run below it even before every worker is in.
    static SIZE: AtomicU32 = AtomicU32::new(1);
    static STOP: AtomicBool = AtomicBool::new(false);
    static CALLER_BLOCKS: AtomicBool = AtomicBool::new(false);
    static ACTIVE: AtomicBool = AtomicBool::new(false);

    /// Polls of a spinning wait before it sleeps: about 20–50 µs, longer than the gap between the kernels of one
    /// decode step, much shorter than a time slice.
    const SPINS: u32 = 1 << 13;

    type Task<'a> = &'a (dyn Fn(usize, usize) + Sync);

    pub struct WorkerPool;

    pub static POOL: WorkerPool = WorkerPool;

    impl Pool for WorkerPool {
        fn threads(&self) -> usize {
            SIZE.load(Relaxed) as usize
        }

        fn run(&self, tasks: usize, f: Task<'_>) {
            if tasks <= 1 || WORKERS.load(Relaxed) == 0 {
                (0..tasks).for_each(|t| f(t, 0));
                return;
            }
            assert!(tasks < u32::MAX as usize, "pool: too many tasks");
            // Publish the job. First its number with the task counter at CLOSED, so that a worker still holding the
            // previous job's counter can no longer claim with it: its compare-and-swap fails on the new number, and
            // none of the new job's tasks is claimable yet. Without this, a late worker that read the old counter
            // could pair it with the new task count and closure stored below, run a task of the new job twice and
            // push DONE past the count (the caller then waited forever). Then the closure and size, then the
            // counter opens at 0. (Wasm atomics are all sequentially consistent.)
            let job = (JOB.load(SeqCst) >> 32).wrapping_add(1);
            JOB.store(job << 32 | CLOSED, SeqCst);
            let fref: Task<'_> = f;
            JOB_FN.store(&fref as *const Task<'_> as usize, SeqCst);
            JOB_TASKS.store(tasks as u32, SeqCst);
            DONE.store(0, SeqCst);
            JOB.store(job << 32, SeqCst);
            WAKE.fetch_add(1, SeqCst);
            if SLEEPERS.load(SeqCst) > 0 {
                // SAFETY: WAKE is a live, aligned i32 in linear memory.
                unsafe { memory_atomic_notify(WAKE.as_ptr() as *mut i32, u32::MAX) };
            }
            work(job as u32, 0);
            // Wait for the tasks other threads claimed.
            let mut spins = 0u32;
            loop {
                let done = DONE.load(Acquire);
                if done as usize == tasks {
                    break;
                }
                spins += 1;
                if spins > SPINS && CALLER_BLOCKS.load(Relaxed) {
                    // SAFETY: as above; returns at once if DONE has moved on.
                    unsafe { memory_atomic_wait32(DONE.as_ptr(), done, 1_000_000) };
                }
            }
        }
    }

    /// Claims and runs tasks of job `job` until none is left; `slot` names this thread.
    fn work(job: u32, slot: usize) {
        loop {
            let s = JOB.load(Acquire);
            if (s >> 32) as u32 != job {
                return;
            }
            let tasks = JOB_TASKS.load(Relaxed) as u64;
            let t = s & 0xffff_ffff;
            if t >= tasks {
                return;
            }
            if JOB.compare_exchange_weak(s, s + 1, AcqRel, Relaxed).is_err() {
                continue;
            }
            // SAFETY: claiming a task of `job` succeeded, so the job is not finished (its last task is ours at
            // least): the caller is still inside `run`, keeping the closure alive, and has not published another.
            let f: Task<'_> = unsafe { *(JOB_FN.load(Relaxed) as *const Task<'_>) };
            f(t as usize, slot);
            if DONE.fetch_add(1, AcqRel) + 1 == tasks as i32 {
                // SAFETY: DONE is a live, aligned i32 in linear memory.
                unsafe { memory_atomic_notify(DONE.as_ptr() as *mut i32, 1) };
            }
        }
    }

    pub fn worker(slot: u32) {
        WORKERS.fetch_add(1, SeqCst);
        let mut seen = WAKE.load(SeqCst);
        loop {
            let mut spins = 0u32;
            let mut now = WAKE.load(SeqCst);
            while now == seen && !STOP.load(Relaxed) {
                spins += 1;
                if spins > SPINS {
                    SLEEPERS.fetch_add(1, SeqCst);
                    // SAFETY: WAKE is a live, aligned i32; returns at once if it is no longer `seen`.
                    unsafe { memory_atomic_wait32(WAKE.as_ptr(), seen, -1) };
                    SLEEPERS.fetch_sub(1, SeqCst);
                    spins = 0;
                }
                now = WAKE.load(SeqCst);
            }
            if STOP.load(Relaxed) {
                break;
            }
            seen = now;
            work((JOB.load(Acquire) >> 32) as u32, slot as usize);
        }
        WORKERS.fetch_sub(1, SeqCst);
    }

    pub fn start(workers: u32, caller_blocks: bool) {
        SIZE.store(1 + workers, Relaxed);
        CALLER_BLOCKS.store(caller_blocks, Relaxed);
        STOP.store(false, Relaxed);
        if !ACTIVE.swap(true, Relaxed) {
            par::set_thread_pool(Some(&POOL));
        }
    }

    pub fn stop() {
        STOP.store(true, SeqCst);
        WAKE.fetch_add(1, SeqCst);
        // SAFETY: WAKE is a live, aligned i32 in linear memory.
        unsafe { memory_atomic_notify(WAKE.as_ptr() as *mut i32, u32::MAX) };
        par::set_thread_pool(None);
        ACTIVE.store(false, Relaxed);
        SIZE.store(1, Relaxed);
    }

    pub fn workers() -> u32 {
        WORKERS.load(SeqCst)
    }
}

/// Runs pool tasks on this thread (a worker) until [`pool_stop`]; `slot` (1, 2, …) names it among the pool's
/// threads. Returns at once in a build without threads.
#[wasm_bindgen]
pub fn pool_worker(slot: u32) {
    #[cfg(target_feature = "atomics")]
    imp::worker(slot);
    #[cfg(not(target_feature = "atomics"))]
    let _ = slot;
}

/// Installs the pool for the calling thread: split kernels called from it hand tasks to the workers inside
/// [`pool_worker`] (slots `1..=workers`; those not in yet just take no tasks). `caller_blocks`: whether this thread
/// may sleep in `memory.atomic.wait32` (not a browser's main thread) while others finish.
#[wasm_bindgen]
pub fn pool_start(workers: u32, caller_blocks: bool) {
    #[cfg(target_feature = "atomics")]
    imp::start(workers, caller_blocks);
    #[cfg(not(target_feature = "atomics"))]
    let _ = (workers, caller_blocks);
}

/// Sends the workers out of [`pool_worker`] and runs everything on the calling thread from now on.
#[wasm_bindgen]
pub fn pool_stop() {
    #[cfg(target_feature = "atomics")]
    imp::stop();
}

/// Workers currently inside [`pool_worker`] (0 in a build without threads).
#[wasm_bindgen]
pub fn pool_workers() -> u32 {
    #[cfg(target_feature = "atomics")]
    return imp::workers();
    #[cfg(not(target_feature = "atomics"))]
    0
}

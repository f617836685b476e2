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
//!
//! A task that traps on a worker (a panic is a trap in wasm) ends that worker's `pool_worker`; its JS reports it with
//! [`pool_worker_failed`]. The task never counts as done, so the caller, instead of waiting for it forever, closes
//! the job, waits for the tasks other workers are running (they read the closure on its stack), stops using the pool
//! and panics: the call fails, and later calls run on the calling thread alone. A task that panics on the calling
//! thread does the same from the panic hook, before the trap unwinds the frame that holds the closure.
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
    /// Workers whose `pool_worker` trapped, each in one task of the job then running.
    static FAILED: AtomicU32 = AtomicU32::new(0);
    /// Threads the pool was started with, the caller included: slots run below it even before every worker is in.
    static SIZE: AtomicU32 = AtomicU32::new(1);
    static STOP: AtomicBool = AtomicBool::new(false);
    static CALLER_BLOCKS: AtomicBool = AtomicBool::new(false);
    /// The job the calling thread is running (0: none), for the panic hook.
    static CALLER_JOB: AtomicU64 = AtomicU64::new(0);
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
            CALLER_JOB.store(job, SeqCst);
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
                if FAILED.load(SeqCst) > 0 {
                    CALLER_JOB.store(0, SeqCst);
                    abandon(job, 0);
                    panic!("tnn: a task trapped on a pool worker; this call's results are lost, and kernels now run on one thread");
                }
                spins += 1;
                if spins > SPINS && CALLER_BLOCKS.load(Relaxed) {
                    // SAFETY: as above; returns at once if DONE has moved on.
                    unsafe { memory_atomic_wait32(DONE.as_ptr(), done, 1_000_000) };
                }
            }
            CALLER_JOB.store(0, SeqCst);
        }
    }

    /// The end of a job one of whose tasks trapped: no task can be claimed any more, and once every claimed task has
    /// finished or failed (`own`: those failing on the calling thread, not counted elsewhere), nothing reads the
    /// caller's closure; the pool is no longer used.
    #[cold]
    fn abandon(job: u64, own: u64) {
        let claimed = loop {
            let s = JOB.load(SeqCst);
            if JOB.compare_exchange(s, job << 32 | CLOSED, SeqCst, SeqCst).is_ok() {
                break (s & 0xffff_ffff).min(JOB_TASKS.load(SeqCst) as u64);
            }
        };
        while (DONE.load(SeqCst) as u64) + (FAILED.load(SeqCst) as u64) + own < claimed {
            core::hint::spin_loop();
        }
        uninstall();
    }

    /// Kernels called from this thread run on it alone from now on.
    fn uninstall() {
        par::set_thread_pool(None);
        ACTIVE.store(false, Relaxed);
        SIZE.store(1, Relaxed);
    }

    std::thread_local! {
        static IS_WORKER: core::cell::Cell<bool> = const { core::cell::Cell::new(false) };
    }

    /// The panic hook: a panic in a task on the calling thread (the one task it is running) abandons the job before
    /// the trap, while the workers still running its tasks can read the closure. Elsewhere nothing to do (a worker's
    /// JS reports its own trap).
    fn on_panic() {
        if IS_WORKER.with(|w| w.get()) {
            return;
        }
        let job = CALLER_JOB.swap(0, SeqCst);
        if job != 0 {
            abandon(job, 1);
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
        IS_WORKER.with(|w| w.set(true));
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

    pub fn failed() {
        WORKERS.fetch_sub(1, SeqCst);
        FAILED.fetch_add(1, SeqCst);
        // SAFETY: DONE is a live, aligned i32 in linear memory; the caller may be asleep on it.
        unsafe { memory_atomic_notify(DONE.as_ptr() as *mut i32, 1) };
    }

    /// One job of `tasks` tasks that each add 1 to a counter; `fail` 1: every task run on a worker panics; 2: the
    /// calling thread's first task panics while workers are running tasks of the job.
    pub fn check(tasks: u32, fail: u32) -> u32 {
        let count = AtomicU32::new(0);
        let (on_caller, on_worker) = (AtomicBool::new(false), AtomicBool::new(false));
        // Spins (a browser's main thread may not block) until `flag` is set, or for about a second.
        let await_flag = |flag: &AtomicBool| {
            for _ in 0..100_000 {
                if flag.load(SeqCst) {
                    break;
                }
                for i in 0..1_000u32 {
                    core::hint::black_box(i);
                }
            }
        };
        par::for_each(tasks as usize, |_, slot| {
            if slot == 0 {
                on_caller.store(true, SeqCst);
            } else {
                on_worker.store(true, SeqCst);
            }
            // Long enough (tens of µs) that the workers, not only the caller, take tasks.
            for i in 0..20_000u32 {
                core::hint::black_box(i);
            }
            if fail == 1 && slot > 0 {
                panic!("tnn: pool_check's failing task");
            }
            if fail == 2 {
                // The workers must not run out the job before the caller, descheduled, takes its first task.
                if slot > 0 {
                    await_flag(&on_caller);
                } else {
                    await_flag(&on_worker);
                    panic!("tnn: pool_check's failing task");
                }
            }
            count.fetch_add(1, SeqCst);
        });
        count.load(SeqCst)
    }

    pub fn start(workers: u32, caller_blocks: bool) {
        SIZE.store(1 + workers, Relaxed);
        FAILED.store(0, SeqCst);
        CALLER_BLOCKS.store(caller_blocks, Relaxed);
        STOP.store(false, Relaxed);
        if !ACTIVE.swap(true, Relaxed) {
            par::set_thread_pool(Some(&POOL));
            // Replaces the default hook, which has nowhere to write in wasm.
            std::panic::set_hook(Box::new(|_| on_panic()));
        }
    }

    pub fn stop() {
        STOP.store(true, SeqCst);
        WAKE.fetch_add(1, SeqCst);
        // SAFETY: WAKE is a live, aligned i32 in linear memory.
        unsafe { memory_atomic_notify(WAKE.as_ptr() as *mut i32, u32::MAX) };
        uninstall();
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

/// Threads the calling thread's kernels run on: the pool's, or 1 once it is stopped or abandoned (or without one).
#[wasm_bindgen]
pub fn pool_threads() -> u32 {
    tnn_kernels::par::threads() as u32
}

/// Called by a worker's JS when its `pool_worker` threw (a task trapped): the job it was in will not finish, and the
/// caller waiting on it fails instead (see the module comment).
#[wasm_bindgen]
pub fn pool_worker_failed() {
    #[cfg(target_feature = "atomics")]
    imp::failed();
}

/// A diagnostic of the pool, for tests: one job of `tasks` tasks that each count themselves. `fail` 1: every task run
/// on a worker panics there; 2: the calling thread's first task panics while workers run tasks of the job; either way
/// the call must fail (a trap) rather than hang, and leave the pool unused. Returns the count (`tasks` when all ran). Without
/// threads every task runs on the calling thread and none fails.
#[wasm_bindgen]
pub fn pool_check(tasks: u32, fail: u32) -> u32 {
    #[cfg(target_feature = "atomics")]
    return imp::check(tasks, fail);
    #[cfg(not(target_feature = "atomics"))]
    {
        let _ = fail;
        tasks
    }
}

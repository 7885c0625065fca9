package dev.kiln.cpu;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.IntConsumer;

/**
 * The one thread pool all CPU kernels share; no kernel creates threads. Its size comes from
 * {@code -Dkiln.threads}, else the environment variable {@code KILN_THREADS}, else the number of
 * available processors, and {@link #setThreads} changes it (tests, the CLI's {@code --threads}).
 *
 * <p>{@link #parallelFor} runs a fixed list of tasks; kernels define the tasks independently of the
 * thread count and each output element belongs to exactly one task, so results are bit-identical for
 * any number of threads. The calling thread takes tasks too, and it waits only for tasks that were
 * taken, so a kernel called from inside a pool thread cannot deadlock.
 */
public final class CpuThreads {
    private CpuThreads() {}

    private static final AtomicInteger THREAD_IDS = new AtomicInteger();
    private static final ThreadFactory FACTORY = r -> {
        Thread t = new Thread(r, "kiln-cpu-" + THREAD_IDS.incrementAndGet());
        t.setDaemon(true);
        return t;
    };

    private static final Object LOCK = new Object();
    private static int threads = initialThreads();
    /** Helper threads: the caller is the remaining one. Null when running single-threaded. */
    private static ExecutorService pool = newPool(threads);

    private static int initialThreads() {
        String prop = System.getProperty("kiln.threads");
        String source = "-Dkiln.threads";
        if (prop == null || prop.isBlank()) {
            prop = System.getenv("KILN_THREADS");
            source = "KILN_THREADS";
        }
        if (prop == null || prop.isBlank()) return Runtime.getRuntime().availableProcessors();
        try {
            int n = Integer.parseInt(prop.trim());
            if (n >= 1) return n;
        } catch (NumberFormatException e) {
            // fall through to the message below
        }
        throw new IllegalArgumentException(source + " must be a positive integer, got '" + prop + "'");
    }

    private static ExecutorService newPool(int n) {
        return n <= 1 ? null : new ThreadPoolExecutor(n - 1, n - 1, 0L, TimeUnit.MILLISECONDS, new SpinningQueue(), FACTORY);
    }

    /** How long an idle helper, or a caller waiting for the last task, polls before it blocks. */
    private static final long SPIN_NANOS = 30_000;

    /**
     * The helpers' work queue: an idle helper polls it for {@link #SPIN_NANOS} before it parks. Waking a parked
     * thread took tens of microseconds on these VMs, which halved the second thread's worth on calls of ~0.1 ms
     * (256^3 SGEMM: 1.2x one thread's rate with two), and kernels issue such calls back to back.
     */
    private static final class SpinningQueue extends LinkedBlockingQueue<Runnable> {
        // take() only: the pool's threads are all core threads that never time out, so they never call poll(timeout)
        @Override public Runnable take() throws InterruptedException {
            Runnable r = spinPoll();
            return r != null ? r : super.take();
        }

        private Runnable spinPoll() {
            long end = System.nanoTime() + SPIN_NANOS;
            do {
                Runnable r = poll();
                if (r != null) return r;
                Thread.onSpinWait();
            } while (System.nanoTime() < end);
            return null;
        }
    }

    /** The number of threads kernels use, the caller included. */
    public static int threads() {
        synchronized (LOCK) {
            return threads;
        }
    }

    /** Sets the number of threads (>= 1); the old helpers finish their current work and exit. */
    public static void setThreads(int n) {
        if (n < 1) throw new IllegalArgumentException("cpu threads must be >= 1, got " + n);
        synchronized (LOCK) {
            if (n == threads) return;
            if (pool != null) pool.shutdown();
            threads = n;
            pool = newPool(n);
        }
    }

    /**
     * Runs {@code body.accept(t)} for every t in [0, tasks), each exactly once, spread over the pool, and
     * returns when all are done. The first exception (or error) thrown by a task is rethrown here.
     */
    public static void parallelFor(int tasks, IntConsumer body) {
        if (tasks <= 0) return;
        ExecutorService p;
        int n;
        synchronized (LOCK) {
            p = pool;
            n = threads;
        }
        if (tasks == 1 || p == null || CALLER_ONLY.get()) {
            for (int t = 0; t < tasks; t++) body.accept(t);
            return;
        }
        Job job = new Job(tasks, body);
        int helpers = Math.min(n, tasks) - 1;
        for (int h = 0; h < helpers; h++) {
            try {
                p.execute(job::work);
            } catch (java.util.concurrent.RejectedExecutionException e) {
                break; // the pool was replaced meanwhile; the caller does the rest
            }
        }
        job.work();
        job.awaitTaken();
    }

    private static final ThreadLocal<Boolean> CALLER_ONLY = ThreadLocal.withInitial(() -> false);

    /**
     * Runs {@code op} with every {@link #parallelFor} inside it done by the calling thread alone: for operands
     * only that thread may touch (segments of a confined arena). Kernels give the same bits for any thread
     * count, so the result does not change, only the speed.
     */
    public static void onCallerOnly(Runnable op) {
        if (CALLER_ONLY.get()) {
            op.run();
            return;
        }
        CALLER_ONLY.set(true);
        try {
            op.run();
        } finally {
            CALLER_ONLY.set(false);
        }
    }

    /** Tasks handed out by a counter; completion counted so the caller waits only for taken tasks. */
    private static final class Job {
        final int tasks;
        final IntConsumer body;
        final AtomicInteger next = new AtomicInteger();
        final AtomicInteger done = new AtomicInteger();
        final AtomicReference<Throwable> failure = new AtomicReference<>();

        Job(int tasks, IntConsumer body) {
            this.tasks = tasks;
            this.body = body;
        }

        void work() {
            int t;
            while ((t = next.getAndIncrement()) < tasks) {
                try {
                    if (failure.get() == null) body.accept(t);
                } catch (Throwable e) {
                    failure.compareAndSet(null, e);
                } finally {
                    if (done.incrementAndGet() == tasks) synchronized (this) { notifyAll(); }
                }
            }
        }

        void awaitTaken() {
            long end = System.nanoTime() + SPIN_NANOS;
            while (done.get() < tasks && System.nanoTime() < end) Thread.onSpinWait();
            synchronized (this) {
                boolean interrupted = false;
                while (done.get() < tasks) {
                    try {
                        wait();
                    } catch (InterruptedException e) {
                        interrupted = true;
                    }
                }
                if (interrupted) Thread.currentThread().interrupt();
            }
            Throwable e = failure.get();
            if (e instanceof RuntimeException r) throw r;
            if (e instanceof Error err) throw err;
            if (e != null) throw new IllegalStateException(e);
        }
    }
}

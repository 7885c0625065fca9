package dev.kiln.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.IntConsumer;

/** Runs one task per thread, all released together, and times the whole team from release to the last finish. */
final class Team {
    private Team() {}

    /** Seconds from the common start until every one of {@code threads} calls of {@code task(t)} returned. */
    static double run(int threads, IntConsumer task) {
        if (threads < 1) throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        CyclicBarrier start = new CyclicBarrier(threads + 1);
        CountDownLatch done = new CountDownLatch(threads);
        AtomicReference<Throwable> failure = new AtomicReference<>();
        List<Thread> workers = new ArrayList<>(threads);
        for (int t = 0; t < threads; t++) {
            int id = t;
            workers.add(Thread.ofPlatform().daemon().name("kiln-bench-" + t).start(() -> {
                try {
                    start.await();
                    task.accept(id);
                } catch (Throwable e) {
                    failure.compareAndSet(null, e);
                } finally {
                    done.countDown();
                }
            }));
        }
        try {
            // The clock starts before the release: a worker may finish a short task before this thread
            // returns from await, and starting the clock after that would report an impossible rate.
            long t0 = System.nanoTime();
            start.await();
            done.await();
            double seconds = (System.nanoTime() - t0) * 1e-9;
            if (failure.get() != null) throw new IllegalStateException("bench worker failed: " + failure.get(), failure.get());
            return seconds;
        } catch (InterruptedException | java.util.concurrent.BrokenBarrierException e) {
            workers.forEach(Thread::interrupt);
            Thread.currentThread().interrupt();
            throw new IllegalStateException("bench: interrupted", e);
        }
    }
}

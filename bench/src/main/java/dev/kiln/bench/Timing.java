package dev.kiln.bench;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * Time-boxed repetition. Warm-up: at least a third of the budget, and on until a call runs within 25%
 * of the fastest so far (so a kernel still in the interpreter or C1 when the box closes keeps warming;
 * capped at three budgets). Then samples until the budget is spent and at least three were taken, or,
 * for calls slower than the budget, until three budgets are spent (at least one sample). The median
 * sample is the reported time: it ignores one-off stalls without flattering the kernel as the best does.
 */
record Timing(double median, double best, int samples) {

    static Timing measure(Runnable call, double budgetSeconds) {
        long budget = (long) (budgetSeconds * 1e9);
        long start = System.nanoTime(), fastest = Long.MAX_VALUE, last;
        do {
            long t0 = System.nanoTime();
            call.run();
            last = System.nanoTime() - t0;
            fastest = Math.min(fastest, last);
        } while (System.nanoTime() - start < budget / 3 || (last > fastest * 5 / 4 && System.nanoTime() - start < 3 * budget));
        List<Double> samples = new ArrayList<>();
        start = System.nanoTime();
        while (true) {
            long t0 = System.nanoTime();
            call.run();
            long t1 = System.nanoTime();
            samples.add((t1 - t0) * 1e-9);
            long spent = t1 - start;
            if ((spent >= budget && samples.size() >= 3) || spent >= 3 * budget || samples.size() >= 10_000) break;
        }
        Collections.sort(samples);
        int n = samples.size();
        double median = n % 2 == 1 ? samples.get(n / 2) : (samples.get(n / 2 - 1) + samples.get(n / 2)) / 2;
        return new Timing(median, samples.getFirst(), n);
    }
}

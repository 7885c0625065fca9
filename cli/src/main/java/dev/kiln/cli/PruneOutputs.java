package dev.kiln.cli;

import dev.kiln.kernels.io.Json;
import dev.kiln.nn.layers.Layer;
import dev.kiln.nn.prune.LayerChoice;
import dev.kiln.nn.prune.PruneSchedule;
import dev.kiln.nn.prune.PruneSpec;
import dev.kiln.nn.prune.Pruner;
import dev.kiln.nn.prune.SparseInference;
import dev.kiln.nn.train.Models;
import dev.kiln.nn.train.Trainer;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The pruning side of {@code kiln train --prune}: switching it on (or checking it against a resumed run's),
 * and after training the per-layer sparsity and the test set run twice, on dense kernels (the masked
 * weights through the usual GEMM and convolution) and on sparse ones ({@link SparseInference}), with
 * accuracy and forward-pass time of each; also written to {@code prune.json} in the run folder.
 */
final class PruneOutputs {
    private PruneOutputs() {}

    /** Enables {@code spec} on a fresh run, or checks a resumed run prunes the same way; returns an error message or null. */
    static String enable(Trainer trainer, PruneSpec spec, boolean resumed) {
        Pruner p = trainer.pruner();
        if (resumed) {
            if (p == null) return "--prune " + spec + ": the checkpoint holds a dense run (pruning must start with the run)";
            if (p.spec().method() != spec.method() || p.spec().sparsity() != spec.sparsity())
                return "--prune " + spec + ": the checkpoint's run prunes " + p.spec();
            return null;
        }
        trainer.enablePruning(spec);
        return null;
    }

    /** The schedule as one line. */
    static String describe(Pruner p, int stepsPerEpoch) {
        PruneSchedule s = p.schedule();
        return String.format(Locale.ROOT, "pruning %s%s: dense to step %d (epoch %.1f), cubic to sparsity %.2f at step %d (epoch %.1f), masks every %d steps, fine-tuning after",
                p.spec(), p.spec().method() == PruneSpec.Method.GLOBAL ? String.format(Locale.ROOT, " (each layer keeps >= %.0f%%)", 100 * p.spec().minKeep()) : "",
                s.start(), (double) s.start() / stepsPerEpoch, s.target(), s.end(), (double) s.end() / stepsPerEpoch, s.every());
    }

    /** Per-layer sparsity, dense- and sparse-kernel evaluation; prints them and writes {@code prune.json}. */
    static void report(Trainer trainer, PrintWriter out, Path run) throws IOException {
        Pruner pruner = trainer.pruner();
        List<Pruner.LayerSparsity> sparsities = pruner.report();
        out.println("per-layer sparsity (" + pruner.spec() + "):");
        List<Object> layerRows = new ArrayList<>();
        for (Pruner.LayerSparsity l : sparsities) {
            out.printf(Locale.ROOT, "  %-10s %-16s %9d weights %9d zero  sparsity %.4f%s%n", l.name(), shape(l.shape()),
                    l.count(), l.zeros(), l.sparsity(), l.twoFour() ? "  (2:4)" : "");
            Map<String, Object> r = new LinkedHashMap<>();
            r.put("name", l.name());
            r.put("count", l.count());
            r.put("zeros", l.zeros());
            r.put("sparsity", l.sparsity());
            r.put("two_four", l.twoFour());
            layerRows.add(r);
        }
        out.printf(Locale.ROOT, "  overall    %.4f of the prunable weights are zero%n", Pruner.overall(sparsities));
        out.flush();

        // The sparse model: each pruned layer on sparse kernels only where they beat its dense kernels in a timed
        // trial on one evaluation batch's shapes (SparseInference.calibrated). Then the test set on the masked
        // model's dense kernels and on the sparse model; forward time per layer for both. Each runs twice,
        // alternating, and each layer keeps its faster pass: the first pays for JIT compilation, and the pair shares
        // whatever else the machine is doing.
        List<Layer> layers = trainer.model().layers();
        int n = layers.size();
        double[] denseSeconds = new double[n], sparseSeconds = new double[n];
        java.util.Arrays.fill(denseSeconds, Double.MAX_VALUE);
        java.util.Arrays.fill(sparseSeconds, Double.MAX_VALUE);
        Trainer.Evaluation dense = null, sparse = null;
        List<String> formats = new ArrayList<>();
        List<Object> timeRows = new ArrayList<>();
        // an evaluation batch of Fashion-MNIST's 28 x 28 grey images, as the models take them
        int[] inputShape = Models.takesFlatInput(trainer.config().model()) ? new int[] {Trainer.EVAL_BATCH, 28 * 28}
                : new int[] {Trainer.EVAL_BATCH, 1, 28, 28};
        List<Object> choiceRows = new ArrayList<>();
        try (SparseInference si = SparseInference.calibrated(trainer.model(), pruner, inputShape)) {
            out.printf(Locale.ROOT, "sparse or dense per pruned layer (one batch of %d; after %.1f s of warm-up, best of >= %d timed calls each"
                    + " in >= %.1f s, alternating; sparse needs x%.2f):%n", Trainer.EVAL_BATCH, SparseInference.WARMUP_SECONDS,
                    SparseInference.TIMED_CALLS, SparseInference.TIMED_SECONDS, 1 / SparseInference.SPARSE_MARGIN);
            out.printf(Locale.ROOT, "  %-5s %-10s %8s  %-16s %9s %10s %7s  %s%n", "layer", "weight", "sparsity", "format", "dense ms", "sparse ms", "ratio", "chosen");
            for (LayerChoice c : si.choices()) {
                out.printf(Locale.ROOT, "  %-5d %-10s %8.4f  %-16s %9.3f %10.3f %7.2f  %s (%s)%n", c.layer(), c.name(), c.sparsity(), c.format(),
                        c.denseMs(), c.sparseMs(), c.ratio(), c.sparse() ? "sparse" : "dense", c.why());
                choiceRows.add(obj("layer", c.layer(), "name", c.name(), "sparsity", c.sparsity(), "format", c.format(), "dense_ms", c.denseMs(),
                        "sparse_ms", c.sparseMs(), "ratio", c.ratio(), "chosen", c.sparse() ? "sparse" : "dense", "why", c.why()));
            }
            out.flush();
            for (int pass = 0; pass < 2; pass++) {
                long[] nanos = new long[n];
                dense = trainer.evaluate(x -> {
                    for (int i = 0; i < n; i++) {
                        long t0 = System.nanoTime();
                        x = layers.get(i).forward(x);
                        nanos[i] += System.nanoTime() - t0;
                    }
                    return x;
                });
                double[] before = si.layerSeconds();
                sparse = trainer.evaluate(si::forward);
                double[] after = si.layerSeconds();
                for (int i = 0; i < n; i++) {
                    denseSeconds[i] = Math.min(denseSeconds[i], nanos[i] / 1e9);
                    sparseSeconds[i] = Math.min(sparseSeconds[i], after[i] - before[i]);
                }
            }
            out.println("forward time per layer over the test set (dense kernels / with sparse kernels; the faster of two passes):");
            for (int i = 0; i < n; i++) {
                String how = si.describe(i);
                if (how != null) formats.add(how);
                double ratio = denseSeconds[i] / Math.max(sparseSeconds[i], 1e-9);
                out.printf(Locale.ROOT, "  layer %-2d %8.3f s %8.3f s  x%.2f  %s%n", i, denseSeconds[i], sparseSeconds[i], ratio, how == null ? "" : how);
                timeRows.add(obj("layer", i, "dense_seconds", denseSeconds[i], "sparse_seconds", sparseSeconds[i], "ratio", ratio, "how",
                        how == null ? "" : how));
            }
        }
        double denseS = 0, sparseS = 0;
        for (int i = 0; i < n; i++) {
            denseS += denseSeconds[i];
            sparseS += sparseSeconds[i];
        }
        out.printf(Locale.ROOT, "pruned model, dense kernels:  test accuracy %.4f, forward passes %.2f s (%.0f images/s)%n", dense.accuracy(), denseS,
                dense.samples() / Math.max(denseS, 1e-9));
        out.printf(Locale.ROOT, "pruned model, sparse kernels: test accuracy %.4f, forward passes %.2f s (%.0f images/s), speed-up x%.2f over dense%n",
                sparse.accuracy(), sparseS, sparse.samples() / Math.max(sparseS, 1e-9), denseS / Math.max(sparseS, 1e-9));
        out.flush();

        Map<String, Object> doc = new LinkedHashMap<>();
        doc.put("spec", pruner.spec().toString());
        doc.put("min_keep", pruner.spec().minKeep());
        doc.put("schedule", obj("start", pruner.schedule().start(), "end", pruner.schedule().end(), "every", pruner.schedule().every()));
        doc.put("overall_sparsity", Pruner.overall(sparsities));
        doc.put("layers", layerRows);
        doc.put("sparse_choice", obj("rule", "timed", "batch", Trainer.EVAL_BATCH, "warmup_seconds", SparseInference.WARMUP_SECONDS,
                "timed_calls", SparseInference.TIMED_CALLS, "timed_seconds", SparseInference.TIMED_SECONDS, "sparse_margin",
                SparseInference.SPARSE_MARGIN));
        doc.put("layer_choices", choiceRows);
        doc.put("sparse_formats", formats);
        doc.put("layer_times", timeRows);
        doc.put("dense_kernels", obj("test_accuracy", dense.accuracy(), "forward_seconds", denseS));
        doc.put("sparse_kernels", obj("test_accuracy", sparse.accuracy(), "forward_seconds", sparseS));
        doc.put("speedup", denseS / Math.max(sparseS, 1e-9));
        Files.writeString(run.resolve("prune.json"), Json.write(doc) + "\n");
    }

    private static Map<String, Object> obj(Object... keysAndValues) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < keysAndValues.length; i += 2) m.put((String) keysAndValues[i], keysAndValues[i + 1]);
        return m;
    }

    private static String shape(int[] s) {
        StringBuilder b = new StringBuilder("[");
        for (int i = 0; i < s.length; i++) b.append(i == 0 ? "" : "x").append(s[i]);
        return b.append(']').toString();
    }
}

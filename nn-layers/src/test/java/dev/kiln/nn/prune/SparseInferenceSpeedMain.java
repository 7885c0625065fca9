package dev.kiln.nn.prune;

import dev.kiln.nn.NoGrad;
import dev.kiln.nn.Scope;
import dev.kiln.nn.Tensor;
import dev.kiln.nn.layers.Sequential;
import dev.kiln.nn.train.Models;

import java.util.List;
import java.util.SplittableRandom;

/**
 * The Fashion-MNIST cnn (seeded weights) pruned by a spec, its sparse model built by {@link SparseInference#calibrated},
 * the per-layer choices printed, then whole-model forward time dense and with the chosen sparse layers, alternating
 * in this JVM (best of rounds). With the environment variable {@code FORCE} set, every pruned layer runs sparse
 * ({@link SparseInference#of(Sequential, Pruner)}) instead. Not a test: run by hand, after
 * {@code mvn -q -o -Dkiln.buildSuffix=-X -pl nn-layers -am test-compile}:
 * <pre>
 * java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED \
 *      -cp kernels/target-X/classes:cpu-vector/target-X/classes:dispatch/target-X/classes:nn-layers/target-X/classes:nn-layers/target-X/test-classes \
 *      dev.kiln.nn.prune.SparseInferenceSpeedMain [spec=layer:0.9] [batch=256] [rounds=6]
 * </pre>
 */
public final class SparseInferenceSpeedMain {
    public static void main(String[] args) {
        PruneSpec spec = PruneSpec.parse(args.length > 0 ? args[0] : "layer:0.9");
        int batch = args.length > 1 ? Integer.parseInt(args[1]) : 256, rounds = args.length > 2 ? Integer.parseInt(args[2]) : 6;
        SplittableRandom r = new SplittableRandom(7);
        try (Sequential m = Models.cnn(7); Pruner p = new Pruner(m.parameters(), spec, new PruneSchedule(0, spec.sparsity(), 0, 0, 1))) {
            p.pruneTo(spec.sparsity(), null);
            long t0 = System.nanoTime();
            try (SparseInference si = (System.getenv("FORCE") != null ? SparseInference.of(m, p) : SparseInference.calibrated(m, p, batch, 1, 28, 28))) {
                System.out.printf("calibrated in %.2f s%n", (System.nanoTime() - t0) / 1e9);
                for (LayerChoice c : si.choices()) System.out.println("  " + c);
                float[] x = new float[batch * 784];
                for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian();
                long bestDense = Long.MAX_VALUE, bestSparse = Long.MAX_VALUE;
                try (NoGrad ng = NoGrad.enter()) {
                    for (int round = 0; round < rounds; round++) {
                        try (Scope s = Scope.open()) {
                            Tensor in = Tensor.of(x, batch, 1, 28, 28);
                            long a = System.nanoTime();
                            m.forward(in).toArray();
                            long b = System.nanoTime();
                            si.forward(in).toArray();
                            long c = System.nanoTime();
                            bestDense = Math.min(bestDense, b - a);
                            bestSparse = Math.min(bestSparse, c - b);
                        }
                    }
                }
                System.out.printf("whole model, batch %d, best of %d: dense %.2f ms, with sparse layers %.2f ms, x%.2f%n", batch, rounds,
                        bestDense / 1e6, bestSparse / 1e6, (double) bestDense / bestSparse);
                List<String> how = si.describe();
                for (String h : how) System.out.println("  " + h);
            }
        }
    }
}

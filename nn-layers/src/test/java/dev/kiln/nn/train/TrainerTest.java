package dev.kiln.nn.train;

import dev.kiln.nn.NoGrad;
import dev.kiln.nn.Profiler;
import dev.kiln.nn.Scope;
import dev.kiln.nn.Tensor;
import dev.kiln.nn.data.FashionMnist;
import dev.kiln.nn.data.LabelledImages;
import dev.kiln.nn.layers.Parameter;
import dev.kiln.nn.layers.Sequential;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

class TrainerTest {
    static final LabelledImages TRAIN = Synthetic.images(256, 1), TEST = Synthetic.images(100, 2);
    @TempDir Path dir;

    static TrainConfig small(String optimizer, int epochs) {
        return TrainConfig.defaults().withModel("mlp").withOptimizer(optimizer).withEpochs(epochs).withSeed(7);
    }

    static List<float[]> weights(Trainer t) {
        List<float[]> out = new ArrayList<>();
        for (Parameter p : t.model().parameters()) out.add(p.tensor().toArray());
        for (Parameter p : t.optimizer().state()) out.add(p.tensor().toArray());
        return out;
    }

    static void assertSameWeights(List<float[]> a, List<float[]> b) {
        assertEquals(a.size(), b.size());
        for (int i = 0; i < a.size(); i++) assertArrayEquals(a.get(i), b.get(i), "tensor " + i + " differs");
    }

    @Test void twoRunsWithOneSeedAreBitIdentical() {
        List<EpochMetrics> first, second;
        List<float[]> w1, w2;
        try (Trainer t = new Trainer(small("sgd", 1), TRAIN, TEST)) {
            first = t.fit(Progress.NONE);
            w1 = weights(t);
        }
        try (Trainer t = new Trainer(small("sgd", 1), TRAIN, TEST)) {
            second = t.fit(Progress.NONE);
            w2 = weights(t);
        }
        assertTrue(first.getFirst().sameResults(second.getFirst()), first + " vs " + second);
        assertSameWeights(w1, w2);
        try (Trainer t = new Trainer(small("sgd", 1).withSeed(8), TRAIN, TEST)) {
            assertFalse(t.fit(Progress.NONE).getFirst().sameResults(first.getFirst()), "another seed gives another run");
        }
    }

    @Test void resumingFromAnEpochTwoCheckpointReproducesTheUninterruptedRun() throws IOException {
        for (String optimizer : new String[] {"sgd", "adamw"}) {
            TrainConfig config = small(optimizer, 3).withSchedule("cosine", 3);
            List<EpochMetrics> straight;
            List<float[]> wStraight;
            try (Trainer t = new Trainer(config, TRAIN, TEST)) {
                straight = t.fit(Progress.NONE);
                wStraight = weights(t);
            }
            Path ckpt = dir.resolve(optimizer + ".safetensors");
            try (Trainer t = new Trainer(config, TRAIN, TEST)) {
                // The run stops after two of its three epochs (the schedule spans all three).
                t.trainEpoch(Progress.NONE);
                assertTrue(t.trainEpoch(Progress.NONE).sameResults(straight.get(1)));
                t.save(ckpt);
            }
            try (Trainer t = Trainer.resume(ckpt, 0, TRAIN, TEST)) {
                assertEquals(2, t.epoch());
                assertEquals(config, t.config(), "the configuration comes back from the metadata");
                List<EpochMetrics> rest = t.fit(Progress.NONE);
                assertEquals(1, rest.size());
                assertTrue(rest.getFirst().sameResults(straight.get(2)), optimizer + ": " + rest.getFirst() + " vs " + straight.get(2));
                assertSameWeights(wStraight, weights(t));
            }
        }
    }

    @Test void progressSeesEveryBatchAndTheModelLearns() {
        List<double[]> calls = new ArrayList<>();
        List<EpochMetrics> epochs = new ArrayList<>();
        Progress p = new Progress() {
            @Override public void batch(int epoch, int batch, int batches, double loss, double accuracy, double samplesPerSecond) {
                calls.add(new double[] {epoch, batch, batches, loss, accuracy, samplesPerSecond});
            }

            @Override public void epoch(EpochMetrics m) { epochs.add(m); }
        };
        try (Trainer t = new Trainer(small("adam", 2).withBatchSize(100), TRAIN, TEST)) {
            List<EpochMetrics> ms = t.fit(p);
            assertEquals(ms, epochs);
            assertEquals(6, calls.size(), "256 samples in batches of 100: 3 per epoch, the last one partial");
            assertArrayEquals(new double[] {2, 3, 3}, java.util.Arrays.copyOf(calls.getLast(), 3));
            assertTrue(calls.getLast()[5] > 0);
            EpochMetrics last = ms.getLast();
            assertEquals(calls.getLast()[3], last.trainLoss(), "the epoch's loss is the last running loss");
            assertTrue(last.testAccuracy() > 0.8, "synthetic bands are easy: " + last);
            assertTrue(last.trainSeconds() > 0 && last.samplesPerSecond() > 0);
            assertEquals(6, t.optimizer().steps());
        }
    }

    @Test void profilerAttributesTimeToOpFamilies() {
        try (Trainer t = new Trainer(small("sgd", 1).withLimit(64).withProfile(true).withClipNorm(1.0), TRAIN, TEST)) {
            t.fit(Progress.NONE);
            Map<Profiler.Family, Profiler.Totals> prof = t.profile();
            for (Profiler.Family f : List.of(Profiler.Family.GEMM, Profiler.Family.ELEMENTWISE, Profiler.Family.OPTIMIZER, Profiler.Family.DATA))
                assertTrue(prof.get(f).calls() > 0 && prof.get(f).nanos() > 0, f + ": " + prof);
            assertEquals(0, prof.get(Profiler.Family.CONV_FORWARD).calls(), "an MLP runs no convolution");
        }
        assertFalse(Profiler.enabled(), "closing the trainer switches profiling off");
    }

    @Test void modelsHaveTheAdvertisedLayers() {
        try (Sequential cnn = Models.cnn(1); Sequential mlp = Models.mlp(1)) {
            assertEquals(List.of("0.weight [32, 1, 5, 5]", "0.bias [32]", "3.weight [64, 32, 5, 5]", "3.bias [64]",
                    "7.weight [128, 3136]", "7.bias [128]", "9.weight [10, 128]", "9.bias [10]"), describe(cnn));
            assertEquals(List.of("0.weight [256, 784]", "0.bias [256]", "2.weight [256, 256]", "2.bias [256]",
                    "4.weight [10, 256]", "4.bias [10]"), describe(mlp));
            try (Scope s = Scope.open(); NoGrad ng = NoGrad.enter()) {
                // One image through the CNN: the shapes chain (the reference convolution is slow, so one only).
                assertArrayEquals(new int[] {1, 10}, cnn.forward(Tensor.zeros(1, 1, 28, 28)).shape());
                assertArrayEquals(new int[] {3, 10}, mlp.forward(Tensor.zeros(3, 784)).shape());
            }
        }
        try (Sequential a = Models.mlp(5); Sequential b = Models.mlp(5)) {
            assertArrayEquals(a.parameters().getFirst().tensor().toArray(), b.parameters().getFirst().tensor().toArray());
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Models.create("resnet", 1));
        assertTrue(e.getMessage().contains("resnet") && e.getMessage().contains("[cnn, mlp]"), e.getMessage());
    }

    static List<String> describe(Sequential m) {
        return m.parameters().stream().map(p -> p.name() + " " + java.util.Arrays.toString(p.tensor().shape())).toList();
    }

    @Test void batchesAreNormalisedShuffledPerEpochAndKeepTheRemainder() {
        Batches cnn = new Batches(TRAIN, 70, false), mlp = new Batches(TRAIN, 70, true);
        assertEquals(70, cnn.size());
        assertEquals(3, cnn.batches(32));
        int[] o1 = cnn.order(3, 1), o1again = cnn.order(3, 1), o2 = cnn.order(3, 2);
        assertArrayEquals(o1, o1again);
        assertFalse(java.util.Arrays.equals(o1, o2), "each epoch has its own order");
        int[] sorted = o1.clone();
        java.util.Arrays.sort(sorted);
        for (int i = 0; i < 70; i++) assertEquals(i, sorted[i], "a permutation");
        Batches.Batch last = cnn.batch(o1, 2, 32);
        assertArrayEquals(new int[] {6, 1, 28, 28}, last.shape());
        assertArrayEquals(new int[] {6, 784}, mlp.batch(o1, 2, 32).shape());
        int s = o1[64];
        assertEquals(TRAIN.labels()[s], last.labels()[0]);
        assertEquals((TRAIN.images()[s * 784 + 5] - FashionMnist.MEAN) / FashionMnist.STD, last.inputs()[5]);
        assertThrows(IllegalArgumentException.class, () -> cnn.batch(o1, 3, 32));
    }

    @Test void badConfigurationsAreNamed() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> TrainConfig.defaults().withOptimizer("rmsprop"));
        assertTrue(e.getMessage().contains("rmsprop") && e.getMessage().contains("[sgd, adam, adamw]"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> TrainConfig.defaults().withBatchSize(0));
        assertTrue(e.getMessage().contains("batch size must be >= 1, got 0"), e.getMessage());
        assertEquals(0.01, TrainConfig.defaults().learningRate());
        assertEquals(1e-3, TrainConfig.defaults().withOptimizer("adamw").learningRate());
        assertEquals(0.01, TrainConfig.defaults().withOptimizer("adamw").decay());
    }

    @Test void resumingWithAnotherModelOrSeedIsRefused() throws IOException {
        Path ckpt = dir.resolve("one.safetensors");
        try (Trainer t = new Trainer(small("sgd", 1).withLimit(64), TRAIN, null)) {
            t.fit(Progress.NONE, ckpt);
            assertTrue(Double.isNaN(t.history().getFirst().testLoss()), "no test set, no test metrics");
        }
        try (Trainer t = new Trainer(small("sgd", 2).withSeed(9).withLimit(64), TRAIN, null)) {
            IOException e = assertThrows(IOException.class, () -> t.load(ckpt));
            assertTrue(e.getMessage().contains("seed 7, this run has seed 9"), e.getMessage());
        }
        try (Trainer t = new Trainer(small("sgd", 2).withModel("cnn").withLimit(64), TRAIN, null)) {
            IOException e = assertThrows(IOException.class, () -> t.load(ckpt));
            assertTrue(e.getMessage().contains("holds model mlp, this run trains cnn"), e.getMessage());
        }
    }

    @Test void learnsRealFashionMnistWhenInstalled() throws IOException {
        boolean present = Files.isDirectory(FashionMnist.DEFAULT_DIR);
        if (!present) System.out.println("skipping: Fashion-MNIST not installed at " + FashionMnist.DEFAULT_DIR);
        Assumptions.assumeTrue(present, "Fashion-MNIST not installed at " + FashionMnist.DEFAULT_DIR + " (apt-get install dataset-fashion-mnist)");
        LabelledImages train = FashionMnist.train(FashionMnist.DEFAULT_DIR), test = FashionMnist.test(FashionMnist.DEFAULT_DIR);
        try (Trainer t = new Trainer(small("sgd", 1).withLimit(2048), train, test)) {
            EpochMetrics m = t.fit(Progress.NONE).getFirst();
            assertTrue(m.testAccuracy() > 0.6, "one epoch on 2048 images: " + m);
            assertEquals(2048, t.evaluate().samples());
        }
        // Determinism on the real images too: 256 of them, one epoch, twice.
        EpochMetrics[] runs = new EpochMetrics[2];
        for (int i = 0; i < 2; i++) {
            try (Trainer t = new Trainer(small("adam", 1).withLimit(256), train, test)) {
                runs[i] = t.fit(Progress.NONE).getFirst();
            }
        }
        assertTrue(runs[0].sameResults(runs[1]), runs[0] + " vs " + runs[1]);
    }
}

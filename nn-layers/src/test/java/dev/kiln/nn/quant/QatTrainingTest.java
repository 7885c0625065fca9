package dev.kiln.nn.quant;

import dev.kiln.nn.data.LabelledImages;
import dev.kiln.nn.io.Checkpoint;
import dev.kiln.nn.layers.Linear;
import dev.kiln.nn.layers.Sequential;
import dev.kiln.nn.train.Batches;
import dev.kiln.nn.train.Progress;
import dev.kiln.nn.train.TrainConfig;
import dev.kiln.nn.train.Trainer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.*;

/** Quantisation-aware training through the {@link Trainer}, post-training quantisation, and checkpoint errors. */
class QatTrainingTest {
    @TempDir Path dir;

    /** Each class lights a different horizontal band of a noisy 28x28 image. */
    private static LabelledImages images(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] px = new float[n * 784];
        int[] y = new int[n];
        for (int i = 0; i < n; i++) {
            y[i] = r.nextInt(10);
            for (int p = 0; p < 784; p++)
                px[i * 784 + p] = (float) Math.min(1, Math.max(0, (p / 28 / 2 == y[i] + 2 ? 0.7 : 0.1) + 0.2 * r.nextGaussian()));
        }
        return new LabelledImages(px, y, n, 28, 28, 10);
    }

    private static TrainConfig config() { return TrainConfig.defaults().withModel("mlp").withEpochs(2).withLimit(0); }

    @Test void qatTrainsConvertsAndResumesWithItsMode() throws IOException {
        LabelledImages train = images(384, 1), test = images(128, 2);
        Path ckpt = dir.resolve("qat.safetensors");
        for (QuantMode mode : QuantMode.values()) {
            try (Trainer t = new Trainer(config(), train, test)) {
                t.enableQat(mode);
                assertThrows(IllegalStateException.class, () -> t.enableQat(mode));
                t.fit(Progress.NONE);
                double fake = t.evaluate().accuracy();
                assertTrue(fake > 0.5, mode + ": fake-quantised accuracy " + fake + " on an easy set");
                try (QuantizedModel q = Quantization.convert(t.model())) {
                    double real = t.evaluate(q::forward).accuracy();
                    assertEquals(fake, real, 0.03, mode + ": quantised model against the fake-quantised one");
                }
                if (mode == QuantMode.INT4) {
                    t.save(ckpt);
                    assertEquals("int4", Checkpoint.metadata(ckpt).get(Quantization.METADATA_KEY));
                }
            }
        }
        try (Trainer resumed = Trainer.resume(ckpt, 2, train, test)) {
            assertEquals(QuantMode.INT4, resumed.qat());
            assertEquals(2, resumed.epoch());
        }
        // A QAT checkpoint is not an f32 one.
        IOException e = assertThrows(IOException.class, () -> Quantization.loadF32(ckpt));
        assertTrue(e.getMessage().contains("was trained with --qat int4; quantize takes an f32 checkpoint"), e.getMessage());
        try (Trainer f32 = new Trainer(config(), train, test)) {
            e = assertThrows(IOException.class, () -> f32.load(ckpt));
            assertTrue(e.getMessage().contains("holds a --qat int4 run, this run is f32"), e.getMessage());
        }
    }

    @Test void postTrainingInt8KeepsTheF32Accuracy() throws IOException {
        LabelledImages train = images(384, 3), test = images(256, 4);
        Path ckpt = dir.resolve("f32.safetensors");
        try (Trainer t = new Trainer(config(), train, test)) {
            t.fit(Progress.NONE);
            t.save(ckpt);
        }
        Quantization.Loaded loaded = Quantization.loadF32(ckpt);
        Batches trainBatches = new Batches(train, 0, true), testBatches = new Batches(test, 0, true);
        try (Sequential f32 = loaded.network(); Sequential qat = Quantization.qat(f32, QuantMode.INT8, 1)) {
            assertEquals("mlp", loaded.model());
            double base = Quantization.evaluate(f32, testBatches, 256).accuracy();
            Quantization.calibrate(qat, trainBatches, 3, 64);
            try (QuantizedModel q = Quantization.convert(qat)) {
                double real = Quantization.evaluate(q, testBatches, 256).accuracy();
                assertTrue(base > 0.5, "f32 accuracy " + base);
                assertEquals(base, real, 0.02, "int8 post-training quantisation");
                Path out = dir.resolve("f32.int8.safetensors");
                QuantizedCheckpoint.save(out, q, Map.of("model", "mlp"));
                // I8 weights: a quarter of the f32 bytes, plus scales and biases.
                long weights = 784L * 256 + 256L * 256 + 256L * 10;
                assertTrue(java.nio.file.Files.size(out) < weights + 64 * 1024, "size " + java.nio.file.Files.size(out));
            }
        }
    }

    @Test void aCheckpointOfAnotherModelIsAClearError() throws IOException {
        Path other = dir.resolve("other.safetensors");
        try (Sequential tiny = new Sequential(new Linear(3, 2, new SplittableRandom(1)))) {
            Checkpoint.save(other, tiny, null, Map.of("model", "cnn", "seed", "1"));
            IOException e = assertThrows(IOException.class, () -> Quantization.loadF32(other));
            assertTrue(e.getMessage().contains("0.weight") && e.getMessage().contains(other.toString()), e.getMessage());
            Checkpoint.save(other, tiny, null, Map.of("model", "resnet"));
            e = assertThrows(IOException.class, () -> Quantization.loadF32(other));
            assertTrue(e.getMessage().contains("holds model resnet, expected one of [cnn, mlp]"), e.getMessage());
        }
    }
}

package dev.kiln.nn.io;

import dev.kiln.nn.Ops;
import dev.kiln.nn.Scope;
import dev.kiln.nn.Tensor;
import dev.kiln.nn.layers.Activations;
import dev.kiln.nn.layers.Linear;
import dev.kiln.nn.layers.Parameter;
import dev.kiln.nn.layers.Sequential;
import dev.kiln.nn.optim.Adam;
import dev.kiln.nn.optim.Optimizer;
import dev.kiln.nn.optim.Sgd;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.*;

class CheckpointTest {
    @TempDir Path dir;

    static Sequential model(long seed, int hidden) {
        SplittableRandom r = new SplittableRandom(seed);
        return new Sequential(new Linear(5, hidden, r), Activations.relu(), new Linear(hidden, 3, r));
    }

    /** Two steps so that the optimiser state is non-zero. */
    static void train(Sequential m, Optimizer opt) {
        float[] x = new float[4 * 5];
        for (int i = 0; i < x.length; i++) x[i] = (float) Math.sin(i);
        for (int s = 0; s < 2; s++) {
            try (Scope sc = Scope.open()) {
                Ops.sum(Ops.mul(m.forward(Tensor.of(x, 4, 5)), m.forward(Tensor.of(x, 4, 5)))).backward();
                opt.step();
            }
        }
    }

    static void assertSameState(List<Parameter> expected, List<Parameter> actual) {
        assertEquals(expected.size(), actual.size());
        for (int i = 0; i < expected.size(); i++) {
            assertEquals(expected.get(i).name(), actual.get(i).name());
            assertArrayEquals(expected.get(i).tensor().toArray(), actual.get(i).tensor().toArray(), expected.get(i).name());
        }
    }

    @Test void weightsAndAdamStateRoundTripBitExactly() throws IOException {
        Path file = dir.resolve("a.safetensors");
        try (Sequential m = model(1, 4); Adam opt = Adam.adamW(m.parameters(), 0.01);
             Sequential m2 = model(2, 4); Adam opt2 = Adam.adamW(m2.parameters(), 0.5)) {
            train(m, opt);
            Checkpoint.save(file, m, opt, Map.of("epoch", "2"));
            Map<String, String> meta = Checkpoint.load(file, m2, opt2);
            assertSameState(m.parameters(), m2.parameters());
            assertSameState(opt.state(), opt2.state());
            assertEquals(2, opt2.steps());
            assertEquals(0.01, opt2.learningRate());
            assertEquals("2", meta.get("epoch"));
            assertEquals("adamw", meta.get("optimizer"));
            assertEquals("0.999", meta.get("optimizer.beta2"));
            assertFalse(meta.containsKey(SafeTensors.CHECKSUM_KEY), "the checksum is checked, not handed on");
            SafeTensors.Contents c = SafeTensors.read(file);
            assertEquals(List.of("0.weight", "0.bias", "2.weight", "2.bias", "optimizer.exp_avg.0.weight", "optimizer.exp_avg.0.bias",
                    "optimizer.exp_avg.2.weight", "optimizer.exp_avg.2.bias", "optimizer.exp_avg_sq.0.weight",
                    "optimizer.exp_avg_sq.0.bias", "optimizer.exp_avg_sq.2.weight", "optimizer.exp_avg_sq.2.bias"),
                    List.copyOf(c.tensors().keySet()));
        }
        byte[] bytes = readAll(file);
        long headerLength = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).getLong();
        assertEquals(0, headerLength % 8, "header padded to 8 bytes");
        String header = new String(bytes, 8, (int) headerLength, StandardCharsets.UTF_8);
        assertTrue(header.contains("\"0.weight\":{\"dtype\":\"F32\",\"shape\":[4,5],\"data_offsets\":[0,80]}"), header);
        assertTrue(header.matches("(?s).*\"sha256\":\"[0-9a-f]{64}\".*"), header);
    }

    @Test void shapeMismatchNamesFileAndTensor() throws IOException {
        Path file = dir.resolve("x.safetensors");
        try (Sequential m = model(1, 4); Sgd opt = new Sgd(m.parameters(), 0.1, 0.9, 0, false);
             Sequential other = model(1, 6); Sgd opt2 = new Sgd(other.parameters(), 0.1, 0.9, 0, false)) {
            Checkpoint.save(file, m, opt, Map.of());
            float[] before = other.parameters().getFirst().tensor().toArray();
            IOException e = assertThrows(IOException.class, () -> Checkpoint.load(file, other, opt2));
            assertEquals("checkpoint " + file + ": tensor 0.weight has shape [4,5], model expects [6,5]", e.getMessage());
            assertArrayEquals(before, other.parameters().getFirst().tensor().toArray(), "a failed load changes nothing");
            try (Adam adam = Adam.adam(m.parameters(), 0.1)) {
                e = assertThrows(IOException.class, () -> Checkpoint.load(file, m, adam));
                assertTrue(e.getMessage().contains("optimizer sgd, this run uses adam"), e.getMessage());
            }
            Checkpoint.load(file, m, null);   // weights only: the momentum in the file is skipped
        }
    }

    @Test void missingAndUnexpectedTensorsAreNamed() throws IOException {
        Path file = dir.resolve("m.safetensors");
        try (Sequential small = new Sequential(new Linear(5, 4, new SplittableRandom(1)));
             Sequential big = model(1, 4)) {
            Checkpoint.save(file, small, null, Map.of());
            IOException e = assertThrows(IOException.class, () -> Checkpoint.load(file, big, null));
            assertEquals("checkpoint " + file + ": tensor 2.weight is missing (model expects shape [3,4])", e.getMessage());
            Checkpoint.save(file, big, null, Map.of());
            e = assertThrows(IOException.class, () -> Checkpoint.load(file, small, null));
            assertTrue(e.getMessage().contains("unexpected tensor 2.weight (not a parameter of the model)"), e.getMessage());
        }
    }

    @Test void corruptFilesGiveTheByteOffset() throws IOException {
        Path file = dir.resolve("c.safetensors");
        try (Sequential m = model(1, 4)) {
            Checkpoint.save(file, m, null, Map.of());
            byte[] good = readAll(file);
            long headerLength = ByteBuffer.wrap(good).order(ByteOrder.LITTLE_ENDIAN).getLong();

            Files.write(file, java.util.Arrays.copyOf(good, good.length - 10));
            IOException e = assertThrows(IOException.class, () -> Checkpoint.load(file, m, null));
            assertTrue(e.getMessage().startsWith("checkpoint " + file + ": truncated at byte " + (good.length - 10) + ": tensor 2.bias"),
                    e.getMessage());

            Files.write(file, java.util.Arrays.copyOf(good, 5));
            e = assertThrows(IOException.class, () -> Checkpoint.load(file, m, null));
            assertTrue(e.getMessage().contains("truncated at byte 5"), e.getMessage());

            byte[] bad = good.clone();
            ByteBuffer.wrap(bad).order(ByteOrder.LITTLE_ENDIAN).putLong(0, 1L << 40);
            Files.write(file, bad);
            e = assertThrows(IOException.class, () -> Checkpoint.load(file, m, null));
            assertTrue(e.getMessage().contains("bad header length 1099511627776 at byte 0"), e.getMessage());

            bad = good.clone();
            int colon = new String(good, 8, (int) headerLength, StandardCharsets.UTF_8).indexOf(':');
            bad[8 + colon] = '=';
            Files.write(file, bad);
            e = assertThrows(IOException.class, () -> Checkpoint.load(file, m, null));
            assertTrue(e.getMessage().contains("bad JSON header at byte " + (8 + colon) + ": unexpected '=', expected ':'"), e.getMessage());

            bad = good.clone();
            bad[bad.length - 1] ^= 1;
            Files.write(file, bad);
            e = assertThrows(IOException.class, () -> Checkpoint.load(file, m, null));
            assertTrue(e.getMessage().contains("checksum mismatch"), e.getMessage());

            bad = new String(good, StandardCharsets.ISO_8859_1).replaceFirst("\"F32\"", "\"F16\"").getBytes(StandardCharsets.ISO_8859_1);
            Files.write(file, bad);
            e = assertThrows(IOException.class, () -> Checkpoint.load(file, m, null));
            assertTrue(e.getMessage().contains("tensor 0.weight has dtype F16, expected F32"), e.getMessage());
        }
    }

    @Test void aFailedSaveLeavesTheOldFileAndNoTemporary() throws IOException {
        Path file = dir.resolve("keep.safetensors");
        try (Sequential m = model(1, 4)) {
            Checkpoint.save(file, m, null, Map.of("epoch", "1"));
            byte[] before = readAll(file);
            List<SafeTensors.Item> items = List.of(
                    new SafeTensors.Item("a", new int[] {2}, () -> new float[] {1, 2}),
                    new SafeTensors.Item("b", new int[] {2}, () -> { throw new IllegalStateException("device lost"); }));
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> SafeTensors.write(file, Map.of(), items));
            assertEquals("device lost", e.getMessage());
            assertArrayEquals(before, readAll(file), "the existing checkpoint is untouched");
            try (var files = Files.list(dir)) {
                assertEquals(List.of(file), files.toList(), "the temporary file is removed");
            }
        }
    }

    private static byte[] readAll(Path p) throws IOException { return Files.readAllBytes(p); }
}

package dev.kiln.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/** {@code kiln train --qat} and {@code kiln quantize}: the quantised evaluation, the written model, and bad input. */
class QuantizeCommandTest {
    @TempDir Path dir;

    private void writeSet(String prefix, int n, long seed) throws IOException { SyntheticIdx.writeSet(dir, prefix, n, seed); }

    @Test void trainsWithQatThenQuantizesAnF32Checkpoint() throws IOException {
        writeSet("train", 384, 1);
        writeSet("t10k", 128, 2);
        Path qatRun = dir.resolve("qat");
        CliRun q = CliRun.of("train", "--model", "mlp", "--epochs", "1", "--data", dir.toString(), "--out", qatRun.toString(), "--qat", "int8");
        assertEquals(0, q.exitCode(), q.both());
        assertTrue(q.out().contains("layer 0: linear int8") && q.out().contains("layer 4: linear int8"), q.both());
        assertTrue(q.out().matches("(?s).*quantised int8 model \\(low-bit GEMM kernels\\): test accuracy \\d\\.\\d{4}.*fake-quantised: \\d\\.\\d{4}.*"), q.both());
        String[] lines = q.lines();
        assertTrue(lines[lines.length - 1].matches("test accuracy (0\\.\\d{4}|1\\.0000)"), q.both());

        // quantize refuses the QAT checkpoint, then converts an f32 one and writes the model beside it.
        Path qatCkpt = qatRun.resolve("epoch-1.safetensors");
        CliRun refused = CliRun.of("quantize", qatCkpt.toString(), "--to", "int8", "--data", dir.toString());
        assertEquals(1, refused.exitCode(), refused.both());
        assertTrue(refused.err().contains("was trained with --qat int8; quantize takes an f32 checkpoint"), refused.both());

        Path f32Run = dir.resolve("f32");
        assertEquals(0, CliRun.of("train", "--model", "mlp", "--epochs", "1", "--data", dir.toString(), "--out", f32Run.toString()).exitCode());
        Path ckpt = f32Run.resolve("epoch-1.safetensors");
        CliRun r = CliRun.of("quantize", ckpt.toString(), "--to", "int4", "--data", dir.toString(), "--calibration-batches", "2");
        assertEquals(0, r.exitCode(), r.both());
        assertTrue(r.out().contains("layer 0: linear int4 (weights s4, groups of 16, input f32)"), r.both());
        assertTrue(r.out().matches("(?s).*f32: +test accuracy \\d\\.\\d{4}, .* samples/s.*int4 \\(low-bit GEMM\\): +test accuracy \\d\\.\\d{4}.*x f32\\).*"), r.both());
        assertTrue(Files.exists(f32Run.resolve("epoch-1.int4.safetensors")), r.both());
        lines = r.lines();
        assertTrue(lines[lines.length - 1].matches("test accuracy (0\\.\\d{4}|1\\.0000)"), r.both());
    }

    @Test void badModesAreClear() throws IOException {
        CliRun r = CliRun.of("train", "--qat", "foo", "--data", dir.toString());
        assertEquals(2, r.exitCode(), r.both());
        assertTrue(r.err().contains("kiln train: --qat: quantisation mode foo is not one of [int8, int4, binary]"), r.both());
        Path none = dir.resolve("none.safetensors");
        r = CliRun.of("quantize", none.toString(), "--to", "int2");
        assertEquals(2, r.exitCode(), r.both());
        assertTrue(r.err().contains("kiln quantize: --to: quantisation mode int2 is not one of [int8, int4, binary]"), r.both());
        r = CliRun.of("quantize", none.toString(), "--to", "binary");
        assertEquals(2, r.exitCode(), r.both());
        assertTrue(r.err().contains("--to binary needs training (kiln train --qat binary)"), r.both());
        r = CliRun.of("quantize", none.toString(), "--to", "int8");
        assertEquals(1, r.exitCode(), r.both());
        assertTrue(r.err().startsWith("kiln quantize: ") && r.err().contains("none.safetensors"), r.both());
    }
}

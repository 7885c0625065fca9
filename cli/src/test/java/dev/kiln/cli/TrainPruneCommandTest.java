package dev.kiln.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/** {@code kiln train --prune}: the sparsity report, dense against sparse evaluation, and bad specifications. */
class TrainPruneCommandTest {
    @TempDir Path dir;

    private void writeSet(String prefix, int n, long seed) throws IOException { SyntheticIdx.writeSet(dir, prefix, n, seed); }

    @Test void prunesReportsSparsityAndComparesSparseWithDenseKernels() throws IOException {
        writeSet("train", 640, 1);
        writeSet("t10k", 200, 2);
        Path run = dir.resolve("run");
        CliRun r = CliRun.of("train", "--model", "mlp", "--epochs", "1", "--data", dir.toString(), "--out", run.toString(),
                "--prune", "global:0.8");
        assertEquals(0, r.exitCode(), r.both());
        String[] lines = r.lines();
        assertTrue(lines[lines.length - 1].matches("test accuracy (0\\.\\d{4}|1\\.0000)"), r.both());
        assertTrue(r.out().contains("pruning global:0.8 (each layer keeps >= 5%): dense to step 2"), r.both());
        assertTrue(r.out().contains("per-layer sparsity (global:0.8)") && r.out().contains("0.weight") && r.out().contains("4.weight"), r.both());
        assertTrue(r.out().contains("overall    0.8000 of the prunable weights are zero"), r.both());
        assertTrue(r.out().contains("pruned model, dense kernels:") && r.out().contains("pruned model, sparse kernels:"), r.both());
        assertTrue(r.out().contains("forward time per layer"), r.both());
        for (String w : new String[] {"0.weight: ", "2.weight: ", "4.weight: "}) assertTrue(r.out().contains(w), w + " in " + r.both());
        // the timed choice per pruned layer: format, both times, ratio, which one runs and why
        assertTrue(r.out().contains("sparse or dense per pruned layer"), r.both());
        assertTrue(r.out().lines().anyMatch(l -> l.matches("  0 +0\\.weight +0\\.\\d{4}  csr 256x784 +\\d+\\.\\d{3} +\\d+\\.\\d{3} +\\d+\\.\\d{2}  (sparse|dense) \\(.+\\)")),
                r.both());
        String json = Files.readString(run.resolve("prune.json"));
        for (String key : new String[] {"\"spec\":\"global:0.8\"", "\"layers\":[", "\"dense_kernels\":{\"test_accuracy\":", "\"speedup\":",
                "\"layer_choices\":[{\"layer\":0,\"name\":\"0.weight\"", "\"dense_ms\":", "\"chosen\":"})
            assertTrue(json.contains(key), key + " in " + json);

        // Resuming the pruned run picks its pruning up from the checkpoint; a different --prune is refused.
        CliRun other = CliRun.of("train", "--data", dir.toString(), "--out", dir.resolve("other").toString(), "--epochs", "2",
                "--resume", run.resolve("epoch-1.safetensors").toString(), "--prune", "layer:0.5");
        assertEquals(2, other.exitCode(), other.both());
        assertTrue(other.err().contains("the checkpoint's run prunes global:0.8"), other.both());
    }

    @Test void badSpecificationsAreClear() {
        for (String[] bad : new String[][] {{"global:1.5", "kiln train: --prune: sparsity 1.5 in 'global:1.5' is outside [0, 1)"},
                {"foo", "kiln train: --prune: unknown method 'foo'; expected global:S or layer:S with 0 <= S < 1 (e.g. global:0.9), or 2:4"}}) {
            CliRun r = CliRun.of("train", "--prune", bad[0], "--data", dir.toString());
            assertEquals(2, r.exitCode(), r.both());
            assertTrue(r.err().contains(bad[1]), r.both());
        }
    }
}

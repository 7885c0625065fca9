package dev.kiln.cli;

import dev.kiln.nn.io.Checkpoint;
import dev.kiln.nn.layers.Sequential;
import dev.kiln.nn.train.Models;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.*;

/** {@code kiln bench lmul-precision --model}: the per-layer rows of a cnn's real operand pairs, and bad input. */
class LmulActivationsCommandTest {
    @TempDir Path dir;

    private static final Pattern ROW = Pattern.compile("(?m)^(cnn #\\d+ (conv|linear)[^\\n]*?|all layers)\\s+(\\d+)\\s+([0-9.]+)\\s+([0-9.]+)\\s+([0-9.]+)\\s+([0-9.]+)");

    @Test void samplesEveryConvAndLinearLayerOfACnn() throws IOException {
        SyntheticIdx.writeSet(dir, "t10k", 24, 5);
        Path ckpt = dir.resolve("cnn.safetensors");
        try (Sequential net = Models.cnn(7)) {
            Checkpoint.save(ckpt, net, null, Map.of("model", "cnn", "seed", "7"));
        }
        CliRun r = CliRun.of("bench", "lmul-precision", "--pairs", "5000", "--model", ckpt.toString(), "--data", dir.toString(), "--images", "8");
        assertEquals(0, r.exitCode(), r.both());
        Matcher m = ROW.matcher(r.out());
        int rows = 0;
        long layerPairs = 0, allPairs = -1;
        while (m.find()) {
            long pairs = Long.parseLong(m.group(3));
            double mean3 = Double.parseDouble(m.group(4)), max3 = Double.parseDouble(m.group(5));
            double mean4 = Double.parseDouble(m.group(6)), max4 = Double.parseDouble(m.group(7));
            assertTrue(pairs > 0, m.group());
            // L-Mul's relative error is bounded (below 1/3 for these mantissa widths) and the 4-bit form is the closer one
            assertTrue(mean3 > 0.01 && mean3 < 0.2 && max3 < 1.0 / 3 && mean4 < mean3 && max4 <= max3, m.group());
            if (m.group(1).equals("all layers")) allPairs = pairs;
            else {
                layerPairs += pairs;
                rows++;
            }
        }
        assertEquals(4, rows, "two conv and two linear rows expected: " + r.out());
        assertEquals(layerPairs, allPairs, r.out());
        assertTrue(r.out().contains("cnn #1 conv 1->32 5x5") && r.out().contains("cnn #8 linear 3136->128"), r.out());
    }

    @Test void aMissingCheckpointOrBadImageCountIsClear() {
        CliRun r = CliRun.of("bench", "lmul-precision", "--model", dir.resolve("none.safetensors").toString(), "--data", dir.toString());
        assertEquals(1, r.exitCode(), r.both());
        assertTrue(r.err().contains("bench lmul-precision: cannot run") && r.err().contains("none.safetensors"), r.both());
        r = CliRun.of("bench", "lmul-precision", "--model", dir.resolve("none.safetensors").toString(), "--images", "0");
        assertEquals(2, r.exitCode(), r.both());
        assertTrue(r.err().contains("--images must be >= 1, got 0"), r.both());
    }
}

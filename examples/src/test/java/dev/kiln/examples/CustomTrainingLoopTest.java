package dev.kiln.examples;

import dev.kiln.examples.CustomTrainingLoop.Options;
import dev.kiln.examples.CustomTrainingLoop.Result;
import dev.kiln.nn.data.FashionMnist;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Runs the example for a few dozen steps: the loss must fall and the model must beat chance. */
class CustomTrainingLoopTest {
    private static Result run(Path data, int steps) throws Exception {
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        Result r = CustomTrainingLoop.run(new Options(data, steps, 32, 3e-3, 3, 500), new PrintStream(log, true, StandardCharsets.UTF_8));
        System.out.print(log.toString(StandardCharsets.UTF_8));
        return r;
    }

    private static double mean(java.util.List<Double> xs, int from, int to) {
        double s = 0;
        for (int i = from; i < to; i++) s += xs.get(i);
        return s / (to - from);
    }

    @Test void lossFallsOnWhateverDataIsHere() throws Exception {
        // The real data set when installed, else the synthetic stand-in; both must be learned a little in 60 steps.
        Result r = run(FashionMnist.DEFAULT_DIR, 60);
        assertEquals(60, r.losses().size());
        double first = mean(r.losses(), 0, 10), last = mean(r.losses(), 50, 60);
        assertTrue(last < 0.7 * first, "loss should fall by 30%: first ten steps " + first + ", last ten " + last);
        assertTrue(r.testAccuracy() > 0.5, "accuracy " + r.testAccuracy() + " on " + r.testImages() + " images (chance is 0.1)");
    }

    @Test void missingDataFallsBackToSyntheticAndSaysSo() throws Exception {
        Result r = run(Path.of("/nonexistent/kiln-data"), 30);
        assertTrue(r.synthetic());
        double first = mean(r.losses(), 0, 5), last = mean(r.losses(), 25, 30);
        assertTrue(last < 0.8 * first, "loss should fall on the synthetic data too: " + first + " then " + last);
    }

    @Test void badOptionsAreNamed() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> CustomTrainingLoop.parse(new String[] {"--epochs", "3"}));
        assertTrue(e.getMessage().contains("--epochs"), e.getMessage());
    }
}

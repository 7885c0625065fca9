package dev.kiln.bench;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Every family's JMH state outside JMH on small shapes: set-up checks against the reference, one call counts its rates. */
class OpBenchmarkTest {
    static <T extends OpBenchmark> T on(T b, String backend) {
        b.backend = backend;
        b.threads = 1;
        return b;
    }

    static List<OpBenchmark> smallCases() {
        ReduceBenchmark reduce = new ReduceBenchmark();
        reduce.shape = "3,33,7";
        reduce.op = "ARGMAX";
        SoftmaxBenchmark softmax = new SoftmaxBenchmark();
        softmax.shape = "7,33";
        softmax.log = true;
        softmax.pass = "BACKWARD";
        NormBenchmark norm = new NormBenchmark();
        norm.shape = "BATCH:3,5,7";
        norm.mode = "BACKWARD";
        PoolBenchmark pool = new PoolBenchmark();
        pool.shape = "2,3,9,7,3,2,1";
        pool.pool = "MAX";
        pool.pass = "FORWARD";
        PixelShuffleBenchmark shuffle = new PixelShuffleBenchmark();
        shuffle.shape = "2,8,3,5,2";
        shuffle.unshuffle = false;
        return List.of(reduce, softmax, norm, pool, shuffle);
    }

    @Test void everyFamilyChecksAndRunsOnCpu() throws Exception {
        for (OpBenchmark b : smallCases()) {
            on(b, "cpu");
            try {
                b.setup();
                OpBenchmark.Rates rates = new OpBenchmark.Rates();
                b.op(rates);
                b.op(rates);
                assertTrue(rates.gbyte > 0, b.getClass().getSimpleName() + ": bytes counted");
                assertEquals(2 * b.desc().flops() * 1e-9, rates.gflop, 1e-15, b.getClass().getSimpleName());
            } finally {
                b.tearDown();
            }
        }
    }

    @Test void missingBackendFailsSetupWithReason() {
        var e = assertThrows(Backends.Unavailable.class, () -> on(smallCases().getFirst(), "nosuch").setup());
        assertTrue(e.getMessage().startsWith("skip nosuch: nosuch: no such backend"), e.getMessage());
    }

    @Test void badShapeNamesTheFamily() {
        PoolBenchmark pool = new PoolBenchmark();
        pool.shape = "1,2,3";
        pool.pool = "MAX";
        pool.pass = "FORWARD";
        var e = assertThrows(IllegalArgumentException.class, () -> on(pool, "cpu").setup());
        assertTrue(e.getMessage().startsWith("pool: shape '1,2,3' needs 7"), e.getMessage());
    }
}

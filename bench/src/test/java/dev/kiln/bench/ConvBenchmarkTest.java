package dev.kiln.bench;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The conv and element-wise JMH states' setup outside JMH: checked kernels, counters, a missing backend's reason. */
class ConvBenchmarkTest {
    @Test void convSetupChecksAndCountsFlops() throws Exception {
        ConvBenchmark b = new ConvBenchmark();
        b.shape = "2,4,9,7,6,3,3,1,1,1";
        b.direction = "bwd-weights";
        b.backend = "cpu";
        b.threads = 1;
        try {
            b.setup();
            OpBenchmark.Rates f = new OpBenchmark.Rates();
            b.op(f);
            assertEquals(2.0 * 2 * 6 * 9 * 7 * 4 * 9 * 1e-9, f.gflop, 1e-15, "flop counter");
        } finally {
            b.tearDown();
        }
    }

    @Test void eltwiseSetupChecksAndCountsBytes() throws Exception {
        EltwiseBenchmark b = new EltwiseBenchmark();
        b.op = "add-bias";
        b.size = 2048;
        b.direction = "fwd";
        b.backend = "cpu";
        b.threads = 1;
        try {
            b.setup();
            OpBenchmark.Rates n = new OpBenchmark.Rates();
            b.op(n);
            assertEquals(4.0 * (2048 + 1024 + 2048) * 1e-9, n.gbyte, 1e-15, "byte counter: a, the bias row, the result");
        } finally {
            b.tearDown();
        }
    }

    @Test void missingBackendFailsSetupWithReason() {
        ConvBenchmark b = new ConvBenchmark();
        b.shape = "1,2,5,5,2,3,3,1,1,1";
        b.direction = "fwd";
        b.backend = "nosuch";
        var e = assertThrows(Backends.Unavailable.class, b::setup);
        assertTrue(e.getMessage().contains("nosuch"), e.getMessage());
    }
}

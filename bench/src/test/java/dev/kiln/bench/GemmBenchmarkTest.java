package dev.kiln.bench;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The JMH state's setup outside JMH: it checks the kernel, and a missing backend fails with its reason. */
class GemmBenchmarkTest {
    static GemmBenchmark state(String backend, int size) {
        GemmBenchmark b = new GemmBenchmark();
        b.backend = backend;
        b.size = size;
        b.threads = 1;
        return b;
    }

    @Test void cpuSetupChecksAndRuns() throws Exception {
        GemmBenchmark b = state("cpu", 13);
        try {
            b.setup();
            GemmBenchmark.Flops f = new GemmBenchmark.Flops();
            b.gemm(f);
            assertTrue(f.gflop == 2.0 * 13 * 13 * 13 * 1e-9, "flop counter: " + f.gflop);
        } finally {
            b.tearDown();
        }
    }

    @Test void openblasSetupChecksOrSaysWhyNot() throws Exception {
        GemmBenchmark b = state("openblas", 17);
        if (OpenBlas.load().isEmpty()) {
            var e = assertThrows(Backends.Unavailable.class, b::setup);
            assertTrue(e.getMessage().startsWith("skip openblas: "), e.getMessage());
            return;
        }
        try {
            b.setup();
            b.gemm(new GemmBenchmark.Flops());
        } finally {
            b.tearDown();
        }
    }

    @Test void missingBackendFailsSetupWithReason() {
        var e = assertThrows(Backends.Unavailable.class, () -> state("nosuch", 7).setup());
        assertTrue(e.getMessage().startsWith("skip nosuch: nosuch: no such backend"), e.getMessage());
    }
}

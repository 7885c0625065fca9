package dev.kiln.bench;

import org.junit.jupiter.api.Test;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The cuBLAS peer loads where a driver and cuBLAS are, and otherwise says why in one line. */
class CublasPeerTest {
    @Test void triesTheOverrideThenTheNewestSoname() {
        assertEquals(List.of("/opt/torch/lib/libcublas.so.12", "libcublas.so.13", "libcublas.so.12", "libcublas.so.11"),
                CublasPeer.candidates(" /opt/torch/lib/libcublas.so.12 "));
        assertEquals(List.of("libcublas.so.13", "libcublas.so.12", "libcublas.so.11"), CublasPeer.candidates(null));
    }

    @Test void failsSoftWithOneLineOrMatchesTheOperands() {
        var peer = CublasPeer.load();
        if (peer.isEmpty()) {
            String why = CublasPeer.absentReason();
            System.out.println("cuBLAS peer absent: " + why);
            assertFalse(why.isBlank());
            assertFalse(why.contains("\n"), "one line: " + why);
            return;
        }
        // A GPU with cuBLAS: an odd shape runs, is checked against the operands, and gives a rate.
        StringWriter log = new StringWriter();
        double gflops = peer.get().gflops(GemmOperands.random(new GemmBench.Shape(129, 67, 33), 5), 0.05, new PrintWriter(log, true));
        assertTrue(gflops > 0, "rate " + gflops + "; log: " + log);
        assertFalse(log.toString().contains("WRONG"), log.toString());
    }
}

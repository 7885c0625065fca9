package dev.kiln.bench;

import org.junit.jupiter.api.Test;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code kiln bench dispatch} in-process: a row per size with positive times, and a bad size rejected. */
class DispatchCommandTest {
    @Test void printsFacadeAndKernelTimes() {
        BenchCommandTest.Run r = BenchCommandTest.bench("dispatch", "--sizes", "8", "--time", "0.01");
        System.out.println(r.out());
        assertEquals(0, r.exit(), r.out() + r.err());
        Matcher row = Pattern.compile("(?m)^8\\s+(\\S+)\\s+([0-9.]+)\\s+([0-9.]+)\\s+(-?[0-9.]+)$").matcher(r.out());
        assertTrue(row.find(), r.out());
        double facade = Double.parseDouble(row.group(2)), kernel = Double.parseDouble(row.group(3));
        assertTrue(facade > 0 && kernel > 0, r.out());
        assertEquals(facade - kernel, Double.parseDouble(row.group(4)), 0.11, r.out());
    }

    @Test void rejectsNonPositiveSize() {
        BenchCommandTest.Run r = BenchCommandTest.bench("dispatch", "--sizes", "0");
        assertNotEquals(0, r.exit());
        assertTrue(r.err().contains("size must be >= 1, got 0"), r.err());
    }
}

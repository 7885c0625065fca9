package dev.kiln.cli;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class MainTest {
    @Test void helpListsEveryCommandIncludingTheLauncherOnes() {
        CliRun r = CliRun.of("--help");
        assertEquals(0, r.exitCode(), r.both());
        for (String command : new String[] {"info", "verify", "test", "--threads"})
            assertTrue(r.out().contains(command), "help should mention " + command + ":\n" + r.both());
    }

    @Test void subcommandHelpWorks() {
        CliRun r = CliRun.of("verify", "--help");
        assertEquals(0, r.exitCode(), r.both());
        assertTrue(r.out().contains("--backend") && r.out().contains("--seed") && r.out().contains("gemm"), r.both());
    }

    @Test void noCommandPrintsUsageAndFails() {
        CliRun r = CliRun.of();
        assertEquals(2, r.exitCode(), r.both());
        assertTrue(r.err().contains("Usage: kiln"), r.both());
    }

    @Test void unknownCommandIsAUsageError() {
        CliRun r = CliRun.of("frobnicate");
        assertEquals(2, r.exitCode(), r.both());
        assertTrue(r.err().contains("frobnicate") && r.err().contains("Try 'kiln --help'"), r.both());
    }

    @Test void threadsOptionSetsThePropertyTheCpuBackendReads() {
        String before = System.getProperty(Main.THREADS_PROPERTY);
        try {
            CliRun r = CliRun.of("--threads", "3", "help");
            assertEquals(0, r.exitCode(), r.both());
            assertEquals("3", System.getProperty(Main.THREADS_PROPERTY));
        } finally {
            if (before == null) System.clearProperty(Main.THREADS_PROPERTY);
            else System.setProperty(Main.THREADS_PROPERTY, before);
        }
    }

    @Test void threadsMustBePositive() {
        CliRun r = CliRun.of("--threads", "0", "info");
        assertEquals(2, r.exitCode(), r.both());
        assertTrue(r.err().contains("--threads must be at least 1, got 0"), r.both());
    }

    @Test void describeGivesOneLineWithTheCause() {
        var ex = new IllegalStateException("open failed\n\tat somewhere", new RuntimeException("no driver"));
        assertEquals("open failed (no driver)", Main.describe(ex));
        assertEquals("NullPointerException", Main.describe(new NullPointerException()));
    }
}

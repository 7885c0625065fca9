package dev.kiln.cli;

import dev.kiln.dispatch.BackendStatus;
import dev.kiln.dispatch.Dispatch;
import dev.kiln.kernels.OpKind;
import dev.kiln.kernels.spi.Device;
import org.junit.jupiter.api.Test;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.EnumSet;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class VerifyCommandTest {
    @Test void cpuGemmPasses() {
        CliRun r = CliRun.of("verify", "--backend", "cpu", "--op", "gemm", "--cases", "12", "--seed", "20261123");
        assertEquals(0, r.exitCode(), r.both());
        Matcher m = Pattern.compile("(?m)^verify gemm cpu (\\d+) cases passed").matcher(r.out());
        assertTrue(m.find(), r.both());
        assertTrue(Integer.parseInt(m.group(1)) > 0, "some gemm case must actually run on the cpu:\n" + r.both());
        assertTrue(r.out().contains("verify seed 20261123"), r.both());
        assertTrue(r.out().lines().anyMatch(l -> l.matches("verify: \\d+ passed, 0 failed, \\d+ unsupported")), r.both());
        assertFalse(r.out().contains("FAILED"), r.both());
    }

    @Test void aWrongKernelFailsWithTheWorstCaseAndNonZeroExit() {
        Device cpu = cpuDevice();
        StringWriter text = new StringWriter();
        boolean ok = VerifyCommand.check(Map.of("broken", new CorruptingDevice(cpu)), EnumSet.of(OpKind.GEMM), 8, 5L,
                new PrintWriter(text, true));
        assertFalse(ok, text.toString());
        assertTrue(text.toString().contains("verify gemm broken FAILED "), text.toString());
        assertTrue(text.toString().lines().anyMatch(l -> l.matches("verify: \\d+ passed, [1-9]\\d* failed, \\d+ unsupported")),
                text.toString());
    }

    @Test void unknownBackendIsAClearUsageError() {
        CliRun r = CliRun.of("verify", "--backend", "tpu", "--op", "gemm");
        assertEquals(2, r.exitCode(), r.both());
        assertTrue(r.err().contains("unknown backend 'tpu' (known: ") && r.err().contains("cpu"), r.both());
        assertFalse(r.out().contains("passed"), r.both());
    }

    @Test void unknownOpAndNegativeCasesAreUsageErrors() {
        CliRun op = CliRun.of("verify", "--backend", "cpu", "--op", "matmul");
        assertEquals(2, op.exitCode(), op.both());
        assertTrue(op.err().contains("unknown op 'matmul'") && op.err().contains("gemm"), op.both());
        CliRun cases = CliRun.of("verify", "--backend", "cpu", "--cases", "-1");
        assertEquals(2, cases.exitCode(), cases.both());
        assertTrue(cases.err().contains("--cases must be 0 (all) or more, got -1"), cases.both());
    }

    @Test void anUnavailableBackendIsNamedWithItsReason() {
        BackendStatus missing = null;
        for (BackendStatus b : Dispatch.get().backends()) if (!b.available()) missing = b;
        assumeTrue(missing != null, "every backend is available on this machine");
        CliRun r = CliRun.of("verify", "--backend", missing.name(), "--op", "gemm");
        assertEquals(1, r.exitCode(), r.both());
        assertTrue(r.err().contains("verify: backend " + missing.name() + " is unavailable here: "
                + InfoCommand.reason(missing)), r.both());
    }

    static Device cpuDevice() {
        for (BackendStatus b : Dispatch.get().backends())
            if (b.name().equals("cpu") && b.available()) return b.devices().getFirst();
        throw new AssertionError("the cpu backend is always available: " + Dispatch.get().backends());
    }
}

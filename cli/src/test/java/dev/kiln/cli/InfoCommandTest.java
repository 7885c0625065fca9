package dev.kiln.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class InfoCommandTest {
    @Test void listsTheCpuBackendAndAOneLineReasonForEveryUnavailableOne() {
        CliRun r = CliRun.of("info");
        assertEquals(0, r.exitCode(), r.both());
        List<String> backends = new ArrayList<>();
        for (String line : r.lines()) {
            assertFalse(line.matches("\\s+at .*") || line.contains("Exception"), "stack trace or exception in: " + line);
            assertTrue(line.matches("(jdk|vector|cpu|backend) .*"), "unexpected line: " + line);
            if (!line.startsWith("backend ")) continue;
            backends.add(line.split(" ")[1]);
            if (line.contains(" unavailable: ")) {
                String reason = line.substring(line.indexOf(" unavailable: ") + " unavailable: ".length());
                assertFalse(reason.isBlank(), "no reason in: " + line);
            } else {
                assertTrue(line.matches("backend \\S+ available: .+"), "bad backend line: " + line);
            }
        }
        assertTrue(r.out().contains("backend cpu available: "), r.both());
        assertTrue(backends.containsAll(List.of("cpu", "opencl", "cuda")), "every backend gets a line: " + backends);
        assertTrue(r.out().startsWith("jdk " + Runtime.version()), r.both());
        assertTrue(r.out().contains("vector jdk.incubator.vector loaded"), "tests run with the vector module:\n" + r.both());
    }

    @Test void jsonParsesAndSaysTheSame() throws Exception {
        CliRun r = CliRun.of("info", "--json");
        assertEquals(0, r.exitCode(), r.both());
        JsonNode root = new ObjectMapper().readTree(r.out());
        assertEquals(Runtime.version().toString(), root.path("jdk").path("version").asText());
        assertTrue(root.path("vector").path("loaded").asBoolean(), r.out());
        JsonNode cpu = null;
        for (JsonNode b : root.path("backends")) {
            if (b.path("name").asText().equals("cpu")) cpu = b;
            if (!b.path("available").asBoolean()) {
                assertFalse(b.path("reason").asText().isBlank(), "unavailable without reason: " + b);
                assertFalse(b.path("reason").asText().contains("\n"), "reason is one line: " + b);
            }
        }
        assertTrue(cpu != null && cpu.path("available").asBoolean(), r.out());
        assertTrue(cpu.path("devices").size() >= 1, r.out());
        JsonNode device = cpu.path("devices").get(0);
        assertFalse(device.path("name").asText().isBlank(), r.out());
        assertTrue(device.path("usesHostMemory").asBoolean(), r.out());
    }
}

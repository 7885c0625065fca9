package dev.kiln.bench;

import picocli.CommandLine.Option;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * {@code --backend} and {@code --threads} of the benchmarks that run on every backend against that backend's
 * own baseline ({@code bench spmm}, {@code bench qgemm}): a picocli mixin, so the options read the same in both.
 */
final class DeviceOptions {
    @Option(names = "--backend", split = ",", defaultValue = "cpu", paramLabel = "BACKEND",
            description = "Backends, comma-separated: cpu, opencl, cuda, or backend/impl for one implementation"
                    + " (default: ${DEFAULT-VALUE}).")
    List<String> backends;

    @Option(names = "--threads", split = ",", description = "Thread counts for the CPU backend (default: 1 and all processors)."
            + " Other backends run once with their own threads: an OpenCL CPU driver (POCL) uses one worker per core unless"
            + " POCL_MAX_PTHREAD_COUNT (POCL 3; POCL_CPU_MAX_CU_COUNT in later releases) says otherwise, and its threads column"
            + " shows the device's compute units; GPUs show 0.")
    List<Integer> threads;

    /** The backends, trimmed and lower-cased, blanks dropped. */
    List<String> backendList() {
        List<String> b = new ArrayList<>();
        for (String p : backends) if (!p.isBlank()) b.add(p.strip().toLowerCase(Locale.ROOT));
        return b;
    }

    /** The CPU thread counts asked for, or the default (1 and all processors). */
    List<Integer> threadList() { return threads == null ? BenchCommand.defaultThreads() : threads; }
}

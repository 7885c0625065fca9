package dev.kiln.bench;

import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

/** {@code kiln bench dispatch}: the facade's overhead above the kernel for tiny GEMMs ({@link DispatchOverheadBench}). */
@Command(name = "dispatch", mixinStandardHelpOptions = true,
        description = "Overhead of the public facade (Blas.sgemm on float[]) above the CPU kernel's own time, for tiny GEMMs.")
final class DispatchCommand implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Option(names = "--sizes", split = ",", defaultValue = "8,1,32", description = "Square sizes (default: ${DEFAULT-VALUE}).")
    List<Integer> sizes;

    @Option(names = "--time", defaultValue = "0.2", description = "Time box per round and side, seconds (default: ${DEFAULT-VALUE}).")
    double seconds;

    @Override public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        List<DispatchOverheadBench.Row> rows = new ArrayList<>();
        for (int size : sizes) {
            if (size < 1) throw new picocli.CommandLine.ParameterException(spec.commandLine(), "dispatch: size must be >= 1, got " + size);
            try {
                rows.add(DispatchOverheadBench.measure(size, seconds));
            } catch (Backends.Unavailable e) {
                out.println("# skip: " + e.getMessage());
                out.flush();
                return 1;
            }
        }
        DispatchOverheadBench.print(out, rows);
        return 0;
    }
}

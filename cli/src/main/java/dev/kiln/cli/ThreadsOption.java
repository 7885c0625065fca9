package dev.kiln.cli;

import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code --threads N} for commands that run kernels: applied while parsing, so the property the CPU
 * backend reads is set before any backend loads. ({@code kiln bench} has its own list-valued
 * {@code --threads 1,2}, so this is a mixin per command rather than an inherited global option.)
 */
final class ThreadsOption {
    @Spec(Spec.Target.MIXEE) CommandSpec spec;

    @Option(names = "--threads", paramLabel = "N",
            description = "CPU worker threads (sets kiln.threads; default: KILN_THREADS, else every core).")
    void threads(int n) {
        if (n < 1) throw new ParameterException(spec.commandLine(), "--threads must be at least 1, got " + n);
        System.setProperty(Main.THREADS_PROPERTY, Integer.toString(n));
    }
}

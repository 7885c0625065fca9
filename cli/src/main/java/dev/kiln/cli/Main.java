package dev.kiln.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * The {@code kiln} command line. Started by the {@code ./kiln} launcher, which builds the project and adds
 * the JVM flags ({@code --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED}); the
 * launcher runs {@code ./kiln test} itself. Exit codes: 0 success, 1 a command failed, 2 bad usage.
 */
@Command(name = "kiln", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        synopsisSubcommandLabel = "COMMAND",
        description = "Kiln compute kernels: see what this machine offers and check every backend against the reference.",
        subcommands = {InfoCommand.class, VerifyCommand.class, TrainCommand.class, QuantizeCommand.class, dev.kiln.bench.BenchCommand.class,
                CommandLine.HelpCommand.class},
        footerHeading = "%nRun by the ./kiln launcher itself:%n",
        footer = {"  test    Installs the Debian packages the tests need (when root) and runs",
                  "          every module's tests with Maven; more arguments go to Maven,",
                  "          e.g. ./kiln test -pl kernels",
                  "  jmh     Runs the JMH benchmarks (bench/target/kiln-benchmarks.jar) with",
                  "          JMH's own arguments, e.g. ./kiln jmh GemmBenchmark -p size=1024",
                  "  gpu-bundle  Writes build/gpu-bundle/: a jlinked Java runtime, the jars and",
                  "          run-gpu-checks.sh, for a machine with an NVIDIA driver but no JDK",
                  "",
                  "Environment:",
                  "  KILN_BACKEND=cpu|opencl|cuda  force a backend (or -Dkiln.backend)",
                  "  KILN_VERBOSE=dispatch         trace dispatch decisions",
                  "  KILN_THREADS=N                CPU threads, as --threads",
                  "  KILN_DEBUG=1                  stack traces for failures",
                  "  KILN_JAVA_OPTS                extra JVM flags for ./kiln, e.g. -Xmx8g"})
public final class Main implements Callable<Integer> {
    /** The system property the CPU backend reads for its thread count. */
    static final String THREADS_PROPERTY = "kiln.threads";

    @Spec CommandSpec spec;

    /** Applied while parsing, so the property is set before any subcommand loads a backend. */
    @Option(names = "--threads", paramLabel = "N",
            description = "CPU worker threads (sets kiln.threads; default: KILN_THREADS, else every core).")
    void threads(int n) {
        if (n < 1) throw new ParameterException(spec.commandLine(), "--threads must be at least 1, got " + n);
        System.setProperty(THREADS_PROPERTY, Integer.toString(n));
    }

    /** {@code kiln} with no command: the usage, as an error since nothing was done. */
    @Override public Integer call() {
        spec.commandLine().usage(spec.commandLine().getErr());
        return 2;
    }

    public static void main(String[] args) {
        PrintWriter out = new PrintWriter(System.out, true, StandardCharsets.UTF_8);
        PrintWriter err = new PrintWriter(System.err, true, StandardCharsets.UTF_8);
        int code = run(out, err, args);
        out.flush();
        err.flush();
        System.exit(code);
    }

    /** Runs one command line in-process with the given streams and returns its exit code (used by tests). */
    public static int run(PrintWriter out, PrintWriter err, String... args) {
        return commandLine(out, err).execute(args);
    }

    static CommandLine commandLine(PrintWriter out, PrintWriter err) {
        CommandLine cl = new CommandLine(new Main());
        cl.setOut(out).setErr(err).setCaseInsensitiveEnumValuesAllowed(true);
        // Bad usage: one line saying what was wrong and where to look, not the whole usage text.
        cl.setParameterExceptionHandler((ex, args) -> {
            CommandLine at = ex.getCommandLine();
            PrintWriter e = at.getErr();
            e.println(qualifiedName(at) + ": " + ex.getMessage());
            e.println("Try '" + qualifiedName(at) + " --help'.");
            e.flush();
            return 2;
        });
        // A failing command prints one line (the stack only with KILN_DEBUG=1) and exits 1.
        cl.setExecutionExceptionHandler((ex, at, parseResult) -> {
            PrintWriter e = at.getErr();
            e.println(qualifiedName(at) + ": " + describe(ex));
            if (debug()) ex.printStackTrace(e);
            e.flush();
            return 1;
        });
        return cl;
    }

    /** One line naming the failure: the message, or the exception type when there is none. */
    static String describe(Throwable ex) {
        String msg = ex.getMessage();
        String line = msg == null || msg.isBlank() ? ex.getClass().getSimpleName() : firstLine(msg);
        Throwable cause = ex.getCause();
        if (cause != null && cause.getMessage() != null && !line.contains(firstLine(cause.getMessage())))
            line += " (" + firstLine(cause.getMessage()) + ")";
        return line;
    }

    /** The first non-blank line of {@code text}, stripped; {@code ""} when there is none. */
    static String firstLine(String text) {
        if (text == null) return "";
        for (String line : text.split("\\R")) if (!line.isBlank()) return line.strip();
        return "";
    }

    private static String qualifiedName(CommandLine cl) {
        return cl.getCommandSpec().qualifiedName();
    }

    private static boolean debug() {
        String v = System.getenv("KILN_DEBUG");
        return v != null && !v.isBlank() && !v.equals("0") && !v.toLowerCase(Locale.ROOT).equals("false");
    }

    /** The version from the jar manifest, or "development build" when run from classes. */
    static final class Version implements CommandLine.IVersionProvider {
        @Override public String[] getVersion() {
            String v = Main.class.getPackage().getImplementationVersion();
            return new String[] {"kiln " + (v == null ? "(development build)" : v),
                    "java " + Runtime.version() + " " + System.getProperty("java.vendor", "")};
        }
    }
}

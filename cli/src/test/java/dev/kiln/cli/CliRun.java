package dev.kiln.cli;

import java.io.PrintWriter;
import java.io.StringWriter;

/** One in-process run of the {@code kiln} command line with its output captured. */
record CliRun(int exitCode, String out, String err) {
    static CliRun of(String... args) {
        StringWriter out = new StringWriter(), err = new StringWriter();
        int code;
        try (PrintWriter o = new PrintWriter(out, true); PrintWriter e = new PrintWriter(err, true)) {
            code = Main.run(o, e, args);
        }
        return new CliRun(code, out.toString(), err.toString());
    }

    String[] lines() { return out.lines().toArray(String[]::new); }

    /** For assertion messages: everything the command printed. */
    String both() { return "exit " + exitCode + "\n--- out\n" + out + "--- err\n" + err; }
}

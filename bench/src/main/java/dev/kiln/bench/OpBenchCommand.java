package dev.kiln.bench;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;

/** What {@link ConvCommand} and {@link EltwiseCommand} do after the table: the JSON file and the exit code. */
final class OpBenchCommand {
    private OpBenchCommand() {}

    /** Writes the JSON when asked; exit 1 when there are no rows or a check failed, else 0. */
    static int finish(PrintWriter out, List<OpRow> rows, Path json, boolean memoryBound) throws IOException {
        if (json != null) {
            OpRow.writeJson(json, rows, memoryBound);
            out.println("# wrote " + rows.size() + " rows to " + json);
        }
        out.flush();
        boolean wrong = rows.stream().anyMatch(r -> r.check().startsWith("WRONG"));
        return rows.isEmpty() || wrong ? 1 : 0;
    }
}

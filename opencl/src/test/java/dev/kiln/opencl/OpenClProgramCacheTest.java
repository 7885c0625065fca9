package dev.kiln.opencl;

import dev.kiln.kernels.DType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** The on-disk binary cache: reused when valid, ignored (rebuilt from source) when corrupt. */
class OpenClProgramCacheTest {
    static final String SOURCE = "__kernel void twice(__global float* x, long n) {\n"
            + "    const long i = get_global_id(0);\n    if (i < n) x[i] *= 2.0f;\n}\n";

    @Test void binariesAreReusedAndCorruptOnesRebuilt(@TempDir Path dir) throws IOException {
        try (OpenClDevice device = OpenClTesting.firstDevice()) {
            ClPrograms first = new ClPrograms(device, dir);
            first.program("twice", SOURCE, "");
            assertEquals(0, first.fromDisk());
            first.close();
            List<Path> files = binaries(dir);
            assertEquals(1, files.size(), "one binary written: " + files);

            ClPrograms second = new ClPrograms(device, dir);
            assertEquals(new float[] {2, -4, 6}.length, run(device, second).length);
            assertArrayEquals(new float[] {2, -4, 6}, run(device, second));
            assertEquals(1, second.fromDisk(), "the second cache loaded the binary instead of compiling");
            second.close();

            Files.write(files.getFirst(), new byte[] {1, 2, 3, 4});
            ClPrograms third = new ClPrograms(device, dir);
            assertArrayEquals(new float[] {2, -4, 6}, run(device, third));
            assertEquals(0, third.fromDisk(), "a corrupt binary is rebuilt from source");
            third.close();
        }
    }

    private static float[] run(OpenClDevice device, ClPrograms programs) {
        try (ClKernel k = programs.kernel(programs.program("twice", SOURCE, ""), "twice");
             OpenClBuffer buf = device.allocate(DType.F32, 3)) {
            buf.copyFrom(new float[] {1, -2, 3});
            k.launch(device.defaultStream(), new long[] {3}, buf, 3L);
            float[] out = new float[3];
            buf.copyTo(out);
            return out;
        }
    }

    private static List<Path> binaries(Path dir) throws IOException {
        try (Stream<Path> s = Files.walk(dir)) {
            return s.filter(p -> p.toString().endsWith(".bin")).toList();
        }
    }
}

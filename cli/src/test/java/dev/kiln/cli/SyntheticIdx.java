package dev.kiln.cli;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;
import java.util.zip.GZIPOutputStream;

/**
 * A small Fashion-MNIST-shaped data set for the training commands' tests: 28x28 images whose class is
 * written into a bright horizontal band (so a model learns them in a few steps), as gzipped IDX files.
 */
final class SyntheticIdx {
    private SyntheticIdx() {}

    /** Writes {@code prefix}-images-idx3-ubyte.gz and {@code prefix}-labels-idx1-ubyte.gz with {@code n} images. */
    static void writeSet(Path dir, String prefix, int n, long seed) throws IOException {
        SplittableRandom r = new SplittableRandom(seed);
        byte[] px = new byte[n * 784], labels = new byte[n];
        for (int i = 0; i < n; i++) {
            int y = r.nextInt(10);
            labels[i] = (byte) y;
            for (int p = 0; p < 784; p++) px[i * 784 + p] = (byte) (p / 28 / 3 == y ? 200 + r.nextInt(50) : r.nextInt(60));
        }
        idx(dir.resolve(prefix + "-images-idx3-ubyte.gz"), new int[] {n, 28, 28}, px);
        idx(dir.resolve(prefix + "-labels-idx1-ubyte.gz"), new int[] {n}, labels);
    }

    static void idx(Path file, int[] dims, byte[] data) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        DataOutputStream out = new DataOutputStream(bytes);
        out.write(new byte[] {0, 0, 8, (byte) dims.length});
        for (int d : dims) out.writeInt(d);
        out.write(data);
        try (OutputStream gz = new GZIPOutputStream(Files.newOutputStream(file))) { gz.write(bytes.toByteArray()); }
    }
}

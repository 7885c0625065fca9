package dev.kiln.bench;

import dev.kiln.kernels.ref.RefQGemm;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code kiln bench lmul-precision}: how far approximate multiplies land from the f32 product x*y, as the
 * relative error |approx - x*y| / |x*y| (mean and max over all pairs with a normal, non-zero product): L-Mul
 * ({@link RefQGemm#lmul}) with 3- and 4-bit mantissas, and products of inputs first rounded to fp8 e4m3
 * (3 mantissa bits, smallest normal 2^-6, largest 448) and e5m2 (2 bits, 2^-14, 57344), to nearest even
 * with gradual underflow and saturation (the product of two fp8 values is exact in f32). Data: standard
 * normal pairs, uniform [-1, 1) pairs, and, given a file, its f32 values paired with a seeded shuffle of
 * themselves (a safetensors checkpoint: every F32 tensor; any other file: raw little-endian f32).
 */
final class LmulPrecision {
    private LmulPrecision() {}

    /** Mean and max relative error of each method on one data set. */
    record Errors(String data, long pairs, double[] mean, double[] max) {}

    static final String[] METHODS = {"lmul-3", "lmul-4", "fp8-e4m3", "fp8-e5m2"};

    static Errors measure(String name, float[] x, float[] y) {
        double[] sum = new double[4], max = new double[4];
        long n = 0;
        for (int i = 0; i < x.length; i++) {
            float exact = x[i] * y[i];
            if (!(Math.abs(exact) >= Float.MIN_NORMAL) || Float.isInfinite(exact)) continue;
            float[] approx = {RefQGemm.lmul(x[i], y[i], 3), RefQGemm.lmul(x[i], y[i], 4),
                    e4m3(x[i]) * e4m3(y[i]), e5m2(x[i]) * e5m2(y[i])};
            for (int m = 0; m < 4; m++) {
                double rel = Math.abs((double) approx[m] - exact) / Math.abs(exact);
                sum[m] += rel;
                max[m] = Math.max(max[m], rel);
            }
            n++;
        }
        double[] mean = new double[4];
        for (int m = 0; m < 4; m++) mean[m] = n == 0 ? Double.NaN : sum[m] / n;
        return new Errors(name, n, mean, max);
    }

    /** x rounded to fp8 e4m3 (nearest even, subnormals from 2^-9, saturating at 448). */
    static float e4m3(float x) { return fp8(x, 3, -6, 448); }

    /** x rounded to fp8 e5m2 (nearest even, subnormals from 2^-16, saturating at 57344). */
    static float e5m2(float x) { return fp8(x, 2, -14, 57344); }

    private static float fp8(float x, int mantissa, int minExponent, float largest) {
        if (x == 0 || Float.isNaN(x)) return x;
        double a = Math.abs((double) x);
        int e = Math.max(Math.getExponent(a), minExponent);
        double step = Math.scalb(1.0, e - mantissa);
        double r = Math.min(Math.rint(a / step) * step, largest);
        return (float) Math.copySign(r, x);
    }

    static void printHeader(PrintWriter out) {
        out.printf(Locale.ROOT, "%-34s %10s", "data", "pairs");
        for (String m : METHODS) out.printf(Locale.ROOT, " %10s %10s", m + " mean", "max");
        out.println();
    }

    static void print(PrintWriter out, Errors e) {
        out.printf(Locale.ROOT, "%-34s %10d", e.data(), e.pairs());
        for (int m = 0; m < 4; m++) out.printf(Locale.ROOT, " %10.4f %10.4f", e.mean()[m], e.max()[m]);
        out.println();
        out.flush();
    }

    static float[][] normalPairs(long seed, int n) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] x = new float[n], y = new float[n];
        for (int i = 0; i < n; i++) { x[i] = (float) gaussian(r); y[i] = (float) gaussian(r); }
        return new float[][] {x, y};
    }

    static float[][] uniformPairs(long seed, int n) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] x = new float[n], y = new float[n];
        for (int i = 0; i < n; i++) { x[i] = (float) r.nextDouble(-1, 1); y[i] = (float) r.nextDouble(-1, 1); }
        return new float[][] {x, y};
    }

    private static double gaussian(SplittableRandom r) {
        double u = r.nextDouble(), v = r.nextDouble();
        return Math.sqrt(-2 * Math.log1p(-u)) * Math.cos(2 * Math.PI * v);
    }

    /** The values and a seeded shuffle of them, at most {@code limit} (evenly strided when there are more). */
    static float[][] filePairs(float[] values, long seed, int limit) {
        int n = Math.min(values.length, limit);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = values[(int) ((long) i * values.length / n)];
        float[] y = x.clone();
        SplittableRandom r = new SplittableRandom(seed);
        for (int i = n - 1; i > 0; i--) { int j = r.nextInt(i + 1); float t = y[i]; y[i] = y[j]; y[j] = t; }
        return new float[][] {x, y};
    }

    private static final Pattern TENSOR = Pattern.compile(
            "\"([^\"]+)\"\\s*:\\s*\\{\\s*\"dtype\"\\s*:\\s*\"([A-Z0-9]+)\"\\s*,\\s*\"shape\"\\s*:\\s*\\[[^\\]]*\\]\\s*,\\s*\"data_offsets\"\\s*:\\s*\\[\\s*(\\d+)\\s*,\\s*(\\d+)\\s*\\]");

    /** Every f32 value of a safetensors file's F32 tensors, or of a raw little-endian f32 file; names what it read. */
    static float[] readValues(Path file, StringBuilder what) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            if (file.getFileName().toString().endsWith(".safetensors")) {
                ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
                ch.read(len, 0);
                long headerLen = len.getLong(0);
                if (headerLen <= 0 || headerLen > size - 8 || headerLen > 100_000_000)
                    throw new IOException(file + ": not a safetensors file (header length " + headerLen + " of a " + size + "-byte file)");
                ByteBuffer header = ByteBuffer.allocate((int) headerLen);
                ch.read(header, 8);
                String json = new String(header.array(), StandardCharsets.UTF_8);
                Matcher m = TENSOR.matcher(json);
                java.util.List<float[]> parts = new java.util.ArrayList<>();
                int tensors = 0;
                long total = 0;
                while (m.find()) {
                    if (!m.group(2).equals("F32")) continue;
                    long from = Long.parseLong(m.group(3)), to = Long.parseLong(m.group(4));
                    float[] v = floats(ch, 8 + headerLen + from, to - from);
                    parts.add(v);
                    tensors++;
                    total += v.length;
                }
                if (tensors == 0) throw new IOException(file + ": no F32 tensors in the safetensors header");
                float[] all = new float[Math.toIntExact(total)];
                int at = 0;
                for (float[] p : parts) { System.arraycopy(p, 0, all, at, p.length); at += p.length; }
                what.append(tensors).append(" f32 tensors of ").append(file.getFileName());
                return all;
            }
            if (size % 4 != 0) throw new IOException(file + ": " + size + " bytes is not a whole number of f32 values (raw dump expected)");
            what.append("raw f32 ").append(file.getFileName());
            return floats(ch, 0, size);
        }
    }

    private static float[] floats(FileChannel ch, long offset, long bytes) throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(Math.toIntExact(bytes)).order(ByteOrder.LITTLE_ENDIAN);
        while (buf.hasRemaining()) if (ch.read(buf, offset + buf.position()) < 0) throw new IOException("file ends early");
        buf.flip();
        float[] v = new float[(int) (bytes / 4)];
        buf.asFloatBuffer().get(v);
        return v;
    }
}

package dev.kiln.cuda;

import dev.kiln.kernels.Args;
import dev.kiln.kernels.DType;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.ArgSpec;
import dev.kiln.kernels.desc.ConvertDesc;
import dev.kiln.kernels.desc.QuantizeDesc;
import dev.kiln.kernels.desc.QuantizeDesc.Mode;
import dev.kiln.kernels.desc.Shape;
import dev.kiln.kernels.ref.RefKernels;
import dev.kiln.kernels.spi.HostBuffer;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * quantize.cu and convert.cu run on the CPU without a GPU, against the Java reference: the kernels' own source is
 * compiled by g++ inside {@code src/test/emulation/quantize_emu.cpp} (CUDA's thread model emulated: a block of 256
 * OS threads, barriers, warp shuffles through shared staging), fed the arguments exactly as
 * {@link CudaQuantize#elementArguments} and {@link CudaQuantize#scaleArguments} pack them, and its outputs are
 * compared byte for byte with {@link RefKernels}' (computed b1 scales, a mean summed in another order, within
 * 1e-6 relative, as the descriptor allows). Skipped, with the reason, where no g++ is found.
 */
class QuantizeEmulationTest {
    private static final Path RESOURCES = Path.of("src/main/resources/dev/kiln/cuda");
    private static final Path HARNESS = Path.of("src/test/emulation/quantize_emu.cpp");
    private static final byte POISON = (byte) 0xCD;

    /** A case's inputs and the reference's outputs (DST, SCALES, ZERO_POINTS or DST only), poisoned alike. */
    private record Case(String name, boolean b1Computed, boolean fake, List<byte[]> expected) {}

    private static List<QuantizeDesc> cases() {
        Shape[] shapes = {Shape.of(7), Shape.of(3, 33), Shape.of(2, 5, 7), Shape.of(4, 3, 16), Shape.of(2, 3, 9, 31), Shape.of(5, 64)};
        List<QuantizeDesc> list = new ArrayList<>();
        int i = 0;
        for (Shape s : shapes)
            for (DType q : List.of(DType.S8, DType.U8, DType.S4, DType.B1))
                for (Mode mode : Mode.values()) {
                    QuantizeDesc base = QuantizeDesc.of(mode, q, s);
                    int last = s.dim(s.rank() - 1);
                    int group = last % 32 == 0 ? 32 : last % 2 == 0 ? 2 : last;
                    for (QuantizeDesc d : List.of(base, base.perChannel(0), base.perChannel(s.rank() - 1), base.perGroup(group))) {
                        i++;
                        if (q == DType.S8 || q == DType.S4) d = d.withSymmetric(i % 2 == 0);
                        if (i % 3 != 0) d = d.stochastic(1000 + i);
                        if (mode != Mode.DEQUANTIZE) d = d.withComputedScales(i % 4 < 2);
                        list.add(d);
                    }
                }
        return list;
    }

    private static String gxx() {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(":")) {
            Path p = Path.of(dir, "g++");
            if (Files.isExecutable(p)) return p.toString();
        }
        return null;
    }

    private static MemorySegment segment(DType dtype, long count) {
        byte[] bytes = new byte[(int) dtype.bytes(count)];
        Arrays.fill(bytes, POISON);
        return MemorySegment.ofArray(bytes);
    }

    /** QuantCases-like values: zeros, halves of 1/128 (exact ties under the given scale 2^-7), tiny, uniform in +-5. */
    private static void fillSource(QuantizeDesc d, MemorySegment src, SplittableRandom rnd) {
        if (d.mode() == Mode.DEQUANTIZE) {
            for (long b = 0; b < src.byteSize(); b++) src.set(ValueLayout.JAVA_BYTE, b, (byte) rnd.nextInt());
            return;
        }
        for (long i = 0; i < d.count(); i++) {
            float v = switch (rnd.nextInt(8)) {
                case 0 -> 0f;
                case 1, 2 -> (rnd.nextInt(-640, 640) + 0.5f) / 128f;
                case 3 -> (float) rnd.nextDouble(-1e-6, 1e-6);
                default -> (float) rnd.nextDouble(-5, 5);
            };
            src.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i, v);
        }
    }

    private static void put(ByteArrayOutputStream out, Object v) {
        ByteBuffer b = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        switch (v) {
            case Integer x -> b.putInt(x);
            case Long x -> b.putLong(x);
            default -> throw new IllegalArgumentException("unexpected scalar " + v);
        }
        out.write(b.array(), 0, b.position());
    }

    private static void putArray(ByteArrayOutputStream out, MemorySegment s) {
        put(out, s.byteSize());
        out.writeBytes(s.toArray(ValueLayout.JAVA_BYTE));
    }

    /** The scalar arguments of a packed argument list (the operands, Args or null, are the harness's own). */
    private static void putScalars(ByteArrayOutputStream out, Object[] args) {
        for (Object a : args) if (a instanceof Integer || a instanceof Long) put(out, a);
    }

    private static Case quantizeCase(QuantizeDesc d, ByteArrayOutputStream out, SplittableRandom rnd) {
        Map<Arg, MemorySegment> kernel = new LinkedHashMap<>(), reference = new LinkedHashMap<>();
        for (ArgSpec spec : d.args()) kernel.put(spec.arg(), segment(spec.dtype(), spec.count()));
        fillSource(d, kernel.get(Arg.SRC), rnd);
        if (!d.computeScales()) {
            MemorySegment s = kernel.get(Arg.SCALES);
            for (long g = 0; g < d.scaleCount(); g++)
                s.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, g, rnd.nextBoolean() ? (float) Math.scalb(1.0, -rnd.nextInt(0, 8)) : (float) rnd.nextDouble(0.01, 1.2));
            if (!d.symmetric()) {
                MemorySegment z = kernel.get(Arg.ZERO_POINTS);
                for (long g = 0; g < d.scaleCount(); g++) z.setAtIndex(ValueLayout.JAVA_INT_UNALIGNED, g, rnd.nextInt(d.qmin(), d.qmax() + 1));
            }
        }
        Args args = Args.of();
        for (var e : kernel.entrySet()) {
            MemorySegment copy = MemorySegment.ofArray(e.getValue().toArray(ValueLayout.JAVA_BYTE));
            reference.put(e.getKey(), copy);
            args.put(e.getKey(), HostBuffer.wrap(copy, DType.S8));
        }
        RefKernels.run(d, args);

        put(out, 0);
        String entry = CudaQuantize.entry(d);
        put(out, entry.equals(DeviceCode.QUANTIZE_ELEMS) ? 0 : entry.equals(DeviceCode.QUANTIZE_S4_PAIRS) ? 1 : 2);
        put(out, d.computeScales() ? 1 : 0);
        putScalars(out, CudaQuantize.elementArguments(d, a -> a));
        putScalars(out, CudaQuantize.scaleArguments(d, a -> a));
        put(out, (int) d.scaleCount());
        putArray(out, kernel.get(Arg.SRC));
        putArray(out, kernel.get(Arg.DST));
        putArray(out, kernel.get(Arg.SCALES));
        putArray(out, d.symmetric() ? segment(DType.S32, d.scaleCount()) : kernel.get(Arg.ZERO_POINTS));
        byte[] zeros = d.symmetric() ? segment(DType.S32, d.scaleCount()).toArray(ValueLayout.JAVA_BYTE)
                                     : reference.get(Arg.ZERO_POINTS).toArray(ValueLayout.JAVA_BYTE);
        return new Case(d.opName() + " " + d.shape(), d.qtype() == DType.B1 && d.computeScales(), d.mode() == Mode.FAKE,
                List.of(reference.get(Arg.DST).toArray(ValueLayout.JAVA_BYTE), reference.get(Arg.SCALES).toArray(ValueLayout.JAVA_BYTE), zeros));
    }

    private static Case convertCase(ConvertDesc d, ByteArrayOutputStream out, SplittableRandom rnd) {
        MemorySegment src = segment(d.from(), d.count()), dst = segment(d.to(), d.count());
        for (long b = 0; b < src.byteSize(); b++) src.set(ValueLayout.JAVA_BYTE, b, (byte) rnd.nextInt());
        if (d.from() == DType.F32)   // besides random bit patterns: the f16 subnormal, halfway and overflow ranges
            for (long i = 0; i < d.count(); i += 2)
                src.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i, switch (rnd.nextInt(4)) {
                    case 0 -> (rnd.nextInt(0, 2048) + 0.5f) * 0x1p-24f;
                    case 1 -> (float) rnd.nextDouble(65000, 66000);
                    case 2 -> (rnd.nextInt(1024, 2048) + 0.5f) * (float) Math.scalb(1.0, rnd.nextInt(-24, 6));
                    default -> (float) Math.scalb(rnd.nextDouble(1, 2), rnd.nextInt(-26, -13));
                });
        MemorySegment ref = MemorySegment.ofArray(dst.toArray(ValueLayout.JAVA_BYTE));
        RefKernels.run(d, Args.of(Arg.SRC, HostBuffer.wrap(MemorySegment.ofArray(src.toArray(ValueLayout.JAVA_BYTE)), DType.S8),
                Arg.DST, HostBuffer.wrap(ref, DType.S8)));
        put(out, 1);
        put(out, CudaConvert.entry(d).equals("convert_f32_f16") ? 0 : CudaConvert.entry(d).equals("convert_f16_f32") ? 1
                : CudaConvert.entry(d).equals("convert_f32_bf16") ? 2 : 3);
        put(out, d.count());
        putArray(out, src);
        putArray(out, dst);
        return new Case(d.opName() + " " + d.shape(), false, false, List.of(ref.toArray(ValueLayout.JAVA_BYTE)));
    }

    @Test
    void quantizeAndConvertKernelsMatchTheReferenceUnderEmulation(@TempDir Path dir) throws IOException, InterruptedException {
        String gxx = gxx();
        Assumptions.assumeTrue(gxx != null, "g++ not found on PATH: quantize.cu and convert.cu not emulated on the CPU");
        SplittableRandom rnd = new SplittableRandom(20261123);
        ByteArrayOutputStream input = new ByteArrayOutputStream();
        List<Case> cases = new ArrayList<>();
        for (QuantizeDesc d : cases()) cases.add(quantizeCase(d, input, rnd));
        for (DType half : List.of(DType.F16, DType.BF16))
            for (long count : new long[] {1, 7, 4099}) {
                cases.add(convertCase(new ConvertDesc(DType.F32, half, count), input, rnd));
                cases.add(convertCase(new ConvertDesc(half, DType.F32, count), input, rnd));
            }
        Files.write(dir.resolve("in.bin"), input.toByteArray());

        Process compile = new ProcessBuilder(gxx, "-O1", "-std=c++20", "-ffp-contract=off", "-pthread", "-I", RESOURCES.toAbsolutePath().toString(),
                "-o", dir.resolve("quantize_emu").toString(), HARNESS.toAbsolutePath().toString()).redirectErrorStream(true).start();
        assertTrue(compile.waitFor(300, TimeUnit.SECONDS), "g++ took over 300 s");
        assertEquals(0, compile.exitValue(), new String(compile.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
        Process run = new ProcessBuilder(dir.resolve("quantize_emu").toString(), dir.resolve("in.bin").toString(), dir.resolve("out.bin").toString())
                .redirectErrorStream(true).start();
        assertTrue(run.waitFor(300, TimeUnit.SECONDS), "the emulation took over 300 s");
        String log = new String(run.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, run.exitValue(), log);
        assertTrue(log.contains("CASES " + cases.size()), log);

        ByteBuffer got = ByteBuffer.wrap(Files.readAllBytes(dir.resolve("out.bin"))).order(ByteOrder.LITTLE_ENDIAN);
        int failures = 0;
        StringBuilder report = new StringBuilder();
        for (Case c : cases)
            for (int a = 0; a < c.expected().size(); a++) {
                byte[] want = c.expected().get(a), have = new byte[(int) got.getLong()];
                got.get(have);
                assertEquals(want.length, have.length, c.name() + " output " + a);
                if (c.b1Computed() && (a == 1 || c.fake())) {   // computed b1 scales (a mean) and what they scale: 1e-6 relative
                    for (int i = 0; i < want.length; i += 4) {
                        float w = ByteBuffer.wrap(want, i, 4).order(ByteOrder.LITTLE_ENDIAN).getFloat();
                        float h = ByteBuffer.wrap(have, i, 4).order(ByteOrder.LITTLE_ENDIAN).getFloat();
                        assertTrue(Math.abs(w - h) <= 1e-6 * Math.abs(w), c.name() + " output " + a + " element " + i / 4 + ": " + h + " want " + w);
                    }
                } else if (!Arrays.equals(want, have)) {
                    int at = Arrays.mismatch(want, have);
                    if (failures++ < 10) report.append(c.name()).append(" output ").append(a).append(" byte ").append(at)
                            .append(": ").append(have[at]).append(" want ").append(want[at]).append('\n');
                }
            }
        assertEquals(0, got.remaining(), "the harness wrote more than expected");
        if (failures > 0) fail(failures + " outputs differ from the reference:\n" + report);
        assertTrue(cases.size() > 200, "cases: " + cases.size());
    }
}

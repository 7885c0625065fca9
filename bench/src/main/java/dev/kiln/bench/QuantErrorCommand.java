package dev.kiln.bench;

import dev.kiln.kernels.Args;
import dev.kiln.kernels.DType;
import dev.kiln.kernels.Kernels;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.ArgSpec;
import dev.kiln.kernels.desc.ConvertDesc;
import dev.kiln.kernels.desc.OpDesc;
import dev.kiln.kernels.desc.QuantizeDesc;
import dev.kiln.kernels.desc.QuantizeDesc.Mode;
import dev.kiln.kernels.desc.Shape;
import dev.kiln.kernels.spi.HostBuffer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;

/**
 * {@code kiln bench quant-error}: the error of quantise-then-dequantise against the f32 input (one fake
 * quantisation through the facade, scales computed by the op), for s8, s4 and b1 per tensor, per channel
 * (rows) and per group of 32, symmetric and asymmetric, nearest-even and stochastic rounding; and of the
 * f16 and bf16 round trips. The data: a rows x cols matrix of normal values whose rows have standard
 * deviations spread log-uniformly over [0.1, 10] (as weight rows and channels differ), seeded. Errors: mean
 * and max of |q - x|, and relative ones as sum |q - x| / sum |x| and max |q - x| / max |x|.
 */
@Command(name = "quant-error", mixinStandardHelpOptions = true,
        description = "Quantise->dequantise error vs f32 for s8/s4/b1 per tensor/channel/group, sym/asym, nearest/stochastic; f16 and bf16 round trips.")
final class QuantErrorCommand implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Option(names = "--rows", defaultValue = "256", description = "Rows (channels) of the test matrix (default: ${DEFAULT-VALUE}).")
    int rows;

    @Option(names = "--cols", defaultValue = "1024", description = "Columns; a multiple of 32 (default: ${DEFAULT-VALUE}).")
    int cols;

    @Option(names = "--seed", defaultValue = "42", description = "Random seed (default: ${DEFAULT-VALUE}).")
    long seed;

    @Override public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        if (rows < 1 || cols < 32 || cols % 32 != 0) {
            spec.commandLine().getErr().println("bench quant-error: need rows >= 1 and cols a positive multiple of 32, got " + rows + "x" + cols);
            return 2;
        }
        float[] x = data(rows, cols, seed);
        Shape shape = Shape.of(rows, cols);
        out.printf(Locale.ROOT, "# %dx%d normal values, row std log-uniform in [0.1, 10], seed %d; rel mean = sum|q-x|/sum|x|, rel max = max|q-x|/max|x|%n",
                rows, cols, seed);
        out.printf(Locale.ROOT, "%-6s %-8s %-5s %-10s %11s %11s %9s %9s%n", "type", "scales", "sym", "rounding", "mean abs", "max abs", "rel mean", "rel max");
        for (DType q : new DType[] {DType.S8, DType.S4, DType.B1})
            for (String g : new String[] {"tensor", "channel", "group32"})
                for (boolean sym : new boolean[] {true, false}) {
                    if (q == DType.B1 && !sym) continue;
                    for (boolean st : new boolean[] {false, true}) {
                        QuantizeDesc d = QuantizeDesc.of(Mode.FAKE, q, shape).withSymmetric(sym);
                        d = g.equals("channel") ? d.perChannel(0) : g.equals("group32") ? d.perGroup(32) : d;
                        if (st) d = d.stochastic(seed);
                        float[] y = run(d, x);
                        row(out, q.lower(), g, sym ? "sym" : "asym", st ? "stochastic" : "nearest", x, y);
                    }
                }
        for (DType h : new DType[] {DType.F16, DType.BF16}) {
            float[] y = roundTrip(h, x);
            row(out, h.lower(), "-", "-", "nearest", x, y);
        }
        out.flush();
        return 0;
    }

    static float[] data(int rows, int cols, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] x = new float[rows * cols];
        for (int i = 0; i < rows; i++) {
            double std = Math.pow(10, r.nextDouble(-1, 1));
            for (int j = 0; j < cols; j++) {
                double u = r.nextDouble(), v = r.nextDouble();
                x[i * cols + j] = (float) (std * Math.sqrt(-2 * Math.log1p(-u)) * Math.cos(2 * Math.PI * v));
            }
        }
        return x;
    }

    /** DST of one fake quantisation through the facade (every other operand allocated by the descriptor). */
    static float[] run(QuantizeDesc d, float[] x) {
        float[] y = new float[x.length];
        List<HostBuffer> owned = new ArrayList<>();
        try {
            Args args = Args.of(Arg.SRC, HostBuffer.wrap(x), Arg.DST, HostBuffer.wrap(y));
            for (ArgSpec s : d.args()) {
                if (args.has(s.arg())) continue;
                HostBuffer b = HostBuffer.allocate(null, s.dtype(), s.count());
                owned.add(b);
                args.put(s.arg(), b);
            }
            Kernels.execute(d, args);
        } finally {
            owned.forEach(HostBuffer::close);
        }
        return y;
    }

    static float[] roundTrip(DType half, float[] x) {
        float[] y = new float[x.length];
        try (HostBuffer h = HostBuffer.allocate(null, half, x.length)) {
            OpDesc to = new ConvertDesc(DType.F32, half, x.length), back = new ConvertDesc(half, DType.F32, x.length);
            Kernels.execute(to, Args.of(Arg.SRC, HostBuffer.wrap(x), Arg.DST, h));
            Kernels.execute(back, Args.of(Arg.SRC, h, Arg.DST, HostBuffer.wrap(y)));
        }
        return y;
    }

    private static void row(PrintWriter out, String type, String scales, String sym, String rounding, float[] x, float[] y) {
        double sumErr = 0, sumX = 0, maxErr = 0, maxX = 0;
        for (int i = 0; i < x.length; i++) {
            double e = Math.abs((double) y[i] - x[i]);
            sumErr += e;
            sumX += Math.abs(x[i]);
            maxErr = Math.max(maxErr, e);
            maxX = Math.max(maxX, Math.abs(x[i]));
        }
        out.printf(Locale.ROOT, "%-6s %-8s %-5s %-10s %11.3e %11.3e %9.2e %9.2e%n", type, scales, sym, rounding,
                sumErr / x.length, maxErr, sumErr / sumX, maxErr / maxX);
        out.flush();
    }
}

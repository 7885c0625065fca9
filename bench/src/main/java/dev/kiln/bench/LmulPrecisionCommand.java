package dev.kiln.bench;

import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code kiln bench lmul-precision}: options here, the work in {@link LmulPrecision}. */
@Command(name = "lmul-precision", mixinStandardHelpOptions = true,
        description = "Mean and max relative error of L-Mul (3- and 4-bit mantissa) against the f32 product, beside fp8 e4m3 and e5m2 products.")
final class LmulPrecisionCommand implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Option(names = "--pairs", defaultValue = "1000000", description = "Random pairs per distribution (default: ${DEFAULT-VALUE}).")
    int pairs;

    @Option(names = "--activations", paramLabel = "FILE",
            description = "Real values: a safetensors file (all F32 tensors, e.g. a trained cnn checkpoint) or raw little-endian f32.")
    Path activations;

    @Option(names = "--model", paramLabel = "CKPT",
            description = "Real activations: a checkpoint of kiln train (cnn or mlp); its Conv2d/Linear operand pairs on Fashion-MNIST test images.")
    Path model;

    @Option(names = "--data", description = "Folder with the Fashion-MNIST IDX files, for --model (default: /usr/share/datasets/fashion-mnist).")
    Path data = dev.kiln.nn.data.FashionMnist.DEFAULT_DIR;

    @Option(names = "--images", defaultValue = "256", description = "Test images run through --model (default: ${DEFAULT-VALUE}).")
    int images;

    @Option(names = "--seed", defaultValue = "42", description = "Random seed (default: ${DEFAULT-VALUE}).")
    long seed;

    @Override public Integer call() throws IOException {
        PrintWriter out = spec.commandLine().getOut();
        if (pairs < 1) {
            spec.commandLine().getErr().println("bench lmul-precision: --pairs must be >= 1, got " + pairs);
            return 2;
        }
        out.println("# relative error |approx - x*y| / |x*y| against the f32 product, over pairs with a normal non-zero product;"
                + " fp8 = both inputs rounded to nearest even (saturating), then multiplied; seed " + seed);
        LmulPrecision.printHeader(out);
        float[][] normal = LmulPrecision.normalPairs(seed, pairs), uniform = LmulPrecision.uniformPairs(seed + 1, pairs);
        LmulPrecision.print(out, LmulPrecision.measure("random normal(0,1)", normal[0], normal[1]));
        LmulPrecision.print(out, LmulPrecision.measure("random uniform[-1,1)", uniform[0], uniform[1]));
        if (model != null) {
            if (images < 1) {
                spec.commandLine().getErr().println("bench lmul-precision: --images must be >= 1, got " + images);
                return 2;
            }
            java.util.List<LmulActivations.Pairs> layers;
            try {
                layers = LmulActivations.sample(model, data, images, pairs, seed);
            } catch (IOException | RuntimeException e) {
                spec.commandLine().getErr().println("bench lmul-precision: cannot run " + model + ": " + e.getMessage());
                return 1;
            }
            out.println("# real activations: " + model + " on " + images + " test images; per Conv2d/Linear layer, input activation x weight"
                    + " pairs that meet in its dot products (an output and a reduction position drawn uniformly, padding skipped)");
            int total = 0;
            for (LmulActivations.Pairs p : layers) total += p.x().length;
            float[] allX = new float[total], allW = new float[total];
            int at = 0;
            for (LmulActivations.Pairs p : layers) {
                LmulPrecision.print(out, LmulPrecision.measure(p.layer(), p.x(), p.w()));
                System.arraycopy(p.x(), 0, allX, at, p.x().length);
                System.arraycopy(p.w(), 0, allW, at, p.w().length);
                at += p.x().length;
            }
            LmulPrecision.print(out, LmulPrecision.measure("all layers", allX, allW));
        }
        if (activations == null) {
            if (model == null) out.println("# real activations: not measured; --model CKPT (a trained cnn checkpoint) samples the products its layers compute,"
                    + " --activations FILE pairs a file's values with a shuffle of themselves");
        } else {
            StringBuilder what = new StringBuilder();
            float[] values;
            try {
                values = LmulPrecision.readValues(activations, what);
            } catch (IOException | RuntimeException e) {
                spec.commandLine().getErr().println("bench lmul-precision: cannot read " + activations + ": " + e.getMessage());
                return 1;
            }
            float[][] p = LmulPrecision.filePairs(values, seed, pairs);
            out.println("# file: " + what + ", " + values.length + " values, " + p[0].length + " paired with a seeded shuffle of themselves");
            LmulPrecision.print(out, LmulPrecision.measure("file " + activations.getFileName(), p[0], p[1]));
        }
        out.flush();
        return 0;
    }
}

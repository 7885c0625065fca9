package dev.kiln.bench;

import dev.kiln.nn.NoGrad;
import dev.kiln.nn.Scope;
import dev.kiln.nn.Tensor;
import dev.kiln.nn.data.FashionMnist;
import dev.kiln.nn.layers.Conv2d;
import dev.kiln.nn.layers.Layer;
import dev.kiln.nn.layers.Linear;
import dev.kiln.nn.layers.Parameter;
import dev.kiln.nn.quant.Quantization;
import dev.kiln.nn.train.Batches;
import dev.kiln.nn.train.Models;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * The products L-Mul would replace in a trained network: a checkpoint of {@code kiln train} runs a batch of
 * Fashion-MNIST test images, and at every Conv2d and Linear layer the operand pairs that meet in that layer's
 * dot products are sampled — an input activation (after the previous layers' ReLU and pooling, so mostly
 * non-negative with many zeros) with the weight it is multiplied by. A sample picks an output element and a
 * position of its reduction uniformly; padding positions (an implicit zero) are skipped, as are zero products
 * later, in {@link LmulPrecision#measure}. This is the "real activations" data of the precision table: the
 * shuffled-file mode pairs values that never multiply each other.
 */
final class LmulActivations {
    private LmulActivations() {}

    /** One layer's sampled operands: {@code x[i] * w[i]} is a product the layer computes. */
    record Pairs(String layer, float[] x, float[] w) {}

    /**
     * Samples {@code pairsPerLayer} operand pairs from each Conv2d/Linear layer of the model in {@code checkpoint},
     * run on the first {@code images} test images from {@code dataDir}.
     */
    static List<Pairs> sample(Path checkpoint, Path dataDir, int images, int pairsPerLayer, long seed) throws IOException {
        Quantization.Loaded loaded = Quantization.loadF32(checkpoint);
        try {
            Batches test = new Batches(FashionMnist.test(dataDir), images, Models.takesFlatInput(loaded.model()));
            Batches.Batch batch = test.batch(null, 0, test.size());
            SplittableRandom random = new SplittableRandom(seed);
            List<Pairs> out = new ArrayList<>();
            loaded.network().train(false);
            try (NoGrad ng = NoGrad.enter(); Scope s = Scope.open()) {
                Tensor x = Tensor.of(batch.inputs(), batch.shape());
                int index = 0;
                for (Layer layer : loaded.network().layers()) {
                    index++;
                    if (layer instanceof Conv2d conv) out.add(conv(loaded.model() + " #" + index + " conv", conv, x, pairsPerLayer, random));
                    else if (layer instanceof Linear linear) out.add(linear(loaded.model() + " #" + index + " linear", linear, x, pairsPerLayer, random));
                    x = layer.forward(x);
                }
            }
            return out;
        } finally {
            loaded.network().close();
        }
    }

    private static Tensor weightTensor(Layer layer) {
        for (Parameter p : layer.parameters()) if (p.name().equals("weight")) return p.tensor();
        throw new IllegalStateException("lmul-precision: layer " + layer + " has no weight parameter");
    }

    private static Pairs linear(String name, Linear layer, Tensor input, int count, SplittableRandom random) {
        float[] x = input.toArray(), w = weightTensor(layer).toArray();
        int batch = input.dim(0), in = input.dim(1), out = w.length / in;
        float[] px = new float[count], pw = new float[count];
        for (int i = 0; i < count; i++) {
            int b = random.nextInt(batch), o = random.nextInt(out), j = random.nextInt(in);
            px[i] = x[b * in + j];
            pw[i] = w[o * in + j];
        }
        return new Pairs(name + " " + in + "->" + out, px, pw);
    }

    private static Pairs conv(String name, Conv2d layer, Tensor input, int count, SplittableRandom random) {
        Tensor weight = weightTensor(layer);
        float[] x = input.toArray(), w = weight.toArray();
        int batch = input.dim(0), channels = input.dim(1), height = input.dim(2), width = input.dim(3);
        int groups = layer.groups(), perGroup = channels / groups, stride = layer.stride(), pad = layer.pad(), dil = layer.dilation();
        int outChannels = weight.dim(0), taps = weight.dim(2); // out x in/groups x k x k
        int outH = (height + 2 * pad - dil * (taps - 1) - 1) / stride + 1, outW = (width + 2 * pad - dil * (taps - 1) - 1) / stride + 1;
        float[] px = new float[count], pw = new float[count];
        int n = 0;
        for (int tries = 0; n < count && tries < 20 * count; tries++) {
            int b = random.nextInt(batch), o = random.nextInt(outChannels), oh = random.nextInt(outH), ow = random.nextInt(outW);
            int c = random.nextInt(perGroup), r = random.nextInt(taps), q = random.nextInt(taps);
            int ih = oh * stride - pad + r * dil, iw = ow * stride - pad + q * dil;
            if (ih < 0 || ih >= height || iw < 0 || iw >= width) continue; // a padding zero, not a product L-Mul would see
            int ic = o / (outChannels / groups) * perGroup + c;
            px[n] = x[((b * channels + ic) * height + ih) * width + iw];
            pw[n] = w[((o * perGroup + c) * taps + r) * taps + q];
            n++;
        }
        return new Pairs(name + " " + channels + "->" + outChannels + " " + taps + "x" + taps,
                java.util.Arrays.copyOf(px, n), java.util.Arrays.copyOf(pw, n));
    }
}

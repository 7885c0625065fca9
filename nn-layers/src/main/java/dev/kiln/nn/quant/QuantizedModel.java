package dev.kiln.nn.quant;

import dev.kiln.nn.Tensor;
import dev.kiln.nn.layers.Layer;

import java.util.List;

/**
 * An inference model made by {@link Quantization#convert}: the quantised layers it made, and the layers it
 * shares with the trained model it came from (activations, pooling, layers kept in f32). Closing it frees
 * only what it made; the trained model still owns the rest.
 */
public final class QuantizedModel implements Layer {
    private final List<Layer> layers;

    QuantizedModel(List<Layer> layers) { this.layers = List.copyOf(layers); }

    @Override public Tensor forward(Tensor x) {
        for (Layer l : layers) x = l.forward(x);
        return x;
    }

    public List<Layer> layers() { return layers; }

    @Override public void close() {
        for (Layer l : layers) if (l instanceof QuantizedLinear || l instanceof QuantizedConv2d) l.close();
    }
}

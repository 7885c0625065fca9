package dev.kiln.nn.layers;

import dev.kiln.nn.Tensor;

import java.util.ArrayList;
import java.util.List;

/** Layers applied in order; parameter names are prefixed with the layer's index ({@code 0.weight}). */
public final class Sequential implements Layer {
    private final List<Layer> layers;

    public Sequential(Layer... layers) { this.layers = List.of(layers); }

    @Override public Tensor forward(Tensor x) {
        for (Layer l : layers) x = l.forward(x);
        return x;
    }

    @Override public List<Parameter> parameters() {
        List<Parameter> all = new ArrayList<>();
        for (int i = 0; i < layers.size(); i++)
            for (Parameter p : layers.get(i).parameters()) all.add(new Parameter(i + "." + p.name(), p.tensor()));
        return all;
    }

    @Override public List<Parameter> buffers() {
        List<Parameter> all = new ArrayList<>();
        for (int i = 0; i < layers.size(); i++)
            for (Parameter p : layers.get(i).buffers()) all.add(new Parameter(i + "." + p.name(), p.tensor()));
        return all;
    }

    @Override public void train(boolean training) { for (Layer l : layers) l.train(training); }

    @Override public void close() { for (Layer l : layers) l.close(); }

    public List<Layer> layers() { return layers; }
}

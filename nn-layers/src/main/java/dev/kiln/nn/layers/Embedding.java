package dev.kiln.nn.layers;

import dev.kiln.nn.Ops;
import dev.kiln.nn.Tensor;

import java.util.List;
import java.util.SplittableRandom;

/** A table of {@code vocabulary} vectors of {@code dim}, initialised N(0, 1) as PyTorch's {@code Embedding}. */
public final class Embedding implements Layer {
    private final Tensor table;
    private final int vocabulary, dim;

    public Embedding(int vocabulary, int dim, SplittableRandom random) {
        if (vocabulary <= 0 || dim <= 0)
            throw new IllegalArgumentException("embedding: vocabulary=" + vocabulary + " and dim=" + dim + " must be > 0");
        this.vocabulary = vocabulary;
        this.dim = dim;
        float[] v = new float[Math.multiplyExact(vocabulary, dim)];
        for (int i = 0; i < v.length; i++) v[i] = (float) random.nextGaussian();
        this.table = Tensor.parameter(v, vocabulary, dim);
    }

    /** The vectors of {@code ids}: ids.length x dim. */
    public Tensor lookup(int[] ids) { return Ops.embedding(ids, table); }

    /** Ids given as a tensor of whole numbers (exact below 2^24); the output is shape(ids) + [dim]. */
    @Override public Tensor forward(Tensor ids) {
        float[] v = ids.toArray();
        int[] n = new int[v.length];
        for (int i = 0; i < v.length; i++) {
            n[i] = (int) v[i];
            if (n[i] != v[i]) throw new IllegalArgumentException("embedding: id " + v[i] + " at position " + i + " is not a whole number");
        }
        int[] shape = java.util.Arrays.copyOf(ids.shape(), ids.rank() + 1);
        shape[ids.rank()] = dim;
        return lookup(n).reshape(shape);
    }

    public int vocabulary() { return vocabulary; }

    @Override public List<Parameter> parameters() { return List.of(new Parameter("weight", table)); }
}

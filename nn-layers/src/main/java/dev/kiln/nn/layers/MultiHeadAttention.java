package dev.kiln.nn.layers;

import dev.kiln.nn.AttentionOps;
import dev.kiln.nn.Tensor;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Multi-head self-attention over batch x t x width input: q, k, v projections (Linear, with bias), heads of
 * width/heads, scaled dot-product attention (optionally causal), the heads concatenated and projected by
 * {@code out}. Heads are computed in a head-major layout so each (head, sequence) is one batched GEMM.
 */
public final class MultiHeadAttention implements Layer {
    private final Linear q, k, v, out;
    private final int width, heads;
    private final boolean causal;

    public MultiHeadAttention(int width, int heads, boolean causal, SplittableRandom random) {
        if (width <= 0 || heads <= 0 || width % heads != 0)
            throw new IllegalArgumentException("attention: width=" + width + " must be a positive multiple of heads=" + heads);
        this.width = width;
        this.heads = heads;
        this.causal = causal;
        this.q = new Linear(width, width, random);
        this.k = new Linear(width, width, random);
        this.v = new Linear(width, width, random);
        this.out = new Linear(width, width, random);
    }

    @Override public Tensor forward(Tensor x) {
        if (x.rank() != 3 || x.dim(2) != width)
            throw new IllegalArgumentException("attention(" + width + ", heads=" + heads + "): input of shape "
                    + java.util.Arrays.toString(x.shape()) + ", expected [batch, time, " + width + "]");
        int batch = x.dim(0), t = x.dim(1), dh = width / heads;
        Tensor rows = x.reshape(batch * t, width);
        // [heads, batch*t, dh] is [heads*batch, t, dh]: one contiguous t x dh matrix per head and sequence.
        Tensor qh = AttentionOps.splitHeads(q.forward(rows), heads).reshape(heads * batch, t, dh);
        Tensor kh = AttentionOps.splitHeads(k.forward(rows), heads).reshape(heads * batch, t, dh);
        Tensor vh = AttentionOps.splitHeads(v.forward(rows), heads).reshape(heads * batch, t, dh);
        Tensor o = AttentionOps.attention(qh, kh, vh, causal).reshape(heads, batch * t, dh);
        return out.forward(AttentionOps.mergeHeads(o)).reshape(batch, t, width);
    }

    @Override public List<Parameter> parameters() {
        List<Parameter> all = new ArrayList<>();
        String[] names = {"q", "k", "v", "out"};
        Linear[] ls = {q, k, v, out};
        for (int i = 0; i < ls.length; i++)
            for (Parameter p : ls[i].parameters()) all.add(new Parameter(names[i] + "." + p.name(), p.tensor()));
        return all;
    }
}

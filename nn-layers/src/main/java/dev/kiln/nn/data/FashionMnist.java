package dev.kiln.nn.data;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/**
 * Fashion-MNIST (or MNIST) from a folder of IDX files, gzipped or not: {@code train-images-idx3-ubyte},
 * {@code train-labels-idx1-ubyte}, {@code t10k-images-idx3-ubyte}, {@code t10k-labels-idx1-ubyte}. The default
 * folder is where Debian's {@code dataset-fashion-mnist} package puts them.
 */
public final class FashionMnist {
    public static final Path DEFAULT_DIR = Path.of("/usr/share/datasets/fashion-mnist");
    public static final int CLASSES = 10;
    /** Mean and standard deviation of the training pixels scaled to [0, 1]. */
    public static final float MEAN = 0.2860f, STD = 0.3530f;

    private FashionMnist() {}

    public static LabelledImages train(Path dir) throws IOException { return load(dir, "train"); }

    public static LabelledImages test(Path dir) throws IOException { return load(dir, "t10k"); }

    static LabelledImages load(Path dir, String prefix) throws IOException {
        if (!Files.isDirectory(dir))
            throw new NoSuchFileException(dir.toString(), null,
                    "data directory not found (install dataset-fashion-mnist or pass --data DIR)");
        IdxFile images = IdxFile.read(find(dir, prefix + "-images-idx3-ubyte"));
        IdxFile labels = IdxFile.read(find(dir, prefix + "-labels-idx1-ubyte"));
        return combine(images, labels, CLASSES);
    }

    /** Pairs an image file with its label file, checking ranks, counts and label range. */
    static LabelledImages combine(IdxFile images, IdxFile labels, int classes) throws IOException {
        if (images.rank() != 3)
            throw new IOException(images.path() + ": expected 3 dimensions (count, height, width), got " + images.rank());
        if (labels.rank() != 1)
            throw new IOException(labels.path() + ": expected 1 dimension (count), got " + labels.rank());
        if (images.items() != labels.items())
            throw new IOException(images.path() + " has " + images.items() + " images but " + labels.path() + " has "
                    + labels.items() + " labels");
        byte[] px = images.data();
        float[] scaled = new float[px.length];
        for (int i = 0; i < px.length; i++) scaled[i] = Byte.toUnsignedInt(px[i]) / 255f;
        int[] y = new int[labels.items()];
        byte[] raw = labels.data();
        for (int i = 0; i < y.length; i++) {
            y[i] = Byte.toUnsignedInt(raw[i]);
            if (y[i] >= classes)
                throw new IOException(labels.path() + ": corrupt IDX file at byte " + (8 + i) + ": label " + y[i]
                        + " out of range 0.." + (classes - 1));
        }
        return new LabelledImages(scaled, y, y.length, images.dim(1), images.dim(2), classes);
    }

    private static Path find(Path dir, String base) throws NoSuchFileException {
        for (String name : new String[] {base + ".gz", base, base.replace("-idx", ".idx") + ".gz", base.replace("-idx", ".idx")}) {
            Path p = dir.resolve(name);
            if (Files.isRegularFile(p)) return p;
        }
        throw new NoSuchFileException(dir.resolve(base + ".gz").toString(), null, "missing data file (also looked for " + base + ")");
    }
}

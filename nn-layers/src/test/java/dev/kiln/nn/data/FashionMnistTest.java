package dev.kiln.nn.data;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

class FashionMnistTest {
    @TempDir Path dir;

    private void write(String name, int[] dims, byte[] data) throws IOException {
        Files.write(dir.resolve(name), IdxFileTest.gzip(IdxFileTest.idx(8, dims, data)));
    }

    @Test void loadsAFolderScalingPixelsToUnitRange() throws IOException {
        byte[] px = IdxFileTest.random(5 * 4 * 3, 7);
        write("train-images-idx3-ubyte.gz", new int[] {5, 4, 3}, px);
        write("train-labels-idx1-ubyte.gz", new int[] {5}, new byte[] {0, 9, 3, 3, 1});
        LabelledImages d = FashionMnist.train(dir);
        assertEquals(5, d.count());
        assertEquals(4, d.height());
        assertEquals(3, d.width());
        assertArrayEquals(new int[] {0, 9, 3, 3, 1}, d.labels());
        for (int i = 0; i < px.length; i++) assertEquals(Byte.toUnsignedInt(px[i]) / 255f, d.images()[i]);
    }

    @Test void mismatchedCountsAndBadLabelsAreRejected() throws IOException {
        write("t10k-images-idx3-ubyte.gz", new int[] {3, 2, 2}, IdxFileTest.random(12, 1));
        write("t10k-labels-idx1-ubyte.gz", new int[] {2}, new byte[] {1, 2});
        IOException e = assertThrows(IOException.class, () -> FashionMnist.test(dir));
        assertTrue(e.getMessage().contains("3 images but") && e.getMessage().contains("2 labels"), e.getMessage());
        write("t10k-labels-idx1-ubyte.gz", new int[] {3}, new byte[] {1, 12, 2});
        e = assertThrows(IOException.class, () -> FashionMnist.test(dir));
        assertTrue(e.getMessage().contains("at byte 9: label 12 out of range 0..9"), e.getMessage());
    }

    @Test void missingFolderOrFileIsNamed() {
        Path nowhere = dir.resolve("absent");
        IOException e = assertThrows(IOException.class, () -> FashionMnist.train(nowhere));
        assertTrue(e.getMessage().contains("absent") && e.getMessage().contains("--data"), e.getMessage());
        e = assertThrows(IOException.class, () -> FashionMnist.train(dir));
        assertTrue(e.getMessage().contains("train-images-idx3-ubyte"), e.getMessage());
    }

    @Test void realDatasetWhenInstalled() throws IOException {
        Assumptions.assumeTrue(Files.isDirectory(FashionMnist.DEFAULT_DIR),
                "Fashion-MNIST not installed at " + FashionMnist.DEFAULT_DIR + " (apt-get install dataset-fashion-mnist)");
        LabelledImages test = FashionMnist.test(FashionMnist.DEFAULT_DIR);
        assertEquals(10000, test.count());
        assertEquals(28, test.height());
        assertEquals(28, test.width());
        int[] perClass = new int[10];
        for (int y : test.labels()) perClass[y]++;
        for (int c = 0; c < 10; c++) assertEquals(1000, perClass[c], "class " + c);
        double sum = 0;
        for (float v : test.images()) sum += v;
        assertEquals(FashionMnist.MEAN, sum / test.images().length, 0.01);
    }
}

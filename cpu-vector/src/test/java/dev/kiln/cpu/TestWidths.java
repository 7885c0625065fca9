package dev.kiln.cpu;

import java.util.ArrayList;
import java.util.List;

/** The vector widths a test forces in one JVM: 128, 256 and 512 bits, those the hardware has. */
public final class TestWidths {
    private TestWidths() {}

    /** Every width up to the hardware's widest, narrowest first. */
    public static List<Width> available() {
        List<Width> list = new ArrayList<>();
        for (int bits : new int[] {128, 256, 512}) if (bits <= VectorSupport.hardwareBits()) list.add(Width.of(bits));
        return list;
    }
}

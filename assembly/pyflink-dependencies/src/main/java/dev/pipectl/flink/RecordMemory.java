package dev.pipectl.flink;

import org.apache.flink.core.memory.MemorySegment;
import org.apache.flink.core.memory.MemorySegmentFactory;

/** A record's bytes wrapped once as Flink memory, for the strings cut from it. One per classifier. */
final class RecordMemory {
    private byte[] record;
    private MemorySegment[] segments;

    /** The segments over `bytes` (made again only for another array). */
    MemorySegment[] of(byte[] bytes) {
        if (bytes != record) {
            segments = new MemorySegment[] {MemorySegmentFactory.wrap(bytes)};
            record = bytes;
        }
        return segments;
    }
}

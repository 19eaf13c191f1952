import CKernels

/// Returns the pages of freed heap blocks to the kernel, for loaders that free large temporaries as they go.
///
/// Quantizing at load time frees an fp16 copy of every layer matrix right after its int8/int4 matrix is built.
/// glibc raises its mmap threshold to the largest block freed (up to 32 MiB), so from then on those fp16 copies
/// come from the main heap, and the holes they leave between the quantized matrices stay resident. A
/// `malloc_trim(0)` after each matrix gives those pages back (MADV_DONTNEED on free chunks), so the peak stays
/// near the weights' size (measured: docs/BENCHMARKS.md, "Memory and start-up").
public enum FreedHeapPages {
    /// Hands every whole free page of every malloc arena back to the kernel; a no-op off glibc.
    public static func release() {
        _ = ck_heap_trim()
    }
}

import CKernels

/// Returns the pages of freed heap blocks to the kernel, for loaders that free large temporaries as they go.
///
/// Quantizing at load time frees an fp16 copy of every layer matrix right after its int8/int4 matrix is built.
/// glibc raises its mmap threshold to the largest block freed (up to 32 MiB), so from then on those fp16 copies
/// come from the main heap, and the holes they leave between the quantized matrices stay resident: 123 MiB of
/// the 1565 MiB a TP=1 int8 rank of the ~1B benchmark model held after loading (`malloc_stats`: 937 MiB of heap
/// for 814 MiB in use). A `malloc_trim(0)` after each matrix gives those pages back (MADV_DONTNEED on free
/// chunks): peak 1444 MiB for 1374 MiB of weights instead of 1542.
public enum FreedHeapPages {
    /// Hands every whole free page of every malloc arena back to the kernel; a no-op off glibc.
    public static func release() {
        _ = ck_heap_trim()
    }
}

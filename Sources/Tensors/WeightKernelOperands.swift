import CKernels

extension WeightMatrix {
    /// The storage as the C kernels' `ck_gemv_problem` reads it: its format, the stored values, the fp16 scales (nil
    /// for unquantized formats) and the scale groups per row. The pointers are valid only inside `body`, which the
    /// kernels only read through.
    func withKernelOperands<Result>(
        _ body: (ck_gemv_format, UnsafeRawPointer, UnsafePointer<UInt16>?, Int) -> Result
    ) -> Result {
        func quantized(
            _ format: ck_gemv_format, _ values: UnsafeRawBufferPointer, _ scales: [Float16], _ groups: Int
        ) -> Result {
            scales.withUnsafeBytes {
                body(format, values.baseAddress!, $0.bindMemory(to: UInt16.self).baseAddress!, groups)
            }
        }
        switch storage {
        case .float32(let v): return v.withUnsafeBytes { body(CK_GEMV_F32, $0.baseAddress!, nil, 1) }
        case .float16(let v): return v.withUnsafeBytes { body(CK_GEMV_F16, $0.baseAddress!, nil, 1) }
        case .bfloat16(let v): return v.withUnsafeBytes { body(CK_GEMV_BF16, $0.baseAddress!, nil, 1) }
        case .int8(let v, let s, let groups): return v.withUnsafeBytes { quantized(CK_GEMV_I8, $0, s, groups) }
        case .int4(let p, let s, let groups): return p.withUnsafeBytes { quantized(CK_GEMV_I4, $0, s, groups) }
        }
    }
}

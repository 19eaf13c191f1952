import CKernels

/// The kernel a matrix product `y = x W^T` runs on, chosen before it runs as a pure function of the activation
/// rows, the weight's format and layout, the precision and the CPU (`choose`); `linear` executes the route it got,
/// and `bench` reports it.
public struct MatmulRoute: Sendable, Equatable, CustomStringConvertible {
    public enum Kernel: String, Sendable, CaseIterable {
        /// `DecodeKernels`: compact weights widened in registers, exact fp32 accumulation (decoding, small batches).
        case exactGEMV = "exact GEMV"
        /// `QuantizedDecodeKernels`: int8/int4 weights against per-row int8 activations (fast precision, decoding).
        case quantizedGEMV = "int8 GEMV"
        /// `PrefillKernels`: blocked GEMM on the bf16 or int8 dot-product unit (fast precision, prefill, batches).
        case dotProductGEMM = "dot-product GEMM"
        /// `ExactGEMMKernels`: blocked GEMM on the fp32 FMAs, weights dequantised exactly in panels (the exact path
        /// for many rows of compact weights).
        case exactGEMM = "exact GEMM"
        /// `referenceLinear`: weights widened to fp32 tile by tile, OpenBLAS sgemm (fp32 weights, and CPUs without
        /// AVX2).
        case sgemm = "widen + sgemm"
    }

    public var kernel: Kernel
    public var format: WeightFormat
    /// The instruction the kernel's inner loop runs on, e.g. "vfmadd231ps (AVX2)" or "vpdpbusd (AVX512-VNNI)".
    public var unit: String

    public var description: String { "\(kernel.rawValue) on \(format.rawValue), \(unit)" }

    /// What the choice needs to know about the CPU, detected once (`.detected`) or given (tests).
    public struct CPU: Sendable, Equatable {
        /// The exact GEMV kernels' instruction set.
        public var gemv: DecodeKernels.InstructionSet
        /// The int8 GEMV's path: `.avx512` (VNNI), `.avx2` (vpmaddubsw), or nil when the CPU has neither.
        public var int8GEMV: DecodeKernels.InstructionSet?
        /// AVX512-BF16 (the bf16 GEMM), and the int8 GEMM's unit (`PrefillKernels.Int8Unit.detected`).
        public var bf16GEMM: Bool
        public var int8GEMM: PrefillKernels.Int8Unit?
        /// Whether vdpbf16ps outruns the fp32 FMAs here (measured once: `PrefillKernels.bf16OutrunsFP32`).
        public var bf16OutrunsFP32: Bool
        /// The exact GEMM's path (`.avx512` or `.avx2`), or nil without AVX2.
        public var exactGEMM: DecodeKernels.InstructionSet?

        public init(
            gemv: DecodeKernels.InstructionSet, int8GEMV: DecodeKernels.InstructionSet?, bf16GEMM: Bool,
            int8GEMM: PrefillKernels.Int8Unit?, bf16OutrunsFP32: Bool, exactGEMM: DecodeKernels.InstructionSet?
        ) {
            self.gemv = gemv
            self.int8GEMV = int8GEMV
            self.bf16GEMM = bf16GEMM
            self.int8GEMM = int8GEMM
            self.bf16OutrunsFP32 = bf16OutrunsFP32
            self.exactGEMM = exactGEMM
        }

        /// The dot-product unit whose GEMM outruns the fp32 FMAs for `format` on this CPU, or nil: vdpbf16ps for
        /// fp16/bf16 where it beats them, vpdpbusd or (without AVX512-VNNI) vpmaddubsw for int8/int4.
        public func fasterGEMMUnit(for format: WeightFormat) -> String? {
            switch format {
            case .float16, .bfloat16: bf16GEMM && bf16OutrunsFP32 ? "vdpbf16ps (AVX512-BF16)" : nil
            case .int8, .int4: int8GEMM?.rawValue
            case .float32: nil
            }
        }

        public static let detected = CPU(
            gemv: .best, int8GEMV: DecodeKernels.InstructionSet(rawValue: ck_gemv_q8_resolve_isa(0)),
            bf16GEMM: CPUFeatures.detected.avx512bf16 != 0, int8GEMM: PrefillKernels.Int8Unit.detected,
            bf16OutrunsFP32: PrefillKernels.bf16OutrunsFP32, exactGEMM: ExactGEMMKernels.best)
    }

    /// The weight as the choice sees it: format, inner dimension and scale groups per row (1 for unquantized).
    public struct Weight: Sendable, Equatable {
        public var format: WeightFormat
        public var rows: Int
        public var columns: Int
        public var groups: Int

        public init(format: WeightFormat, rows: Int, columns: Int, groups: Int = 1) {
            self.format = format
            self.rows = rows
            self.columns = columns
            self.groups = groups
        }
    }

    /// The route for `rows` activation rows:
    /// - fast precision, up to `DecodeKernels.fastPrecisionRows` rows of int8/int4 weights the int8 GEMV handles;
    /// - fast precision, more rows, where the dot-product GEMM has the format's unit and it outruns sgemm;
    /// - up to `DecodeKernels.maximumRows` rows, the exact GEMV;
    /// - more rows of compact weights, the exact GEMM where the CPU has AVX2;
    /// - otherwise widen + sgemm (fp32 weights go to OpenBLAS as they are).
    public static func choose(rows: Int, weight: Weight, precision: MatmulPrecision, cpu: CPU) -> MatmulRoute {
        let format = weight.format
        let hasShape = rows > 0 && weight.rows > 0
        if precision == .fast, rows <= DecodeKernels.fastPrecisionRows, hasShape, let isa = cpu.int8GEMV,
            QuantizedDecodeKernels.supports(weight)
        {
            let unit = isa == .avx512 ? "vpdpbusd (AVX512-VNNI)" : "vpmaddubsw (AVX2)"
            return MatmulRoute(kernel: .quantizedGEMV, format: format, unit: unit)
        }
        if precision == .fast, rows > DecodeKernels.fastPrecisionRows, hasShape, weight.columns > 0,
            let unit = cpu.fasterGEMMUnit(for: format)
        {
            return MatmulRoute(kernel: .dotProductGEMM, format: format, unit: unit)
        }
        if rows <= DecodeKernels.maximumRows {
            let unit =
                switch cpu.gemv {
                case .avx512: "vfmadd231ps (AVX-512)"
                case .avx2: "vfmadd231ps (AVX2)"
                case .portable: "portable C"
                }
            return MatmulRoute(kernel: .exactGEMV, format: format, unit: unit)
        }
        if format != .float32, let isa = cpu.exactGEMM {
            let unit = isa == .avx512 ? "vfmadd231ps (AVX-512)" : "vfmadd231ps (AVX2)"
            return MatmulRoute(kernel: .exactGEMM, format: format, unit: unit)
        }
        return MatmulRoute(kernel: .sgemm, format: format, unit: "fp32 FMA (OpenBLAS)")
    }

    /// Runs the product on this route: `y[n, weight.rows] = x[n, weight.columns] W^T`, no bias.
    public func run(
        _ x: UnsafePointer<Float>, rows n: Int, weight: WeightMatrix, into y: UnsafeMutablePointer<Float>
    ) {
        switch kernel {
        case .quantizedGEMV:
            let done = QuantizedDecodeKernels.multiply(x, rows: n, weight: weight, into: y)
            precondition(done, "the int8 GEMV declined a route chosen for it")
        case .dotProductGEMM:
            let done = PrefillKernels.multiply(x, rows: n, weight: weight, into: y)
            precondition(done, "the dot-product GEMM declined a route chosen for it")
        case .exactGEMV:
            _ = DecodeKernels.multiply(x, rows: n, weight: weight, into: y)
        case .exactGEMM:
            let done = ExactGEMMKernels.multiply(x, rows: n, weight: weight, into: y)
            precondition(done, "the exact GEMM declined a route chosen for it")
        case .sgemm:
            referenceLinear(x, rows: n, weight: weight, into: y)
        }
    }
}

extension WeightMatrix {
    /// This matrix as `MatmulRoute.choose` sees it.
    public var routeWeight: MatmulRoute.Weight {
        let groups: Int =
            switch storage {
            case .int8(_, _, let groups), .int4(_, _, let groups): groups
            default: 1
            }
        return MatmulRoute.Weight(format: format, rows: rows, columns: columns, groups: groups)
    }
}

import Glibc

extension String {
    /// `String(format:)` for C printf formats (`"%.1f"`, `"%dm%02ds"`, `"%.3g"`), through the C library's
    /// `vsnprintf`; `String(format:)` needs full Foundation, which is not linked (about 6 MiB resident per rank).
    /// Foundation formats numbers by the same C rules, so the text is byte for byte the same. The C locale applies
    /// (`.` as the decimal point): nothing here calls `setlocale`.
    public init(printf format: String, _ arguments: any CVarArg...) {
        // A `va_list` is consumed by one call: measure with one, write with a fresh one.
        let length = Int(withVaList(arguments) { vsnprintf(nil, 0, format, $0) })
        guard length > 0 else {
            self = ""
            return
        }
        self = String(unsafeUninitializedCapacity: length + 1) { buffer in
            buffer.withMemoryRebound(to: CChar.self) { characters in
                _ = withVaList(arguments) { vsnprintf(characters.baseAddress, length + 1, format, $0) }
            }
            return length
        }
    }
}

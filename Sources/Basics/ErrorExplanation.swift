import FoundationEssentials
import Glibc

extension Error {
    /// What went wrong, for the end of a message: for a file-system error the C library's text for its errno
    /// ("No such file or directory", "Permission denied"), else the error's own description. Stands in for
    /// `localizedDescription`, which needs full Foundation (not linked: about 6 MiB resident per rank) and on Linux
    /// said less ("The operation could not be completed. The file doesn’t exist.").
    public var explanation: String {
        if let error = self as? POSIXError { return String(cString: strerror(error.code.rawValue)) }
        guard let error = self as? CocoaError else { return String(describing: self) }
        if let cause = error.underlying as? POSIXError { return String(cString: strerror(cause.code.rawValue)) }
        // Foundation's own sentences for the file errors that carry no errno.
        return switch error.code {
        case .fileReadCorruptFile: "The file isn’t in the correct format."
        case .fileReadInapplicableStringEncoding, .fileWriteInapplicableStringEncoding:
            "The specified text encoding isn’t applicable."
        case .fileReadUnknownStringEncoding: "The text encoding of the contents couldn’t be determined."
        default: "CocoaError \(error.code.rawValue)"
        }
    }
}

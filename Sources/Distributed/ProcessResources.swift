import Basics
import FoundationEssentials

/// What the kernel says about this process: the CPUs it may run on (its MPI binding) and its peak memory.
/// Read from /proc so it works under any launcher; on other systems the values are unknown (nil).
public enum ProcessResources {
    /// `Cpus_allowed_list` of /proc/self/status, e.g. "0-3,8".
    public static var allowedCPUList: String? { statusField("Cpus_allowed_list") }

    /// Number of CPUs in the affinity mask.
    public static var allowedCPUCount: Int? {
        guard let list = allowedCPUList else { return nil }
        var count = 0
        for part in list.split(separator: ",") {
            let bounds = part.split(separator: "-").compactMap { Int($0.trimmingWhitespace()) }
            if bounds.count == 2 { count += bounds[1] - bounds[0] + 1 } else if bounds.count == 1 { count += 1 }
        }
        return count > 0 ? count : nil
    }

    /// Peak resident set size (`VmHWM`) in bytes.
    public static var peakResidentBytes: Int? {
        guard let field = statusField("VmHWM"), let kib = Int(field.split(separator: " ").first ?? "") else {
            return nil
        }
        return kib * 1024
    }

    /// `MemAvailable` of /proc/meminfo: memory the node can give without swapping, page cache included.
    public static var availableMemoryBytes: Int? {
        guard let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("MemAvailable:") {
            let fields = line.split(separator: " ")
            if fields.count >= 2, let kib = Int(fields[1]) { return kib * 1024 }
        }
        return nil
    }

    private static func statusField(_ name: String) -> String? {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix(name + ":") {
            return line.dropFirst(name.count + 1).trimmingWhitespace()
        }
        return nil
    }
}

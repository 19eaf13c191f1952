import Glibc
import Tensors

/// Starts this process again with `OPENBLAS_CORETYPE` set when OpenBLAS fell back to kernels far below the CPU
/// (`BLASKernelSelection` says when and why). It runs first in `main`, before MPI starts, so under `mpirun` each
/// rank replaces itself in place: same pid, same arguments, same MPI environment.
enum BLASRelaunch {
    static func relaunchIfNeeded() {
        let variable = BLASKernelSelection.environmentVariable
        let current = getenv(variable).map { String(cString: $0) }
        guard let kernels = BLASKernelSelection.replacementForThisProcess(environment: current),
            let executable = executablePath()
        else { return }
        setenv(variable, kernels, 1)
        execv(executable, CommandLine.unsafeArgv)
        // execv returns only when it failed: go on with OpenBLAS's own kernels (slower, same results).
        unsetenv(variable)
    }

    /// The running binary's path, resolved from /proc/self/exe: executing that link itself would rename the
    /// process "exe" in ps, top and pkill.
    private static func executablePath() -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let length = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard length > 0 else { return nil }
        return String(decoding: buffer[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

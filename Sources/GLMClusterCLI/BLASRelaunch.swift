import Glibc
import Tensors

/// Starts this process again with `OPENBLAS_CORETYPE` set when OpenBLAS fell back to kernels far below the CPU
/// (`BLASKernelSelection` says when and why). It runs first in `main`, before MPI starts, so under `mpirun` each
/// rank replaces itself in place: same pid, same arguments, same MPI environment.
enum BLASRelaunch {
    static func relaunchIfNeeded() {
        let variable = BLASKernelSelection.environmentVariable
        let current = getenv(variable).map { String(cString: $0) }
        guard let kernels = BLASKernelSelection.replacementForThisProcess(environment: current) else { return }
        setenv(variable, kernels, 1)
        execv("/proc/self/exe", CommandLine.unsafeArgv)
        // execv returns only when it failed: go on with OpenBLAS's own kernels (slower, same results).
        unsetenv(variable)
    }
}

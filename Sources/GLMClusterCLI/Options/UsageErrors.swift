import ArgumentParser
import Checkpoint
import Configuration
import ModelLoading

/// Runs a single-process command's body, reporting the library errors that are about the command line's own
/// values as usage errors (the message with the usage text, exit status 64), as the checks of `validate()` are.
func reportingUsageErrors(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let error as ConversionError where error.isUsageError {
        throw ValidationError(error.description)
    } catch let error as OutputDirectoryError where error.isUsageError {
        throw ValidationError(error.description)
    } catch let error as ConfigurationError {
        if case .notDivisible = error { throw ValidationError(error.description) }
        throw error
    }
}

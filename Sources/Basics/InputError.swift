/// Bad input found while running (not while parsing the command line): an id list, an output path, a length. The
/// message names the option or file and what was expected.
public struct InputError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(description: String) { self.description = description }
}

/// A file that cannot be read as the format it claims (or cannot be written): names the
/// file and what is wrong, e.g.
/// `weights.safetensors: tensor 'fc.weight': shape [2, 3] needs 24 bytes of F32 but data_offsets span 20`.
///
/// Every reader in `IO/` throws this for malformed input instead of trapping: sizes
/// that come from a file are checked for overflow and against the bytes actually there
/// before anything is read.
public struct FileFormatError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The file, as given to the reader or writer.
    public var path: String
    /// What is wrong, in words.
    public var reason: String
    public init(path: String, reason: String) { self.path = path; self.reason = reason }
    public var description: String { "\(path): \(reason)" }
}

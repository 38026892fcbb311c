/// Why a run could not happen: a missing or mis-shaped feed, an unbound symbol, an id outside
/// its table. The message names the feed, value or parameter and what was expected.
public struct RuntimeError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Every failure of LetheModel: one line naming the file, tensor or key and what is wrong with it.
public struct ModelError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

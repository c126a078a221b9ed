/// A tokenizer.json that Lethe cannot load exactly as the `tokenizers` package would. The message names the file
/// and the JSON key (`model.merges[17]`, `pre_tokenizer.type`, ...).
public struct TokenizerError: Error, CustomStringConvertible, Equatable {
    public let file: String
    public let key: String
    public let problem: String

    public init(file: String, key: String, problem: String) {
        self.file = file
        self.key = key
        self.problem = problem
    }

    public var description: String {
        key.isEmpty ? "\(file): \(problem)" : "\(file): \(key): \(problem)"
    }
}

import LetheShards

/// The kinds of chunk sample, one per chunk stage's output. Each kind is the one before it with members added
/// (and, for reconstructions, the states removed); this is the one description of their members, dtypes and
/// shapes, of the KEY.json fields each stage adds, and of the facts in each stage's manifest `extra`
/// (README, "Shard files", renders the same table; a test holds the two together).
public enum ChunkKind: String, CaseIterable, Sendable {
    /// lethe-tokenize: the chunk's token ids and where it comes from.
    case tokens
    /// lethe-encode: + the encoder's final states.
    case states
    /// lethe-reconstruct: − the states, + the decoder's greedy reconstruction.
    case reconstruction
    /// lethe-annotate: the tokens, the reconstruction and the chunk's annotated words.
    case annotation

    /// The executable whose output this kind is.
    public var producer: String { "lethe-" + stage }

    /// "an encode output", for messages.
    public var outputName: String { (stage.first == "e" || stage.first == "a" ? "an " : "a ") + stage + " output" }

    private var stage: String {
        switch self {
        case .tokens: "tokenize"
        case .states: "encode"
        case .reconstruction: "reconstruct"
        case .annotation: "annotate"
        }
    }

    /// The members of a sample of this kind, in the order they are written.
    public var members: [MemberDescription] {
        switch self {
        case .tokens: [.metadata, .tokens]
        case .states: [.metadata, .tokens, .ssm, .conv]
        case .reconstruction: [.metadata, .tokens, .reconstruction]
        case .annotation: [.metadata, .tokens, .reconstruction, .words]
        }
    }

    /// Members a sample of this kind may have, written after KEY.tokens.npy when present.
    public var optionalMembers: [MemberDescription] { self == .tokens ? [] : [.surprisal] }

    /// Every member a chunk sample of any kind may have.
    public static let knownMembers: Set<String> = Set(allCases.flatMap { $0.members + $0.optionalMembers }.map(\.ext))

    /// The member that tells this kind from the one before it: an input written by another executable is
    /// taken as this kind when its first sample has it.
    public var distinctiveMember: MemberDescription {
        switch self {
        case .tokens: .tokens
        case .states: .ssm
        case .reconstruction: .reconstruction
        case .annotation: .words
        }
    }

    /// Whether members of other names (a user's own) are carried from the input sample to the output.
    public var carriesOtherMembers: Bool { self != .annotation }

    /// The KEY.json fields this kind's stage adds (those of earlier kinds are carried).
    public var metadataFields: [String] {
        switch self {
        case .tokens: ChunkMetadata.Field.tokenize
        case .states: ChunkMetadata.Field.encode
        case .reconstruction: ChunkMetadata.Field.reconstruct
        case .annotation: ChunkMetadata.Field.annotate
        }
    }
}

/// One member of a chunk sample: its extension, and for an array its dtypes and its shape.
public struct MemberDescription: Sendable, Equatable {
    /// Everything after the key's first dot: "tokens.npy".
    public let ext: String
    /// The dtypes written (the first, for states the one asked for) and accepted; token ids are read from any
    /// integer dtype and written as int32. Empty for a JSON member.
    public let dtypes: [NPYDType]
    /// The shape's dimensions by name ("L", "n_layer"), as the README gives them; empty for a JSON member.
    public let shape: [String]
    /// Another shape the member may have (Mamba-2's states), or nil.
    public var otherShape: [String]? = nil

    /// The named shape of `rank` dimensions, if the member has one.
    public func shape(ofRank rank: Int) -> [String]? { [shape, otherShape].compactMap { $0 }.first { $0.count == rank } }

    /// "[n_layer, d_inner, d_state]", or both shapes joined by " or ".
    public var shapeDescription: String {
        [shape, otherShape].compactMap { $0 }.map { "[\($0.joined(separator: ", "))]" }.joined(separator: " or ")
    }

    /// KEY.json: the chunk's metadata (ChunkMetadata).
    public static let metadata = MemberDescription(ext: "json", dtypes: [], shape: [])
    /// The chunk's token ids (L ≥ 1 when read as `tokens` or `states`).
    public static let tokens = MemberDescription(ext: "tokens.npy", dtypes: [.int32], shape: ["L"])
    /// The encoder's final SSM state per layer (Mamba-2's by head).
    public static let ssm = MemberDescription(ext: "ssm.npy", dtypes: [.float32, .float16], shape: ["n_layer", "d_inner", "d_state"],
                                              otherShape: ["n_layer", "heads", "head_dim", "d_state"])
    /// The encoder's final convolution window per layer (Mamba-2's channels are x, B and C: d_inner + 2·groups·d_state,
    /// still named d_inner here).
    public static let conv = MemberDescription(ext: "conv.npy", dtypes: [.float32, .float16], shape: ["n_layer", "d_inner", "conv_kernel"])
    /// The encoder's surprisal of each token, -log p(token | the tokens before it) in nats; NaN for token 0
    /// (lethe-encode --surprisal).
    public static let surprisal = MemberDescription(ext: "surprisal.npy", dtypes: [.float32], shape: ["L"])
    /// The greedy reconstruction's token ids, G ≥ 0 (without the end-of-text token).
    public static let reconstruction = MemberDescription(ext: "recon.npy", dtypes: [.int32], shape: ["G"])
    /// The chunk's reference words, retained or omitted, with their categories (LetheAnalysis's ChunkAnnotation).
    public static let words = MemberDescription(ext: "words.json", dtypes: [], shape: [])

    /// The member's name without ".npy" ("tokens"), as ShardSample's npy accessors take it.
    var arrayName: String { String(ext.dropLast(4)) }
}

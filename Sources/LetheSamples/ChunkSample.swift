import LetheShards

/// A chunk sample of any kind (ChunkKind), read from a shard and written to one only through this type: its
/// key, metadata, token ids and, by kind, the encoder's states, the reconstruction and the annotated words.
/// Members of other names are carried forward as they came, after the known ones (not by annotate).
public struct ChunkSample: Sendable {
    public var key: String
    /// The shard it was read from, for messages; nil for a sample made in memory.
    public var source: String?
    public var metadata: ChunkMetadata
    /// KEY.tokens.npy.
    public var tokens: [Int32]
    /// KEY.surprisal.npy: the encoder's surprisal of each token (kinds after `tokens`, when encoded with it).
    public var surprisal: [Float]?
    /// KEY.ssm.npy and KEY.conv.npy (kind `states`).
    public var states: EncoderStates?
    /// KEY.recon.npy (kinds `reconstruction` and `annotation`).
    public var reconstruction: [Int32]?
    /// KEY.words.json (kind `annotation`), as LetheAnalysis's ChunkAnnotation writes it.
    public var words: [UInt8]?
    /// Members of other names.
    public var otherMembers: [ShardSample.Member] = []

    /// A `tokens` sample made in memory (lethe-tokenize).
    public init(key: String, metadata: ChunkMetadata, tokens: [Int32]) {
        self.key = key
        self.metadata = metadata
        self.tokens = tokens
    }

    /// The kind its members make it.
    public var kind: ChunkKind {
        if words != nil { return .annotation }
        if reconstruction != nil { return .reconstruction }
        return states != nil ? .states : .tokens
    }

    /// "shard-000003.tar.zst: sample b000001-s000002", for messages.
    public var origin: String { source.map { "\($0): sample \(key)" } ?? "sample \(key)" }

    /// Reads `sample` as a sample of `kind`: it must have that kind's members, with their dtypes and ranks;
    /// members of other kinds are left out, members of other names kept (`otherMembers`). Token ids must be
    /// non-empty for `tokens` and `states` and, with `vocabularySize`, below it. The error names the shard, the
    /// sample and what is wrong. Without `requiringMetadata` a sample without KEY.json reads with empty metadata
    /// (training's LM objective takes any shards of token ids).
    public init(_ sample: ShardSample, as kind: ChunkKind, vocabularySize: Int? = nil, requiringMetadata: Bool = true) throws {
        key = sample.key
        source = sample.source
        let origin = sample.source.map { "\($0): sample \(sample.key)" } ?? "sample \(sample.key)"
        func member(_ description: MemberDescription) throws -> [UInt8] {
            guard let data = sample.data(description.ext) else {
                throw ShardError("\(origin): no KEY.\(description.ext): not \(kind.outputName) (it has: \(sample.members.map(\.ext).joined(separator: ", ")))")
            }
            return data
        }
        let json: JSONValue
        do {
            json = !requiringMetadata && sample.data(MemberDescription.metadata.ext) == nil ? .object([:])
                : try JSONValue.parse(try member(.metadata))
        } catch let error as JSONError {
            throw ShardError("\(origin): member \(sample.key).json: line \(error.description)")
        }
        do { metadata = try ChunkMetadata(json: json) } catch { throw ShardError("\(origin): \(error)") }
        let nonEmpty = kind == .tokens || kind == .states
        tokens = try Self.tokenIDs(try member(.tokens), .tokens, nonEmpty: nonEmpty, vocabularySize: vocabularySize, origin: origin)
        if kind.optionalMembers.contains(.surprisal), let bytes = sample.data(MemberDescription.surprisal.ext) {
            let array = try Self.array(bytes, .surprisal, origin: origin)
            guard array.count == tokens.count else {
                throw ShardError("\(origin): surprisal.npy has \(array.count) values for \(tokens.count) tokens")
            }
            let values = array.floats()
            if let bad = values.dropFirst().first(where: { !$0.isFinite }) {
                throw ShardError("\(origin): surprisal.npy holds \(bad) after the first token; only the first token has none (NaN)")
            }
            surprisal = values
        }
        if kind == .states {
            states = EncoderStates(ssm: try Self.array(try member(.ssm), .ssm, origin: origin),
                                   conv: try Self.array(try member(.conv), .conv, origin: origin))
        }
        if kind == .reconstruction || kind == .annotation {
            reconstruction = try Self.tokenIDs(try member(.reconstruction), .reconstruction, nonEmpty: false,
                                               vocabularySize: nil, origin: origin)
        }
        if kind == .annotation { words = try member(.words) }
        otherMembers = sample.members.filter { !ChunkKind.knownMembers.contains($0.ext) }
    }

    /// The shard sample: the kind's members in order, then the other members.
    public func shardSample() -> ShardSample {
        var sample = ShardSample(key: key)
        sample.source = source
        sample.setJSON(metadata.json)
        sample.set(MemberDescription.tokens.arrayName, npy: NPYArray(int32: tokens, shape: [tokens.count]))
        if let surprisal { sample.set(MemberDescription.surprisal.arrayName, npy: NPYArray(float32: surprisal, shape: [surprisal.count])) }
        if let states {
            sample.set(MemberDescription.ssm.arrayName, npy: states.ssm)
            sample.set(MemberDescription.conv.arrayName, npy: states.conv)
        }
        if let reconstruction {
            sample.set(MemberDescription.reconstruction.arrayName, npy: NPYArray(int32: reconstruction, shape: [reconstruction.count]))
        }
        if let words { sample.set(MemberDescription.words.ext, data: words) }
        if kind.carriesOtherMembers {
            for member in otherMembers where !ChunkKind.knownMembers.contains(member.ext) { sample.set(member.ext, data: member.data) }
        }
        return sample
    }

    private static func array(_ bytes: [UInt8], _ description: MemberDescription, origin: String) throws -> NPYArray {
        let array: NPYArray
        do { array = try NPYArray.decode(bytes) } catch { throw ShardError("\(origin): \(description.ext): \(error)") }
        guard description.dtypes.contains(array.dtype) else {
            throw ShardError("\(origin): \(description.ext) is \(array.dtype.name); expected \(description.dtypes.map(\.name).joined(separator: " or "))")
        }
        guard description.shape(ofRank: array.shape.count) != nil else {
            throw ShardError("\(origin): \(description.ext) has shape \(array.shape); expected \(description.shapeDescription)")
        }
        return array
    }

    /// Token ids: a 1-D array of any integer dtype (a user's shard may hold int64), non-empty when `nonEmpty`.
    private static func tokenIDs(_ bytes: [UInt8], _ description: MemberDescription, nonEmpty: Bool, vocabularySize: Int?,
                                 origin: String) throws -> [Int32] {
        let array: NPYArray
        do { array = try NPYArray.decode(bytes) } catch { throw ShardError("\(origin): \(description.ext): \(error)") }
        guard array.shape.count == 1, !nonEmpty || array.count > 0 else {
            throw ShardError("\(origin): \(description.ext) has shape \(array.shape); expected a \(nonEmpty ? "non-empty " : "")1-D array of token ids")
        }
        let ids: [Int32]
        do { ids = try array.int32s() } catch { throw ShardError("\(origin): \(description.ext): \(error)") }
        if let vocabularySize, let bad = ids.first(where: { $0 < 0 || Int($0) >= vocabularySize }) {
            throw ShardError("\(origin): token id \(bad) is outside the model's vocabulary 0..<\(vocabularySize) (tokenized with another tokenizer?)")
        }
        return ids
    }
}

/// A chunk's final encoder states as stored (float32 or float16): ssm [n_layer, d_inner, d_state] and conv
/// [n_layer, d_inner, conv_kernel]; Mamba-2's ssm [n_layer, heads, head_dim, d_state] and conv
/// [n_layer, d_inner + 2·groups·d_state, conv_kernel].
public struct EncoderStates: Sendable, Equatable {
    public var ssm: NPYArray
    public var conv: NPYArray

    public init(ssm: NPYArray, conv: NPYArray) { self.ssm = ssm; self.conv = conv }

    /// Refuses states of other shapes than a model's: "`origin`: ssm.npy has shape [...], `whose` is [...]".
    public func check(ssmShape: [Int], convShape: [Int], origin: String, whose: String) throws {
        for (member, array, shape) in [(MemberDescription.ssm, ssm, ssmShape), (.conv, conv, convShape)] where array.shape != shape {
            throw ShardError("\(origin): \(member.ext) has shape \(array.shape), \(whose) is \(shape) [\((member.shape(ofRank: shape.count) ?? member.shape).joined(separator: ", "))]: the decoder must have the encoder's state shapes")
        }
    }
}

import Foundation
import LetheShards

/// One stage of a run, as its manifest records it (a report lists the stages that led to its annotations).
public struct RunStage: Equatable, Sendable {
    /// The path the stage was read from (as the downstream manifest recorded it).
    public var path: String
    public var name: String
    /// The executable ("lethe-encode"); empty when the stage's manifest was not found.
    public var executable: String
    public var parameters: [String: [String]]
    /// Option → paths, as recorded ("input" → ["stages/tokenize"]).
    public var inputs: [String: [String]]
    public var samples: Int
    /// Files the stage registered besides shards.
    public var files: [String]
    /// What is wrong with it, if anything ("manifest not found", "rebuilt since the annotations were made").
    public var problem: String?
    /// It holds (or made) the evaluated chunks: reached from the annotations through `--input` options only, not
    /// through a model (the decoder's training data) or the counts.
    public var isEvaluated: Bool
    /// Where its folder was found; nil when it was not.
    public var folder: URL?

    public init(path: String, name: String, executable: String, parameters: [String: [String]] = [:],
                inputs: [String: [String]] = [:], samples: Int = 0, files: [String] = [], problem: String? = nil,
                isEvaluated: Bool = true) {
        self.path = path; self.name = name; self.executable = executable; self.parameters = parameters
        self.inputs = inputs; self.samples = samples; self.files = files; self.problem = problem
        self.isEvaluated = isEvaluated
    }
}

/// The stages behind some stage folders (a report's annotations), found by following each manifest's recorded
/// inputs. A recorded path is
/// looked up from the working directory, then from the folders above the stage that recorded it; a folder
/// inside a stage folder (a checkpoint such as stages/train/final) leads to that stage. A stage reached from the
/// annotations through `--input` options only holds the evaluated chunks; one reached through a model or the
/// counts (the decoder's training chunks, say) does not.
public struct Lineage {
    public private(set) var stages: [RunStage] = []
    /// Stage folder → its index in `stages`, once its upstream has been visited.
    private var visited: [String: Int] = [:]
    private var entered: Set<String> = []
    /// The working directory, where recorded paths are looked up first.
    public let base = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)

    public init() {}

    /// Adds the stage folder at `path` (a downstream manifest recorded it with `recordedSHA256`, from the stage
    /// folder `referrer`) and, first, every stage behind it.
    public mutating func visit(_ path: String, recordedSHA256: String?, from referrer: URL?, evaluated: Bool = true) {
        let candidates = [base] + (referrer.map(Self.ancestors) ?? [])
        let found = candidates.map { resolve(path, against: $0).standardizedFileURL }
            .filter { FileManager.default.fileExists(atPath: $0.appendingPathComponent(StageFolder.manifestName).path) }
        let match = found.first { url in
            recordedSHA256 == nil || (try? SHA256Hex.ofFile(atPath: url.appendingPathComponent(StageFolder.manifestName).path)) == recordedSHA256
        }
        guard let url = match ?? found.first else {
            stages.append(RunStage(path: path, name: path, executable: "", problem: "manifest.json not found"))
            return
        }
        if let seen = visited[url.path] {
            if evaluated && !stages[seen].isEvaluated { markEvaluated(seen) }
            return
        }
        guard entered.insert(url.path).inserted else { return }  // a cycle of manifests: each stage once
        let manifest: StageManifest
        do {
            guard let read = try StageFolder(url: url).manifest() else { return }
            manifest = read
        } catch {
            stages.append(RunStage(path: path, name: path, executable: "", problem: "manifest.json unreadable"))
            return
        }
        for option in manifest.inputs.keys.sorted() {
            let throughInput = evaluated && option == "input"
            for identity in manifest.inputs[option]! {
                switch identity.kind {
                case .stage: visit(identity.path, recordedSHA256: identity.sha256, from: url, evaluated: throughInput)
                case .folder, .file: visitEnclosingStage(of: identity.path, from: url, evaluated: throughInput)
                }
            }
        }
        visited[url.path] = stages.count
        stages.append(RunStage(
            path: path, name: manifest.stage, executable: manifest.executable.name,
            parameters: manifest.parameters, inputs: manifest.inputs.mapValues { $0.map(\.path) },
            samples: manifest.totals.samples, files: manifest.files.map(\.name),
            problem: match == nil ? "its manifest changed after it was read downstream" : nil, isEvaluated: evaluated))
        stages[stages.count - 1].folder = url
    }

    /// A file or folder that `stage` recorded (a model, say), relative to the folder the stage ran in: looked up
    /// from the folders above the stage first (the pipeline's folder, wherever the report runs), then from the
    /// working directory.
    public func locate(_ path: String, recordedBy stage: RunStage) -> URL? {
        let candidates = (stage.folder.map(Self.ancestors) ?? []) + [base]
        return candidates.map { resolve(path, against: $0) }.first { FileManager.default.fileExists(atPath: $0.path) }
    }

    /// A stage first met through a model turns out to feed the evaluated chunks too: so do the stages it read
    /// through `--input`.
    private mutating func markEvaluated(_ index: Int) {
        stages[index].isEvaluated = true
        for upstream in stages[index].inputs["input"] ?? [] {
            if let i = stages.firstIndex(where: { $0.path == upstream && !$0.isEvaluated }) { markEvaluated(i) }
        }
    }

    /// A path inside a stage folder (up to two levels down) leads to that stage.
    private mutating func visitEnclosingStage(of path: String, from referrer: URL, evaluated: Bool) {
        var components = path.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        for _ in 0..<2 where components.count > 1 {
            components.removeLast()
            let parent = components.joined(separator: "/")
            let candidates = [base] + Self.ancestors(of: referrer)
            if candidates.contains(where: { FileManager.default.fileExists(atPath: resolve(parent, against: $0)
                .appendingPathComponent(StageFolder.manifestName).path) }) {
                visit(parent, recordedSHA256: nil, from: referrer, evaluated: evaluated)
                return
            }
        }
    }

    private static func ancestors(of url: URL) -> [URL] {
        var out: [URL] = []
        var current = url.standardizedFileURL
        while current.path != "/" {
            current = current.deletingLastPathComponent()
            out.append(current)
        }
        return out
    }
}

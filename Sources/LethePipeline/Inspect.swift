import Foundation
import LetheShards

/// Human-readable views of shards and stage folders (`lethe inspect`).
public enum Inspect {
    /// A shard's first `samples` samples (keys, members, dtypes, shapes, leading values, JSON text) and
    /// its total sample count.
    public static func shard(_ url: URL, samples limit: Int) throws -> String {
        let reader = try ShardReader(url: url)
        var lines: [String] = []
        var count = 0
        var members = 0
        while let sample = try reader.next() {
            if count < limit {
                lines.append("sample \(count): \(sample.key)")
                for member in sample.members { lines.append("  " + describe(member)) }
            }
            count += 1
            members += sample.members.count
        }
        let size = DurableFile.size(ofFile: url.path) ?? 0
        lines.insert("\(url.path): \(count) samples, \(members) members, \(formatBytes(size))", at: 0)
        if count > limit { lines.append("... \(count - limit) more samples (--samples N shows more)") }
        return lines.joined(separator: "\n")
    }

    static func describe(_ member: ShardSample.Member) -> String {
        let name = member.ext.padding(toLength: max(12, member.ext.count + 2), withPad: " ", startingAt: 0)
        if member.ext.hasSuffix("npy") {
            guard let array = try? NPYArray.decode(member.data) else { return "\(name)unreadable .npy (\(member.data.count) bytes)" }
            let shape = "[" + array.shape.map(String.init).joined(separator: ", ") + "]"
            let preview = previewValues(array)
            return "\(name)\(array.dtype.name) \(shape)  \(preview)"
        }
        if member.ext == "json" || member.ext.hasSuffix(".json") {
            let text = (try? JSONValue.parse(member.data).serialized()) ?? String(decoding: member.data, as: UTF8.self)
            return "\(name)\(truncate(text, to: 400))"
        }
        if let text = String(validating: member.data, as: UTF8.self) {
            return "\(name)\(member.data.count) bytes  \(truncate(JSONValue.string(text).serialized(), to: 200))"
        }
        return "\(name)\(member.data.count) bytes (binary)"
    }

    /// The first 16 values: integers as integers (token ids), floats with 4 significant digits.
    static func previewValues(_ array: NPYArray) -> String {
        let shown = min(array.count, 16)
        let text: [String]
        switch array.dtype {
        case .int32, .int64, .uint8:
            text = ((try? array.int64s()) ?? []).prefix(shown).map(String.init)
        case .bool:
            text = array.bytes.prefix(shown).map { $0 != 0 ? "true" : "false" }
        default:
            text = array.doubles().prefix(shown).map { String(format: "%.4g", $0) }
        }
        return text.joined(separator: " ") + (array.count > shown ? " ..." : "")
    }

    /// A stage folder: its manifest summarized, or what an incomplete folder holds.
    public static func stageFolder(_ url: URL) throws -> String {
        let folder = StageFolder(url: url)
        guard let manifest = try folder.manifest() else {
            let records = folder.recordedUnits().compactMap { folder.record(unit: $0) }
            guard !records.isEmpty else {
                throw PipelineError("\(url.path): not a stage folder, or a stage that has not finished a shard yet (no manifest.json)")
            }
            guard let total = records.lazy.compactMap(\.units).first else {
                return "\(url.path): incomplete (no manifest.json); \(counted(records.count, "shard")) have records"
            }
            return "\(url.path): incomplete (no manifest.json); \(records.count) of \(total) shards have records"
        }
        // Sizes only (as `lethe status`); `lethe validate` compares every file's sha256.
        let damage = folder.problems(with: manifest, checkContent: false).first
        var lines = ["\(url.path): stage \(manifest.stage), " + (damage.map { "damaged: \($0)" } ?? "complete")]
        func field(_ name: String, _ value: String) { lines.append("  " + name.padding(toLength: 13, withPad: " ", startingAt: 0) + value) }
        field("executable", "\(manifest.executable.name) \(manifest.executable.version) (format \(manifest.executable.format))")
        field("fingerprint", manifest.fingerprint)
        // As a command line gives them: a repeated option once per value.
        let parameters = manifest.parameters.keys.sorted().map { key in
            let values = manifest.parameters[key]!
            return shellCommandLine(values.isEmpty ? ["--\(key)"] : values.flatMap { ["--\(key)", $0] })
        }
        field("parameters", parameters.isEmpty ? "(none)" : parameters.joined(separator: " "))
        for option in manifest.inputs.keys.sorted() {
            for input in manifest.inputs[option]! { field("input", "--\(option) \(input.path) (\(input.kind.rawValue) \(input.sha256.prefix(12)))") }
        }
        field("shards", "\(manifest.totals.shards) with \(manifest.totals.samples) samples, \(formatBytes(manifest.totals.bytes))")
        for file in manifest.files { field("file", "\(file.name) (\(formatBytes(file.bytes)), sha256 \(file.sha256.prefix(12)))") }
        field("started", manifest.started)
        field("finished", manifest.finished)
        if manifest.extra != .object([:]) && manifest.extra != .null { field("extra", truncate(manifest.extra.serialized(), to: 600)) }
        return lines.joined(separator: "\n")
    }

    public static func formatBytes(_ bytes: Int) -> String {
        let units = ["bytes", "KB", "MB", "GB", "TB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1000, unit < units.count - 1 { value /= 1000; unit += 1 }
        return unit == 0 ? "\(bytes) bytes" : String(format: "%.1f", value) + " " + units[unit]
    }

    /// "1 shard", "3 shards".
    public static func counted(_ count: Int, _ noun: String) -> String { "\(count) \(noun)\(count == 1 ? "" : "s")" }

    static func truncate(_ text: String, to length: Int) -> String {
        text.count <= length ? text : String(text.prefix(length)) + "..."
    }
}

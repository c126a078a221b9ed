// The figures Hossain et al. (2025) published, set beside a run whose encoder has the architecture of one of the
// paper's four models, so that a reproduction is read at a glance. The numbers are data
// (Resources/paper-figures.json, which names its source), compiled in.

import Foundation

public struct PaperFigures: Decodable, Sendable {
    public struct Architecture: Decodable, Sendable {
        public var layers: Int
        public var dModel: Int
        enum CodingKeys: String, CodingKey { case layers, dModel = "d_model" }
    }

    /// Where the numbers come from.
    public var source: String
    /// The paper's models by name ("mamba-130m"), each with its layer count and width.
    public var models: [String: Architecture]
    /// ROUGE-1 F1 by dataset ("all" for the paper's figure over its evaluation chunks, else a Pile subset, aave,
    /// sae), model and chunk length.
    public var rouge1F1: [String: [String: [String: Double]]]
    /// Omission rate by model and gold POS class, and by model and NER class (CoNLL-2003).
    public var omissionPOS: [String: [String: Double]]
    public var omissionNER: [String: [String: Double]]

    enum CodingKeys: String, CodingKey {
        case source, models, rouge1F1 = "rouge1_f1", omissionPOS = "omission_pos", omissionNER = "omission_ner"
    }

    /// The figures shipped with Lethe.
    public static let published: PaperFigures = {
        do {
            return try JSONDecoder().decode(PaperFigures.self, from: Data(PackageResources.paper_figures_json))
        } catch {
            preconditionFailure("Resources/paper-figures.json does not decode: \(error)")
        }
    }()

    /// The paper's model of this architecture, if any (the paper's four differ in layers or width).
    public func model(layers: Int, dModel: Int) -> String? {
        models.first { $0.value.layers == layers && $0.value.dModel == dModel }?.key
    }
}

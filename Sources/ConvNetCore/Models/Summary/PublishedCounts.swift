import Foundation

/// The published parameter counts and multiply-accumulates of named architectures,
/// `Fixtures/torchvision-counts.json` (torchvision's and the papers' figures), which the
/// core's builders reproduce exactly and every lesson prints beside its own count.
public struct PublishedCounts: Sendable {
    public var parameters: Int
    /// At the input size the file gives (batch 1).
    public var macs: Int

    /// Every entry of `fixtures/torchvision-counts.json` by name; empty when the file is
    /// missing or unreadable (the counts are shown when there, never required).
    public static func all(fixtures: URL) -> [String: PublishedCounts] {
        guard let data = FileManager.default.contents(atPath: fixtures.appendingPathComponent("torchvision-counts.json").path),
              let root = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any],
              let models = root["models"] as? [String: Any] else { return [:] }
        var result: [String: PublishedCounts] = [:]
        for (name, value) in models {
            guard let entry = value as? [String: Any],
                  let p = JSONValue.integer(entry["parameters"]), let m = JSONValue.integer(entry["macs"]) else { continue }
            result[name] = PublishedCounts(parameters: p, macs: m)
        }
        return result
    }

    /// The entry for `name`, if the file has it.
    public static func lookup(_ name: String, fixtures: URL) -> PublishedCounts? { all(fixtures: fixtures)[name] }

    /// "Fixtures/torchvision-counts.json: 61,706 parameters, 416,520 MACs (both match)"
    /// for a model counted at `parameters` and `macs` (batch 1).
    public func comparison(parameters counted: Int, macs countedMACs: Int) -> String {
        "Fixtures/torchvision-counts.json: \(ModelSummary.grouped(parameters)) parameters, \(ModelSummary.grouped(macs)) MACs"
            + (counted == parameters && countedMACs == macs ? " (both match)" : " (MISMATCH: counted \(ModelSummary.grouped(counted)), \(ModelSummary.grouped(countedMACs)))")
    }
}

/// A network's layer table, computed from shapes alone: for each layer its name, output
/// shape, parameters and multiply-accumulates, and the totals.
///
/// Nothing is allocated or computed but shapes, so a summary of ResNet-152 or VGG-16
/// takes milliseconds. MACs count convolutions and linear layers only (the convention
/// of the ResNet paper and of torchvision's published figures); `parameters` counts
/// every trainable parameter of the model, including auxiliary heads that run only in
/// training, whose multiply-accumulates are not part of `macs` (an inference pass).
public struct ModelSummary: CustomStringConvertible {
    public struct Row: Equatable, Sendable {
        /// The layer's path, the prefix of its tensors' names (`layer1.0.conv1`).
        public var name: String
        /// The layer and its configuration (`Conv2d(64, 64, kernel 3x3, padding 1, no bias)`).
        public var layer: String
        public var outputShape: [Int]
        public var parameters: Int
        public var macs: Int
        /// How many names deep the layer sits.
        public var depth: Int
        /// True for layers of auxiliary heads, which run only in training.
        public var trainingOnly: Bool
    }

    /// What the summary is of (a zoo name, or the model's description).
    public var title: String
    public var inputShape: [Int]
    public var outputShape: [Int]
    public var rows: [Row]
    /// Composite layers (blocks, stages) by path: their description and output shape.
    public var blocks: [String: (layer: String, output: [Int])]
    /// Trainable parameters of the whole model.
    public var parameters: Int
    /// Multiply-accumulates of one inference pass on `inputShape`.
    public var macs: Int

    /// Traces `model` on an input of `inputShape` (no weights needed).
    public init(of model: Layer, inputShape: [Int], title: String? = nil) {
        var trace = SummaryTrace()
        outputShape = model.summarize(inputShape, into: &trace)
        self.title = title ?? model.description
        self.inputShape = inputShape
        self.rows = trace.rows
        self.blocks = trace.blocks
        self.parameters = model.parameterCount
        self.macs = trace.rows.reduce(0) { $0 + ($1.trainingOnly ? 0 : $1.macs) }
    }

    /// The full table: one row per layer, then the totals.
    public var table: String { table(depth: nil) }

    public var description: String { table }

    /// `{"parameters": P, "macs": M}`.
    public var json: String { "{\"parameters\": \(parameters), \"macs\": \(macs)}" }

    /// The table with layers deeper than `depth` names merged into their ancestor at that
    /// depth (their parameters and MACs summed, the last output shape kept);
    /// `depth: 1` gives one row per stage of a ResNet.
    public func table(depth: Int?) -> String {
        var shown: [(name: String, layer: String, shape: [Int], parameters: Int, macs: Int, aux: Bool)] = []
        for row in rows {
            guard let depth, row.depth > depth else {
                shown.append((row.name, row.layer, row.outputShape, row.parameters, row.macs, row.trainingOnly))
                continue
            }
            let name = row.name.split(separator: ".").prefix(depth).joined(separator: ".")
            let block = blocks[name]
            if let last = shown.last, last.name == name {
                shown[shown.count - 1] = (name, last.layer, block?.output ?? row.outputShape, last.parameters + row.parameters,
                                          last.macs + row.macs, last.aux && row.trainingOnly)
            } else {
                shown.append((name, block?.layer ?? "", block?.output ?? row.outputShape, row.parameters, row.macs, row.trainingOnly))
            }
        }
        let header = ["layer", "type", "output shape", "parameters", "MACs"]
        var lines: [[String]] = shown.map { r in
            [r.name, r.layer + (r.aux ? " (training only)" : ""), Self.shape(r.shape),
             Self.grouped(r.parameters), Self.grouped(r.macs)]
        }
        lines.append(["total", "", Self.shape(outputShape), Self.grouped(parameters), Self.grouped(macs)])
        var widths = header.map(\.count)
        for line in lines { for (i, cell) in line.enumerated() { widths[i] = max(widths[i], cell.count) } }
        func render(_ cells: [String]) -> String {
            cells.enumerated().map { i, cell in
                let pad = String(repeating: " ", count: widths[i] - cell.count)
                return i >= 3 ? pad + cell : cell + pad     // numbers right-aligned
            }.joined(separator: "  ").replacingTrailingSpaces()
        }
        var out = ["\(title): input \(Self.shape(inputShape))", render(header),
                   String(repeating: "-", count: widths.reduce(0, +) + 2 * (widths.count - 1))]
        out += lines.dropLast().map(render)
        out.append(out[2])
        out.append(render(lines.last!))
        return out.joined(separator: "\n")
    }

    static func shape(_ s: [Int]) -> String { "[" + s.map(String.init).joined(separator: ", ") + "]" }

    /// 11689512 -> "11,689,512".
    public static func grouped(_ n: Int) -> String {
        let digits = String(abs(n))
        var out = ""
        for (i, ch) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(ch)
        }
        return (n < 0 ? "-" : "") + out
    }
}

private extension String {
    func replacingTrailingSpaces() -> String {
        var s = self
        while s.last == " " { s.removeLast() }
        return s
    }
}

extension Layer {
    /// The layer table of this model for an input of `inputShape`, from shapes alone.
    public func summary(inputShape: [Int], title: String? = nil) -> ModelSummary {
        ModelSummary(of: self, inputShape: inputShape, title: title)
    }
}

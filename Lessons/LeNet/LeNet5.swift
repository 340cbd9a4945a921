import ConvNetCore
import Foundation

// LeNet-5 (LeCun, Bottou, Bengio and Haffner, "Gradient-based learning applied to
// document recognition", Proc. IEEE 1998), read as the paper's table. The architecture
// is written once, in the core (`LeNet5` in Sources/ConvNetCore/Models/Architectures/
// Classic.swift, the model `lesson summary lenet5_full_c3` counts); this file is where
// the lesson reads it, builds it for training, and sets it beside what the paper says.
//
//     layer   what it does                     output        parameters      MACs
//     input   a digit, 28x28 padded by 2       32 x 32 x 1
//     C1      6 filters 5x5 (valid), tanh      28 x 28 x 6           156   117,600
//     S2      2x2 average pool, stride 2       14 x 14 x 6             0         0
//     C3      16 filters 5x5x6 (valid), tanh   10 x 10 x 16        2,416   240,000
//     S4      2x2 average pool, stride 2        5 x 5 x 16             0         0
//     C5      120 filters 5x5x16, tanh          1 x 1 x 120       48,120    48,000
//     F6      fully connected 120 -> 84, tanh  84                 10,164    10,080
//     output  fully connected 84 -> 10         10 (softmax)          850       840
//                                                                 61,706   416,520
//
// n_H and n_W shrink (32, 28, 14, 10, 5, 1) while n_C grows (1, 6, 16, 120): each layer
// trades space for features. The convolutions share their weights across the image,
// which is why C1 has 156 parameters for 117,600 multiplies, while the fully connected
// C5 and F6 hold 94% of the parameters.
//
// What the modern reading changes from 1998 (the course's reading, and torchvision's
// habit): S2 and S4 plainly average (the paper multiplied each map's sum by a trainable
// coefficient and added a trainable bias: 12 and 32 parameters), the squashing function
// is tanh (the paper's was 1.7159 tanh(2a/3)), and the output is a linear layer with a
// softmax cross-entropy loss (the paper's was 10 Euclidean RBF units with fixed 7x12
// bitmap prototypes). And C3 sees all six S2 maps, unless asked for the paper's table:
// in 1998 each C3 map saw only some S2 maps (Table I, `LeNetPaper.tableI`), which
// "keeps the number of connections within reasonable bounds" and "forces a break of
// symmetry in the network": 1,516 parameters instead of 2,416.

extension LeNet5 {
    /// The lesson's LeNet-5: the core's model (C3 fully connected, or the paper's table),
    /// its weights drawn from `seed` with Glorot's uniform initialisation (meant for tanh),
    /// running on the lesson's kernel pair (LeNetKernels.swift), fast or naive.
    public static func lesson(c3: C3Connections = .full, seed: UInt64, kernels: KernelChoice = .fast) -> LeNet5 {
        let model = LeNet5(c3: c3)
        model.initialize(seed: seed, scheme: .xavier)
        model.customKernels = LeNetKernels(kernels)
        return model
    }

    /// One image of the paper's input: `[1, 32, 32]` (MNIST's 28x28 digits padded by 2, so
    /// that strokes near the edge still reach the centre of C1's receptive fields).
    public static let inputShape = [1, 32, 32]

    /// The layers whose outputs the lesson draws, by name: the feature maps after each
    /// convolution's tanh and after each pooling, then F6 and the class scores.
    public static let stages = ["tanh1", "s2", "tanh3", "s4", "tanh5", "tanh6", "output"]

    /// The output of every layer for input `x` (`[N, 1, 32, 32]`), in order, by layer name.
    public func activations(of x: Tensor) -> [(name: String, output: Tensor)] {
        var result: [(String, Tensor)] = []
        var y = x
        for (name, layer) in children {
            y = layer(y)
            result.append((name, y))
        }
        return result
    }
}

/// The numbers the 1998 paper publishes for LeNet-5 (Section II-B and Section III).
public enum LeNetPaper {
    /// One layer as the paper counts it: trainable parameters and connections (a
    /// connection is one multiply, biases included: C1's 122,304 = 28*28*6*(25 + 1)).
    public struct Layer: Sendable {
        public var name: String
        public var parameters: Int
        public var connections: Int
    }

    public static let layers: [Layer] = [
        Layer(name: "c1", parameters: 156, connections: 122_304),
        Layer(name: "s2", parameters: 12, connections: 5_880),
        Layer(name: "c3", parameters: 1_516, connections: 151_600),
        Layer(name: "s4", parameters: 32, connections: 2_000),
        Layer(name: "c5", parameters: 48_120, connections: 48_120),
        Layer(name: "f6", parameters: 10_164, connections: 10_164),
        Layer(name: "output", parameters: 840, connections: 840),   // RBF prototypes, fixed by hand
    ]

    /// "about 60,000 trainable free parameters": C1 to F6 add up to exactly 60,000 (the
    /// output layer's 840 RBF parameters were set by hand).
    public static let trainableParameters = 60_000
    /// Every connection, output included.
    public static let connections = 340_908
    /// Test error on MNIST's 10,000 test digits, trained on its 60,000 training digits
    /// (20 passes; 0.8% with distorted training digits).
    public static let testError = 0.0095

    /// Table I: which S2 maps each C3 map sees (`c3Sees[k]`, 60 of the 96 pairs).
    public static var c3Sees: [[Int]] { LeNet5.c3ConnectionTable }

    /// The paper's Table I drawn as it is printed: rows are S2 maps 0-5, columns C3 maps
    /// 0-15, an X where they are connected.
    public static var tableI: String {
        var lines = ["    " + (0..<16).map { $0 < 10 ? " \($0)" : "\($0)" }.joined(separator: " ")]
        for s2 in 0..<6 {
            lines.append("  \(s2) " + (0..<16).map { c3Sees[$0].contains(s2) ? " X" : "  " }.joined(separator: " "))
        }
        return lines.joined(separator: "\n")
    }
}

/// The layer table of a LeNet-5 beside the paper's numbers: for each layer its output
/// shape, parameters and MACs (from shapes, `ModelSummary`), and the paper's trainable
/// parameters and connections for that layer; then the totals.
public func leNetTable(_ model: LeNet5, batch: Int = 1) -> ReportTable {
    let summary = model.summary(inputShape: [batch] + LeNet5.inputShape,
                                title: "LeNet-5, C3 " + (model.c3 == .full ? "full" : "as the paper's Table I"))
    var rows: [[String]] = summary.rows.map { row in
        let paper = LeNetPaper.layers.first { $0.name == row.name }
        return [row.name, row.layer, "[" + row.outputShape.map(String.init).joined(separator: ", ") + "]",
                ModelSummary.grouped(row.parameters), ModelSummary.grouped(row.macs),
                paper.map { ModelSummary.grouped($0.parameters) } ?? "",
                paper.map { ModelSummary.grouped($0.connections) } ?? ""]
    }
    rows.append(["total", "", "", ModelSummary.grouped(summary.parameters), ModelSummary.grouped(summary.macs),
                 "~" + ModelSummary.grouped(LeNetPaper.trainableParameters), ModelSummary.grouped(LeNetPaper.connections)])
    return ReportTable(caption: summary.title + ": input " + "[" + summary.inputShape.map(String.init).joined(separator: ", ") + "]",
                       headers: ["layer", "type", "output shape", "parameters", "MACs", "paper: parameters", "connections"],
                       rows: rows)
}

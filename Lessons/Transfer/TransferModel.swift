import ConvNetCore
import Foundation
import LeNetLesson

// The network of this lesson is lesson 1's LeNet-5 (Lessons/LeNet/LeNet5.swift, written
// once in the core's Classic.swift), with its output layer replaced: pretrained on digits
// 0-4 (5 classes), then given a new 84 -> 5 output for digits 5-9.
//
// A checkpoint is any safetensors file holding LeNet-5's tensors under the names
// `lesson run lenet` writes, which are PyTorch's `state_dict` names for the same module
// layout (c1 = nn.Conv2d(1, 6, 5), c3 = nn.Conv2d(6, 16, 5), c5 = nn.Conv2d(16, 120, 5),
// f6 = nn.Linear(120, 84), output = nn.Linear(84, K)):
//
//     c1.weight [6, 1, 5, 5]     c1.bias [6]
//     c3.weight [16, 6, 5, 5]    c3.bias [16]
//     c5.weight [120, 16, 5, 5]  c5.bias [120]
//     f6.weight [84, 120]        f6.bias [84]
//     output.weight [K, 84]      output.bias [K]      any K: the output is replaced

/// A LeNet-5 checkpoint, checked: its tensors, its number of classes, its C3.
public struct LeNetCheckpoint {
    public var tensors: [String: Tensor]
    public var classes: Int
    public var c3: LeNet5.C3Connections
    public var metadata: [String: String]

    /// The names and shapes, in the order they are checked (`nil`: the output's class count, any).
    public static let expected: [(name: String, shape: [Int?])] = [
        ("c1.weight", [6, 1, 5, 5]), ("c1.bias", [6]),
        ("c3.weight", [16, 6, 5, 5]), ("c3.bias", [16]),
        ("c5.weight", [120, 16, 5, 5]), ("c5.bias", [120]),
        ("f6.weight", [84, 120]), ("f6.bias", [84]),
        ("output.weight", [nil, 84]), ("output.bias", [nil]),
    ]

    /// Checks `file` (read from `path`): every tensor present with LeNet-5's shape, the
    /// output's class count the same in its weight and bias, no other tensors. Throws a
    /// one-line `LessonError` naming the first mismatch.
    public init(_ file: SafetensorsFile, path: String) throws {
        func refuse(_ reason: String) -> LessonError { LessonError("\(path) is not a LeNet-5 checkpoint: \(reason)") }
        var classes: Int?
        for (name, shape) in Self.expected {
            guard let tensor = file.tensors[name] else {
                if file.integerTensors[name] != nil { throw refuse("\(name) holds integers, LeNet-5's weights are floating point") }
                throw refuse("missing \(name) (LeNet-5's is [\(shape.map { $0.map(String.init) ?? "classes" }.joined(separator: ", "))])")
            }
            let fits = tensor.shape.count == shape.count && zip(tensor.shape, shape).allSatisfy { got, want in
                want.map { $0 == got } ?? (got >= 1 && (classes == nil || classes == got))
            }
            guard fits else {
                let wanted = shape.map { $0.map(String.init) ?? (classes.map(String.init) ?? "classes") }.joined(separator: ", ")
                throw refuse("\(name) has shape \(shapeText(tensor.shape)), LeNet-5's is [\(wanted)]")
            }
            if shape[0] == nil { classes = tensor.shape[0] }
        }
        let known = Set(Self.expected.map(\.name))
        let extra = (Array(file.tensors.keys) + Array(file.integerTensors.keys)).filter { !known.contains($0) }.sorted()
        if let first = extra.first {
            throw refuse("unexpected tensor \(first)" + (extra.count > 1 ? " (and \(extra.count - 1) more)" : ""))
        }
        tensors = file.tensors
        self.classes = classes!
        c3 = file.metadata["c3"] == "paper" ? .paperTable : .full
        metadata = file.metadata
    }

    /// Reads and checks `url`.
    public static func read(_ url: URL) throws -> LeNetCheckpoint {
        let file: SafetensorsFile
        do {
            file = try Safetensors.read(url)
        } catch let error as FileFormatError {
            throw LessonError("\(url.path) is not a LeNet-5 checkpoint: \(error.reason)")
        }
        return try LeNetCheckpoint(file, path: url.path)
    }
}

extension LeNet5 {
    /// A LeNet-5 for `classes` classes on the LeNet lesson's kernels, its weights drawn
    /// from `seed` (Glorot uniform, for tanh), then C1-F6 set from `pretrained` when given:
    /// the output layer stays the new, random one (the head is replaced).
    public static func transfer(classes: Int, seed: UInt64, from pretrained: LeNetCheckpoint? = nil) -> LeNet5 {
        let model = LeNet5(c3: pretrained?.c3 ?? .full, classes: classes)
        model.initialize(seed: seed, scheme: .xavier)
        model.customKernels = LeNetKernels(.fast)
        if let pretrained {
            for (name, p) in model.namedParameters() where !name.hasPrefix("output.") {
                p.value = pretrained.tensors[name]!
            }
        }
        return model
    }
}

/// The paper's numbers (Yosinski, Clune, Bengio and Lipson, "How transferable are features
/// in deep neural networks?", NIPS 2014): ImageNet split into two halves A and B of 500
/// classes, an 8-layer AlexNet-like net. Read off its Figure 2 (approximate).
public enum YosinskiPaper {
    /// Top-1 accuracy of the net trained on B alone (baseB).
    public static let baseB = 0.625
    /// n layers copied from the A net and frozen, the rest trained on B (AnB): about the
    /// base up to n = 2, then falling to about 0.52 at n = 6 and 0.49 at n = 7.
    public static let frozenAnB: [(layers: Int, accuracy: Double)] = [(1, 0.624), (2, 0.62), (3, 0.60), (4, 0.58), (5, 0.56), (6, 0.52), (7, 0.49)]
    /// The same copied layers fine-tuned on B (AnB+): about 0.64-0.65 at every n, above baseB.
    public static let fineTunedAnBPlus = 0.645
}

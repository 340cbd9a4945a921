// The multilayer perceptron: fully connected layers on flattened images.

/// A multilayer perceptron on images flattened to vectors, as the MNIST nets of Hinton,
/// Vinyals and Dean (2015, "Distilling the knowledge in a neural network"):
///
///     flatten                  [N, C, H, W] -> [N, C*H*W]
///     dropout0 (p_in)          only if inputDropout > 0
///     fc1  linear -> h_1, relu1, dropout1 (p)        (dropout only if hiddenDropout > 0)
///     fc2  linear -> h_2, relu2, dropout2 (p)
///     ...
///     fcL+1 linear -> classes  (the logits z)
///
/// The paper's teacher: two hidden layers of 1,200 ReLUs, dropout (and jittered inputs);
/// its students: two hidden layers of 800 ReLUs without regularisation. Parameters:
/// sum over consecutive widths a -> b of a b + b (784-1200-1200-10: 2,395,210;
/// 784-800-800-10: 1,276,810). Layer names `fc1.weight`, `fc1.bias`, ... as in PyTorch.
public final class MultilayerPerceptron: Sequential {
    public let inputs: Int
    public let hidden: [Int]
    public let classes: Int
    public let inputDropout: Float
    public let hiddenDropout: Float

    public init(inputs: Int, hidden: [Int], classes: Int = 10, inputDropout: Float = 0, hiddenDropout: Float = 0) {
        precondition(inputs > 0 && classes > 0 && hidden.allSatisfy { $0 > 0 },
                     "MultilayerPerceptron: sizes must be positive, got \(inputs) -> \(hidden) -> \(classes)")
        self.inputs = inputs
        self.hidden = hidden
        self.classes = classes
        self.inputDropout = inputDropout
        self.hiddenDropout = hiddenDropout
        var layers: [(String, Layer)] = [("flatten", Flatten())]
        if inputDropout > 0 { layers.append(("dropout0", Dropout(probability: inputDropout))) }
        var width = inputs
        for (i, h) in hidden.enumerated() {
            layers += [("fc\(i + 1)", Linear(width, h)), ("relu\(i + 1)", ReLU())]
            if hiddenDropout > 0 { layers.append(("dropout\(i + 1)", Dropout(probability: hiddenDropout))) }
            width = h
        }
        layers.append(("fc\(hidden.count + 1)", Linear(width, classes)))
        super.init(named: layers)
        inputGradientRequired = false
    }

    /// Trainable parameters from the widths alone: sum of a b + b over consecutive widths.
    public static func parameterCount(inputs: Int, hidden: [Int], classes: Int) -> Int {
        let widths = [inputs] + hidden + [classes]
        return zip(widths, widths.dropFirst()).reduce(0) { $0 + $1.0 * $1.1 + $1.1 }
    }

    /// "MLP 784-1200-1200-10, dropout 0.2/0.5".
    public override var description: String {
        "MLP " + ([inputs] + hidden + [classes]).map(String.init).joined(separator: "-")
            + (inputDropout > 0 || hiddenDropout > 0 ? ", dropout \(inputDropout)/\(hiddenDropout)" : "")
    }
}

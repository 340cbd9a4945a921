import ConvNetCore
import LeNetLesson

// The transfer lesson's exercises: write these three functions, then run
//
//     swift test --filter TransferExercises
//
// `lesson exercise transfer --start` blanks their bodies (the reference solutions between
// the EXERCISE markers); `lesson exercise transfer --reset` puts them back. The graders
// (Tests/TransferLessonTests/TransferExercises.swift) check them against LeNet-5's own
// layers (`model.children`: c1, tanh1, s2, c3, tanh3, s4, c5, tanh5, flatten, f6, tanh6,
// output) and the lesson's `Frozen` (Frozen.swift).

/// Exercise 1: the features a frozen LeNet-5 gives at a cut: the output of its layers
/// from the first up to and including the child named `lastFrozen` ("tanh1", "s2",
/// "tanh3", "s4", "flatten" or "tanh6"), for `images` `[N, 1, 32, 32]`. This is what a
/// feature cache stores, computed once.
/// Hint: walk `model.children` (pairs of name and layer) in order, calling each layer
/// (`layer(x)`) on the previous output, and stop after the one named `lastFrozen`.
public func frozenFeatures(_ model: LeNet5, through lastFrozen: String, _ images: Tensor) -> Tensor {
    // EXERCISE frozenFeatures BEGIN (stub: return images)
    var y = images
    for (name, layer) in model.children {
        y = layer(y)
        if name == lastFrozen { break }
    }
    return y
    // EXERCISE frozenFeatures END
}

/// Exercise 2: replace the head. Return a NEW LeNet-5 for `classes` classes whose C1, C3,
/// C5 and F6 hold copies of `pretrained`'s weights and whose output layer (84 -> classes)
/// is freshly initialised from `seed`; `pretrained` itself must not change when the new
/// net trains.
/// Hint: `LeNet5(c3: pretrained.c3, classes: classes).initialize(seed: seed, scheme: .xavier)`
/// gives random weights everywhere; then set every parameter whose name
/// (`namedParameters()`: "c1.weight", ..., "output.bias") does not start with "output."
/// to the pretrained one's value (`p.value = ...`: Tensor is a value type, so that copies).
public func withNewHead(_ pretrained: LeNet5, classes: Int, seed: UInt64) -> LeNet5 {
    // EXERCISE withNewHead BEGIN (stub: return pretrained)
    let model = LeNet5(c3: pretrained.c3, classes: classes).initialize(seed: seed, scheme: .xavier)
    let old = Dictionary(uniqueKeysWithValues: pretrained.namedParameters().map { ($0.name, $0.parameter.value) })
    for (name, p) in model.namedParameters() where !name.hasPrefix("output.") {
        p.value = old[name]!
    }
    return model
    // EXERCISE withNewHead END
}

/// Exercise 3: one SGD step (no momentum, no weight decay) that trains only the layers
/// ABOVE the child named `lastFrozen`: forward through the whole net, the mean
/// cross-entropy of the logits against `labels`, then backward through the layers above
/// the cut only (the gradient is not propagated below it: nothing there is computed or
/// changed), and w = w - learningRate * dL/dw for their parameters. Returns the loss.
/// Hint: `Loss.crossEntropy(logits, targets: labels)` gives the loss and dL/dlogits;
/// `layer.backward(g)` returns the gradient for the layer's input and adds into its
/// parameters' `gradient` (call `zeroGradients()` first); `p.update { v in ... }` changes
/// a parameter in place. Walk `model.children.reversed()` and stop at `lastFrozen`.
public func frozenStep(_ model: LeNet5, frozenThrough lastFrozen: String, _ x: Tensor, _ labels: [Int], learningRate: Float) -> Float {
    // EXERCISE frozenStep BEGIN (stub: return 0)
    let logits = model(x)
    let (loss, dLogits) = Loss.crossEntropy(logits, targets: labels)
    var g = dLogits
    var above: [Layer] = []
    for (name, layer) in model.children.reversed() {
        if name == lastFrozen { break }
        above.append(layer)
    }
    for layer in above { layer.zeroGradients() }
    for layer in above { g = layer.backward(g) }
    for layer in above {
        for p in layer.parameters {
            let grad = p.gradient.data
            p.update { v in for i in v.indices { v[i] -= learningRate * grad[i] } }
        }
    }
    return loss
    // EXERCISE frozenStep END
}

import ConvNetCore
import Foundation

// What the lesson measures inside its nets: the gradient norm of every convolution at
// initialisation, a block zeroed into the identity and the shallower net that remains,
// and the race of the block's tail (batch norm, + a[l], ReLU) fused or in three passes.

enum ResNetProbes {
    /// The stages of a CIFAR ResNet as one flat list: conv1 (bn1, relu), every block in
    /// order, then the head. Running them in order is running the net.
    static func steps(_ net: CifarResNet) -> [(name: String, layer: Layer)] {
        net.children.flatMap { entry -> [(name: String, layer: Layer)] in
            guard entry.name.hasPrefix("layer"), let stage = entry.layer as? Sequential else { return [entry] }
            return stage.children.map { ("\(entry.name).\($0.name)", $0.layer) }
        }
    }

    /// The norm of each convolution's weight gradient, first layer to last (projection
    /// shortcuts left out), after one forward and backward pass of `x` in training mode.
    static func gradientNorms(_ net: CifarResNet, _ x: Tensor, _ labels: [Int]) -> [Double] {
        net.train()
        let logits = net(x)
        net.zeroGradients()
        _ = net.backward(Loss.crossEntropy(logits, targets: labels, using: net.backend).gradient)
        return net.namedParameters()
            .filter { $0.name.hasSuffix("conv1.weight") || $0.name.hasSuffix("conv2.weight") }
            .map { entry in sqrt(entry.parameter.gradient.data.reduce(0.0) { $0 + Double($1) * Double($1) }) }
    }

    /// The blocks the lesson zeroes in a trained residual net: every block of the last
    /// stage but its first (which changes the shape through a projection).
    static func blocksToZero(_ net: CifarResNet) -> [(name: String, block: CifarBlock)] {
        net.blocks.filter { $0.name.hasPrefix("layer3.") && $0.block.downsample == nil && $0.block.residual && !$0.block.preActivation }
    }

    /// Sets the last batch norm of `block` to gamma = 0, beta = 0: BN(z) = 0 for every z,
    /// so a post-activation block computes g(0 + a[l]) = a[l].
    static func zeroLastBatchNorm(_ block: CifarBlock) {
        block.bn2.weight.update { for i in $0.indices { $0[i] = 0 } }
        block.bn2.bias.update { for i in $0.indices { $0[i] = 0 } }
    }

    /// The net without the blocks in `skipping`, as a net of its own (the same layer
    /// objects, the same container semantics), evaluated on `x` in inference mode.
    static func forward(_ net: CifarResNet, _ x: Tensor, skipping: Set<ObjectIdentifier>) -> Tensor {
        let layers: [(String, Layer)] = net.children.map { entry in
            guard entry.name.hasPrefix("layer"), let stage = entry.layer as? Sequential else { return (entry.name, entry.layer) }
            return (entry.name, Sequential(named: stage.children.filter { !skipping.contains(ObjectIdentifier($0.layer)) }
                .map { ($0.name, $0.layer) }))
        }
        let shallower = Sequential(named: layers)
        shallower.eval()
        return shallower(x)
    }

    /// What the race measured, and the bytes each way moves.
    struct TailRace {
        var blockName: String
        var shape: FeatureMapShape
        var result: RaceResult
        var bytesSeparate: Int
        var bytesFused: Int
    }

    /// Races y = ReLU(BN(z) + a) and its backward pass on the second block of the first
    /// stage of `net`: naive loops, the fast kernels one pass each, and the fused kernel,
    /// on the block's real z and a for the batch `x` and its real upstream gradient.
    static func raceBlockTail(_ net: CifarResNet, _ x: Tensor, _ labels: [Int], quick: Bool) -> TailRace {
        net.train()
        let all = steps(net)
        let index = all.firstIndex { $0.name == "layer1.1" } ?? all.firstIndex { $0.layer is CifarBlock }!
        let block = all[index].layer as! CifarBlock
        let head = Sequential(named: all[..<index].map { ($0.name, $0.layer) })
        let tail = Sequential(named: all[(index + 1)...].map { ($0.name, $0.layer) })
        let a = head(x)
        let logits = tail(block(a))
        let dy = tail.backward(Loss.crossEntropy(logits, targets: labels, using: net.backend).gradient).data
        let z = block.conv2(block.bn1.forward(block.conv1(a), residual: nil, relu: true)).data
        let s = a.featureMapShape(for: "race")
        let gamma = block.bn2.weight.value.data, beta = block.bn2.bias.value.data, eps = block.bn2.epsilon
        let residual = a.data

        let result = KernelRace.run([
            RaceEntrant(name: "naive: batch norm, add, ReLU", kernel: "Naive.batchNormTraining, .add, .relu", isSlow: true,
                        forward: {
                            let b = Naive.batchNormTraining(z, weight: gamma, bias: beta, shape: s, epsilon: eps)
                            return [Naive.relu(Naive.add(b.output, residual))]
                        },
                        backward: {
                            let b = Naive.batchNormTraining(z, weight: gamma, bias: beta, shape: s, epsilon: eps)
                            let g = Naive.reluBackward(Naive.add(b.output, residual), outputGradient: dy)
                            let d = Naive.batchNormTrainingBackward(z, weight: gamma, outputGradient: g, shape: s, epsilon: eps)
                            return [d.input, d.weight, d.bias, g]
                        }),
            RaceEntrant(name: "fast, three passes", kernel: "Fast.batchNormTraining, .add, .relu",
                        forward: {
                            let b = Fast.batchNormTraining(z, weight: gamma, bias: beta, shape: s, epsilon: eps)
                            return [Fast.relu(Fast.add(b.output, residual))]
                        },
                        backward: {
                            let y = Fast.relu(Fast.add(Fast.batchNormTraining(z, weight: gamma, bias: beta, shape: s, epsilon: eps).output, residual))
                            let g = Fast.reluBackward(y, outputGradient: dy)
                            let d = Fast.batchNormTrainingBackward(z, weight: gamma, outputGradient: g, shape: s, epsilon: eps)
                            return [d.input, d.weight, d.bias, g]
                        }),
            RaceEntrant(name: "fast, fused", kernel: "Fast.batchNormTraining(residual:relu:)",
                        forward: {
                            [Fast.batchNormTraining(z, weight: gamma, bias: beta, shape: s, epsilon: eps, residual: residual, relu: true).output]
                        },
                        backward: {
                            let f = Fast.batchNormTraining(z, weight: gamma, bias: beta, shape: s, epsilon: eps, residual: residual, relu: true)
                            let d = Fast.batchNormTrainingBackward(z, weight: gamma, mean: f.mean, variance: f.variance, output: f.output,
                                                                   outputGradient: dy, shape: s, epsilon: eps, residualGradient: true)
                            return [d.input, d.weight, d.bias, d.residual!]
                        }),
        ], quick: quick)
        // Floats each way reads and writes, N = the activation's size (4 bytes each). The
        // backward entrants above also recompute the forward pass (a backward pass needs
        // its forward's results), so both counts include it.
        //   separate forward:  BN reads z twice (statistics, normalise) and writes b (3N); add reads b and a,
        //                      writes s (3N); ReLU reads s, writes y (2N)                           = 8N
        //   separate backward: ReLU's backward reads y and dy, writes g (3N); BN's backward reads z twice,
        //                      g twice, writes dz (5N)                                               = 8N
        //   fused forward:     reads z twice and a once, writes y                                   = 4N
        //   fused backward:    reads z, y and dy (g written as the residual's gradient), then z and g
        //                      again, writes dz                                                     = 7N
        let n = s.count
        return TailRace(blockName: all[index].name, shape: s, result: result,
                        bytesSeparate: 4 * n * (8 + 8 + 8), bytesFused: 4 * n * (4 + 4 + 7))
    }
}

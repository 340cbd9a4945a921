// Stochastic depth (Huang, Sun, Liu, Sedra and Weinberger 2016, "Deep networks with
// stochastic depth"): train a residual net whose blocks are each dropped at random, and
// test the whole net.
//
//     training:  H_l = ReLU(b_l f_l(H_{l-1}) + id(H_{l-1})),   b_l ~ Bernoulli(p_l)
//     survival:  p_l = 1 - (l / L) (1 - p_L),   l = 1 ... L blocks, p_L = 0.5
//     testing:   H_l = ReLU(p_l f_l(H_{l-1}) + H_{l-1})         (every block, scaled by p_l)
//
// A dropped block costs nothing but its shortcut (no convolutions forward or backward), so
// the expected number of blocks a mini-batch runs through is E(L~) = sum_l p_l = (3L - 1)/4
// for p_L = 0.5: about a quarter of the training time saved. Where a block changes shape,
// the paper's shortcut is average pooling and zero padding; here it is the CIFAR ResNet's
// 1x1 projection (option B), which runs whether or not the block survives.

/// The survival probabilities and expected depth of the linear decay rule.
public enum StochasticDepth {
    /// p_l = 1 - (l / L)(1 - p_L) for l = 1 ... L (`blocks` = L, `last` = p_L).
    public static func survivalProbabilities(blocks: Int, last: Double = 0.5) -> [Double] {
        precondition(blocks >= 1 && (0...1).contains(last), "StochasticDepth: \(blocks) blocks, p_L = \(last)")
        return (1...blocks).map { 1 - Double($0) / Double(blocks) * (1 - last) }
    }

    /// E(L~) = sum_l p_l: the expected number of blocks a training mini-batch runs
    /// ((3L - 1)/4 when p_L = 0.5).
    public static func expectedDepth(blocks: Int, last: Double = 0.5) -> Double {
        survivalProbabilities(blocks: blocks, last: last).reduce(0, +)
    }
}

/// The coin of every block of one net: one seeded generator, drawn in the order the blocks
/// run, so `--seed` repeats the same dropped blocks.
public final class DepthDice {
    public var generator: SeededGenerator
    public init(seed: UInt64) { generator = SeededGenerator(seed: seed) }

    /// True with probability `p`.
    public func survives(_ p: Double) -> Bool { Double(generator.next() >> 11) * 0x1p-53 < p }
}

/// A post-activation ``CifarBlock`` that survives each training mini-batch with probability
/// `survivalProbability` (else only its shortcut runs: y = ReLU(shortcut(x))), and at test
/// time scales its residual branch by that probability. Its tensors keep the block's names.
public final class StochasticDepthBlock: Layer {
    public let block: CifarBlock
    public let survivalProbability: Double
    public let dice: DepthDice
    /// Training forward passes in which the block ran, and in which it was dropped.
    public private(set) var runs = 0, drops = 0
    private var dropped: (preActivation: Tensor, projected: Bool)?

    public init(_ block: CifarBlock, survivalProbability: Double, dice: DepthDice) {
        precondition(!block.preActivation && block.residual, "StochasticDepthBlock: a post-activation residual block expected")
        self.block = block
        self.survivalProbability = survivalProbability
        self.dice = dice
        super.init()
        register("", block)
    }

    public override var description: String { "StochasticDepthBlock(p \(String(format: "%.3f", survivalProbability)), \(block.description))" }

    /// Forgets the counts of `runs` and `drops`.
    public func resetCounts() { runs = 0; drops = 0 }

    public override func forward(_ x: Tensor) -> Tensor {
        guard isTraining else { return testForward(x) }
        if dice.survives(survivalProbability) {
            runs += 1
            dropped = nil
            return block.forward(x)
        }
        drops += 1
        let shortcut = block.downsample?.forward(x) ?? x
        dropped = (shortcut, block.downsample != nil)
        return Tensor(shape: shortcut.shape, data: backend.relu(shortcut.data))       // ReLU(0 + id(x))
    }

    /// ReLU(p_l f_l(x) + shortcut(x)), f_l = bn2(conv2(relu(bn1(conv1(x))))).
    private func testForward(_ x: Tensor) -> Tensor {
        dropped = nil
        var f = block.conv2(block.bn1.forward(block.conv1(x), residual: nil, relu: true))
        f = block.bn2.forward(f, residual: nil, relu: false)
        let p = Float(survivalProbability)
        let scaled = Tensor(shape: f.shape, data: f.data.map { $0 * p })
        let sum = add(scaled, block.downsample?.forward(x) ?? x)
        return Tensor(shape: sum.shape, data: backend.relu(sum.data))
    }

    public override func backward(_ outputGradient: Tensor) -> Tensor {
        guard let dropped else { return block.backward(outputGradient) }
        let d = Tensor(shape: outputGradient.shape, data: backend.reluBackward(dropped.preActivation.data, outputGradient: outputGradient.data))
        return dropped.projected ? block.downsample!.backward(d) : d
    }

    public override func summarize(_ input: [Int], into t: inout SummaryTrace) -> [Int] { trace(block, input, &t) }
}

/// A CIFAR ResNet (post-activation, 6n+2 layers, the core's ``CifarResNet`` layout and
/// tensor names) whose L = 3n blocks are ``StochasticDepthBlock``s with the linear decay
/// rule's survival probabilities. Initialised with the same seed, it has the same weights
/// as `CifarResNet(depth:widths:...)`: the same net, trained with or without stochastic depth.
public final class StochasticDepthResNet: Sequential {
    public let depth: Int
    public let lastSurvival: Double
    public let dice: DepthDice
    /// Training forward passes so far.
    public private(set) var trainingPasses = 0

    public init(depth: Int, widths: [Int] = [16, 32, 64], classes: Int = 10, inputChannels: Int = 3,
                lastSurvival: Double = 0.5, seed: UInt64 = 0) {
        precondition(depth >= 8 && (depth - 2) % 6 == 0, "StochasticDepthResNet: depth must be 6n+2, got \(depth)")
        precondition(widths.count == 3, "StochasticDepthResNet: three stage widths expected, got \(widths)")
        self.depth = depth
        self.lastSurvival = lastSurvival
        let dice = DepthDice(seed: seed)
        self.dice = dice
        let n = (depth - 2) / 6
        let p = StochasticDepth.survivalProbabilities(blocks: 3 * n, last: lastSurvival)
        var layers: [(String, Layer)] = [("conv1", Conv2d(inputChannels, widths[0], kernel: 3, padding: 1, bias: false)),
                                         ("bn1", BatchNorm2d(widths[0])), ("relu", ReLU())]
        var channels = widths[0], index = 0
        for (i, width) in widths.enumerated() {
            let blocks: [Layer] = (0..<n).map { j in
                defer { channels = width; index += 1 }
                let block = CifarBlock(channels, width, stride: j == 0 && i > 0 ? 2 : 1, preActivation: false)
                return StochasticDepthBlock(block, survivalProbability: p[index], dice: dice)
            }
            layers.append(("layer\(i + 1)", Sequential(blocks)))
        }
        layers += [("avgpool", AdaptiveAvgPool2d(1)), ("flatten", Flatten()), ("fc", Linear(channels, classes))]
        super.init(named: layers)
    }

    public override var description: String { "StochasticDepthResNet(depth \(depth), p_L \(lastSurvival))" }

    /// The blocks, first to last.
    public var stochasticBlocks: [StochasticDepthBlock] { namedLayers().compactMap { $0.layer as? StochasticDepthBlock } }

    /// Blocks run per training pass, on average, since the last `resetCounts()`.
    public var blocksRunPerPass: Double {
        Double(stochasticBlocks.reduce(0) { $0 + $1.runs }) / Double(max(trainingPasses, 1))
    }

    public func resetCounts() {
        trainingPasses = 0
        for block in stochasticBlocks { block.resetCounts() }
    }

    public override func forward(_ x: Tensor) -> Tensor {
        if isTraining { trainingPasses += 1 }
        return super.forward(x)
    }
}

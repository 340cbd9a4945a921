import ConvNetCore
import Foundation
import Testing
import TestSupport
@testable import RegularizersLesson

/// Facts about stochastic depth, wide residual networks and highway layers, each a test
/// that fails when the fact is false.
@Suite("Regularizers: facts")
struct RegularizersFacts {
    @Test("survival decays linearly from just below 1 to p_L = 0.5 at the last block; E(L~) = (3L - 1)/4: 11 for L = 15, 40.25 for L = 54")
    func linearDecay() {
        let p = StochasticDepth.survivalProbabilities(blocks: 15, last: 0.5)
        #expect(p.count == 15 && p.last == 0.5 && abs(p[0] - (1 - 0.5 / 15)) < 1e-15)
        for i in 1..<p.count { #expect(abs((p[i - 1] - p[i]) - 0.5 / 15) < 1e-12) }
        #expect(abs(StochasticDepth.expectedDepth(blocks: 15) - 11) < 1e-12)
        #expect(abs(StochasticDepth.expectedDepth(blocks: 54) - 40.25) < 1e-12)
        #expect(abs(StochasticDepth.expectedDepth(blocks: 54, last: 0.2) - (54 - 0.8 * 55 / 2)) < 1e-12)
    }

    /// A tiny stochastic-depth net and the plain CIFAR ResNet of the same seed.
    static func twins(lastSurvival: Double) -> (StochasticDepthResNet, CifarResNet) {
        (StochasticDepthResNet(depth: 14, widths: [2, 3, 4], classes: 3, inputChannels: 1, lastSurvival: lastSurvival, seed: 5).initialize(seed: 9),
         CifarResNet(depth: 14, widths: [2, 3, 4], classes: 3, inputChannels: 1).initialize(seed: 9))
    }

    @Test("a stochastic-depth net has the CIFAR ResNet's tensor names and, from the same seed, its weights")
    func sameNamesAndWeights() {
        let (sd, plain) = Self.twins(lastSurvival: 0.5)
        #expect(sd.namedParameters().map(\.name) == plain.namedParameters().map(\.name))
        #expect(sd.namedParameters().map(\.parameter.value.data) == plain.namedParameters().map(\.parameter.value.data))
        #expect(sd.parameterCount == plain.parameterCount)
    }

    @Test("with p_L = 1 every block runs, and training and test passes equal the CIFAR ResNet's")
    func survivalOneIsTheResNet() {
        let (sd, plain) = Self.twins(lastSurvival: 1)
        var g = SeededGenerator(seed: 3)
        let x = Tensor.randomNormal([4, 1, 8, 8], using: &g)
        #expect(relativeError(sd(x).data, plain(x).data) < 1e-6)
        #expect(sd.blocksRunPerPass == 6)
        sd.eval(); plain.eval()
        #expect(relativeError(sd(x).data, plain(x).data) < 1e-5)
    }

    @Test("over many training passes the blocks run per pass average the expected depth sum p_l")
    func countedDepth() {
        let (sd, _) = Self.twins(lastSurvival: 0.5)
        var g = SeededGenerator(seed: 4)
        let x = Tensor.randomNormal([2, 1, 8, 8], using: &g)
        for _ in 0..<600 { _ = sd(x) }
        // 6 blocks, sum p_l(1 - p_l) < 1.5: the mean of 600 passes has a deviation below 0.05.
        #expect(abs(sd.blocksRunPerPass - StochasticDepth.expectedDepth(blocks: 6)) < 0.2)
        let runs = sd.stochasticBlocks.map { Double($0.runs) / 600 }
        #expect(runs.first! > runs.last!, "early blocks survive more often: \(runs)")
    }

    @Test("a dropped block is ReLU(shortcut(x)), and its backward is the shortcut's")
    func droppedBlock() {
        let block = CifarBlock(2, 3, stride: 2, preActivation: false).initialize(seed: 2)
        let dropped = StochasticDepthBlock(block, survivalProbability: 0, dice: DepthDice(seed: 1))
        var g = SeededGenerator(seed: 6)
        let x = Tensor.randomNormal([2, 2, 6, 6], using: &g)
        let y = dropped(x)
        let shortcut = block.downsample!(x)
        #expect(y.data == shortcut.data.map { max($0, 0) })
        let dy = Tensor.randomNormal(y.shape, using: &g)
        block.zeroGradients()
        let dx = dropped.backward(dy)
        #expect(dx.shape == x.shape && block.conv1.weight.gradient.data.allSatisfy { $0 == 0 })
        #expect(dropped.drops == 1 && dropped.runs == 0)
    }

    @Test("WRN-40-4, WRN-16-8, WRN-28-10 and ResNet-110 counted round to the paper's 8.9M, 11.0M, 36.5M, 1.7M; ResNet-1202 is 19.4M, not Table 5's 10.2M")
    func wideCounts() {
        #expect(RegularizersNets.wideResNet(depth: 28, k: 10).parameterCount == 36_479_194)
        #expect(RegularizersNets.wideResNet(depth: 40, k: 4).parameterCount == 8_949_210)
        func millions(_ n: Int) -> Double { (Double(n) / 1e5).rounded() / 10 }
        #expect(millions(RegularizersNets.wideResNet(depth: 40, k: 4).parameterCount) == 8.9)
        #expect(millions(RegularizersNets.wideResNet(depth: 16, k: 8).parameterCount) == 11.0)
        #expect(millions(RegularizersNets.wideResNet(depth: 28, k: 10).parameterCount) == 36.5)
        #expect(millions(CifarResNet(depth: 110).parameterCount) == 1.7)
        #expect(millions(CifarResNet(depth: 1202).parameterCount) == 19.4)
    }

    @Test("the wide shallow net the lesson picks has within 10% of the thin deep res-32's parameters")
    func wideMatchesThin() {
        let thin = RegularizersNets.parameters(depth: 32, widths: [8, 16, 32])
        let widths = RegularizersNets.wideWidths(depth: 8, matching: thin)
        let wide = RegularizersNets.parameters(depth: 8, widths: widths)
        #expect(abs(Double(wide - thin)) / Double(thin) < 0.1, "\(widths): \(wide) vs \(thin)")
        #expect(widths[0] > 8)
    }

    @Test("a plain layer of 71 units and a highway or residual layer of 50 all hold about 5,000 parameters, as the paper sized them")
    func thinWidths() {
        func perLayer(_ kind: ThinNet.Kind) -> Int { ThinNet(kind: kind, depth: 3).parameterCount - ThinNet(kind: kind, depth: 2).parameterCount }
        #expect(perLayer(.plain) == 71 * 71 + 71 && perLayer(.highway) == 2 * (50 * 50 + 50) && perLayer(.residual) == 2 * (50 * 50 + 50))
    }

    @Test("the lesson's gate bias rule b_T = -d/10 gives the paper's -1, -2, -3 at depths 10, 20, 30, and -5, -10 at 50, 100; a fixed value overrides it")
    func gateBiasRule() {
        #expect([10, 20, 30, 50, 100].map { RegularizersLesson.initialGateBias(depth: $0) } == [-1, -2, -3, -5, -10])
        #expect([10, 100].map { RegularizersLesson.initialGateBias(depth: $0, fixed: -2) } == [-2, -2])
    }

    @Test("with the rule's b_T = -10 a fresh 100-layer highway net's gates start almost shut (mean T < 0.01); with -2 they do not")
    func deepGatesStartShut() {
        func meanGate(_ bias: Float) -> Double {
            let net = ThinNet(kind: .highway, depth: 100).initialize(seed: 1, gateBias: bias)
            var g = SeededGenerator(seed: 4)
            net.eval()
            _ = net(Tensor.randomNormal([8, 784], using: &g))
            let gates = net.highwayLayers.flatMap { $0.lastGate! }
            return Double(gates.reduce(0, +)) / Double(gates.count)
        }
        #expect(meanGate(RegularizersLesson.initialGateBias(depth: 100)) < 0.01)
        #expect(meanGate(-2) > 0.05)
    }

    @Test("a freshly initialised residual thin net's residual layers are the identity (W_2 = 0)")
    func residualStartsAsIdentity() {
        let net = ThinNet(kind: .residual, depth: 4).initialize(seed: 2, gateBias: -2)
        var g = SeededGenerator(seed: 1)
        let x = Tensor.randomNormal([3, 50], using: &g)
        for case let layer as ResidualDenseLayer in net.layers { #expect(layer(x).data == x.data) }
    }

    @Test("a highway layer whose gate bias is very negative (T = 0) computes the identity, forward and backward")
    func closedGateIsIdentity() {
        let layer = HighwayLayer(6)
        layer.initialize(seed: 3)
        layer.gate.bias!.value = Tensor(shape: [6], repeating: -.infinity)
        var g = SeededGenerator(seed: 8)
        let x = Tensor.randomNormal([5, 6], using: &g)
        #expect(layer(x).data == x.data)
        let dy = Tensor.randomNormal([5, 6], using: &g)
        let dx = layer.backward(dy)
        #expect(relativeError(dx.data, dy.data) == 0)
    }

    @Test("the highway layer's input gradient matches finite differences (naive kernels)")
    func highwayLayerGradient() {
        let layer = HighwayLayer(4)
        layer.initialize(seed: 11)
        layer.gate.bias!.value = Tensor(shape: [4], repeating: -1)
        layer.kernels = .naive
        var g = SeededGenerator(seed: 12)
        let x = Tensor.randomNormal([3, 4], using: &g), dy = Tensor.randomNormal([3, 4], using: &g)
        _ = layer(x)
        let dx = layer.backward(dy)
        let numeric = numericalGradient(of: { v in
            dot(layer(Tensor(shape: [3, 4], data: v.map(Float.init))).data.map(Double.init), dy.data.map(Double.init))
        }, at: x.data.map(Double.init), step: 1e-2)
        #expect(relativeError(dx.data.map(Double.init), numeric) < 2e-2)
    }
}

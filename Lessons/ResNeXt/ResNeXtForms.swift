import ConvNetCore
import Foundation

// The three equivalent forms of a ResNeXt block (Xie et al. 2017, Figure 3), each built
// from the weights of one core `Bottleneck` with `groups: C` (ResNet.swift):
//
//   (a) split-transform-merge: C paths, each 1x1 (in -> d), 3x3 (d -> d), 1x1 (d -> out),
//       their outputs summed:            y = relu(x + BN( sum_i T_i(x) ))
//   (b) early concatenation: the C paths stop after their 3x3; their d-channel outputs
//       are concatenated (C*d channels) and one 1x1 (C*d -> out) follows. A 1x1 on a
//       concatenation is the sum of 1x1s on its parts, so (b) = (a).
//   (c) the grouped convolution: one 1x1 (in -> C*d), one 3x3 with C groups (each group
//       sees only its own d channels: path i's 3x3), one 1x1 (C*d -> out). The first
//       1x1 of (c) is the C first 1x1s of (b) stacked, so (c) = (b). This is the core's
//       Bottleneck, and the form the paper implements.
//
// Batch norm and ReLU work channel by channel, so they split across the paths the same
// way (path i's batch norm is channels i*d ..< (i+1)*d of the grouped one). The shortcut
// is the identity (a block with as many input as output channels, stride 1).

/// The three forms of Figure 3, in the paper's order.
public enum BlockForm: String, CaseIterable, Sendable {
    case summedPaths = "a", concatenated = "b", grouped = "c"

    public var title: String {
        switch self {
        case .summedPaths: "(a) C paths of 1x1, 3x3, 1x1, summed"
        case .concatenated: "(b) C paths of 1x1, 3x3, concatenated, one 1x1"
        case .grouped: "(c) 1x1, one grouped 3x3 (C groups), 1x1"
        }
    }
}

/// Parallel paths that all read the input, their outputs added: form (a)'s aggregation
/// sum_i T_i(x). Backward hands dy to every path and adds their input gradients.
final class SummedPaths: Layer {
    let paths: [Layer]

    init(_ paths: [(String, Layer)]) {
        self.paths = paths.map(\.1)
        super.init()
        for (name, path) in paths { register(name, path) }
    }

    override var description: String { "SummedPaths(\(paths.count))" }

    override func forward(_ x: Tensor) -> Tensor {
        var sum = paths[0].forward(x)
        for path in paths.dropFirst() { add(into: &sum, path.forward(x)) }
        return sum
    }

    override func backward(_ outputGradient: Tensor) -> Tensor {
        var dx = paths[0].backward(outputGradient)
        for path in paths.dropFirst() { add(into: &dx, path.backward(outputGradient)) }
        return dx
    }

    override func summarize(_ input: [Int], into t: inout SummaryTrace) -> [Int] {
        let shapes = paths.map { trace($0, input, &t) }
        precondition(Set(shapes).count == 1, "\(description): paths give different shapes \(shapes)")
        return shapes[0]
    }
}

/// A ResNeXt block in form (a) or (b): an aggregated transformation T, then
/// y = relu(BN(T(x)) + x), the batch norm, add and ReLU in one kernel as the core's blocks do.
final class FormBlock: Layer {
    let transform: Layer
    let bn3: BatchNorm2d

    init(transform: Layer, bn3: BatchNorm2d) {
        self.transform = transform
        self.bn3 = bn3
        super.init()
        register("transform", transform)
        register("bn3", bn3)
    }

    override func forward(_ x: Tensor) -> Tensor { bn3.forward(transform(x), residual: x, relu: true) }

    override func backward(_ outputGradient: Tensor) -> Tensor {
        let (dT, dSum) = bn3.backwardFused(outputGradient)
        var dx = transform.backward(dT)
        add(into: &dx, dSum!)                        // x fed the shortcut too
        return dx
    }

    override func summarize(_ input: [Int], into t: inout SummaryTrace) -> [Int] {
        let transformed = trace(transform, input, &t)
        return trace(bn3, transformed, &t)
    }
}

/// One block in the three forms, sharing the weights of `grouped` (form (c)).
public struct ResNeXtForms {
    /// Form (c): the core's Bottleneck.
    public let grouped: Bottleneck
    let summed: FormBlock
    let concatenated: FormBlock
    /// Cardinality C and channels per path d.
    public let cardinality: Int
    public let pathWidth: Int

    /// Builds forms (a) and (b) from the weights of `block` (identity shortcut only).
    public init(_ block: Bottleneck) {
        precondition(block.downsample == nil, "ResNeXtForms: Figure 3's block has an identity shortcut; \(block) has a projection")
        grouped = block
        let c = block.conv2.groups, width = block.conv2.outChannels, d = width / c
        let (inChannels, outChannels) = (block.conv1.inChannels, block.conv3.outChannels)
        let stride = block.conv2.stride.height
        cardinality = c
        pathWidth = d
        let w3 = block.conv3.weight.value.data                       // [out, C*d, 1, 1]

        /// Path i's 1x1, bn, relu, 3x3, bn, relu: rows i*d ..< (i+1)*d of conv1, bn1, conv2, bn2.
        func head(_ i: Int) -> [(String, Layer)] {
            let conv1 = Conv2d(inChannels, d, kernel: 1, bias: false), bn1 = BatchNorm2d(d)
            let conv2 = Conv2d(d, d, kernel: 3, stride: stride, padding: 1, bias: false), bn2 = BatchNorm2d(d)
            conv1.weight.value = Tensor(shape: conv1.weight.shape, data: Self.rows(block.conv1.weight, i * d, d))
            conv2.weight.value = Tensor(shape: conv2.weight.shape, data: Self.rows(block.conv2.weight, i * d, d))
            Self.copy(block.bn1, rows: i * d, into: bn1)
            Self.copy(block.bn2, rows: i * d, into: bn2)
            return [("conv1", conv1), ("bn1", bn1), ("relu1", ReLU()), ("conv2", conv2), ("bn2", bn2), ("relu2", ReLU())]
        }
        func bn3() -> BatchNorm2d {
            let bn = BatchNorm2d(outChannels)
            Self.copy(block.bn3, rows: 0, into: bn)
            return bn
        }

        // (a): path i ends with its own 1x1, columns i*d ..< (i+1)*d of conv3.
        let paths: [(String, Layer)] = (0..<c).map { i in
            let conv3 = Conv2d(d, outChannels, kernel: 1, bias: false)
            var w = [Float](repeating: 0, count: outChannels * d)
            for o in 0..<outChannels { for k in 0..<d { w[o * d + k] = w3[o * width + i * d + k] } }
            conv3.weight.value = Tensor(shape: conv3.weight.shape, data: w)
            return ("path\(i)", Sequential(named: head(i) + [("conv3", conv3)]))
        }
        summed = FormBlock(transform: SummedPaths(paths), bn3: bn3())

        // (b): the C heads concatenated, then conv3 whole.
        let heads = Concatenate(branches: (0..<c).map { ("path\($0)", Sequential(named: head($0))) })
        let conv3 = Conv2d(width, outChannels, kernel: 1, bias: false)
        conv3.weight.value = block.conv3.weight.value
        concatenated = FormBlock(transform: Sequential(named: [("paths", heads), ("conv3", conv3)]), bn3: bn3())
        for form in BlockForm.allCases { layer(form).kernels = block.kernels }
    }

    /// The layer that computes `form`.
    public func layer(_ form: BlockForm) -> Layer {
        switch form {
        case .summedPaths: summed
        case .concatenated: concatenated
        case .grouped: grouped
        }
    }

    /// `form`'s output and gradients for input `x` and upstream gradient `dy`, in training
    /// mode: `["y": ..., "dx": ..., "conv1.weight": ..., ...]`, the parameter gradients
    /// gathered into the grouped block's shapes and names, so the forms compare entry by entry.
    public func run(_ form: BlockForm, _ x: Tensor, _ dy: Tensor) -> [(name: String, values: [Float])] {
        let net = layer(form)
        net.train()
        net.zeroGradients()
        let y = net(x)
        let dx = net.backward(dy)
        let outputs: [(name: String, values: [Float])] = [("y", y.data), ("dx", dx.data)]
        return outputs + gradients(form)
    }

    /// The parameter gradients of `form`, under the grouped block's names and layouts.
    func gradients(_ form: BlockForm) -> [(name: String, values: [Float])] {
        let b = grouped
        if form == .grouped {
            let parameters: [(String, Parameter)] = [("conv1.weight", b.conv1.weight), ("bn1.weight", b.bn1.weight), ("bn1.bias", b.bn1.bias),
                    ("conv2.weight", b.conv2.weight), ("bn2.weight", b.bn2.weight), ("bn2.bias", b.bn2.bias),
                    ("conv3.weight", b.conv3.weight), ("bn3.weight", b.bn3.weight), ("bn3.bias", b.bn3.bias)]
            return parameters.map { (name: $0.0, values: $0.1.gradient.data) }
        }
        let block = form == .summedPaths ? summed : concatenated
        let heads: [Sequential] = form == .summedPaths
            ? (block.transform as! SummedPaths).paths.map { $0 as! Sequential }
            : ((block.transform as! Sequential).layers[0] as! Concatenate).branches.map { $0 as! Sequential }
        func stacked(_ index: Int, _ pick: (Layer) -> Parameter) -> [Float] {
            heads.flatMap { pick($0.layers[index]).gradient.data }
        }
        let conv = { (l: Layer) in (l as! Conv2d).weight! }
        let gamma = { (l: Layer) in (l as! BatchNorm2d).weight! }, beta = { (l: Layer) in (l as! BatchNorm2d).bias! }
        var conv3: [Float]
        if form == .summedPaths {
            // Path i's [out, d] gradient goes back into columns i*d ..< (i+1)*d of [out, C*d].
            let (out, d, width) = (b.conv3.outChannels, pathWidth, b.conv3.inChannels)
            conv3 = [Float](repeating: 0, count: out * width)
            for (i, head) in heads.enumerated() {
                let g = conv(head.layers[6]).gradient.data
                for o in 0..<out { for k in 0..<d { conv3[o * width + i * d + k] = g[o * d + k] } }
            }
        } else {
            conv3 = ((block.transform as! Sequential).layers[1] as! Conv2d).weight.gradient.data
        }
        return [("conv1.weight", stacked(0, conv)), ("bn1.weight", stacked(1, gamma)), ("bn1.bias", stacked(1, beta)),
                ("conv2.weight", stacked(3, conv)), ("bn2.weight", stacked(4, gamma)), ("bn2.bias", stacked(4, beta)),
                ("conv3.weight", conv3), ("bn3.weight", block.bn3.weight.gradient.data), ("bn3.bias", block.bn3.bias.gradient.data)]
    }

    /// `count` consecutive output channels of a weight `[O, ...]`, from `first`.
    static func rows(_ p: Parameter, _ first: Int, _ count: Int) -> [Float] {
        let per = p.count / p.shape[0]
        return Array(p.value.data[(first * per)..<((first + count) * per)])
    }

    /// Channels `first ..< first + into.channels` of a batch norm: scale, shift and running statistics.
    static func copy(_ source: BatchNorm2d, rows first: Int, into target: BatchNorm2d) {
        let range = first..<(first + target.channels)
        target.weight.value = Tensor(shape: [target.channels], data: Array(source.weight.value.data[range]))
        target.bias.value = Tensor(shape: [target.channels], data: Array(source.bias.value.data[range]))
        target.runningMean.value = Tensor(shape: [target.channels], data: Array(source.runningMean.value.data[range]))
        target.runningVariance.value = Tensor(shape: [target.channels], data: Array(source.runningVariance.value.data[range]))
    }
}

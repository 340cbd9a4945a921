import ConvNetCore

/// Times the fast kernel of each bench case at every thread count, and the naive kernel
/// once (batch 1, one thread) where it finishes in reasonable time.
struct KernelTimings {
    var samples: Int
    /// Multiply-accumulates above which the naive kernel is not run.
    var naiveLimit: Double

    typealias Row = BenchCommand.Row

    func gemm(_ c: BenchCases.GEMM, threads: [Int]) -> [Row] {
        var g = SeededGenerator(seed: 1)
        let a = Tensor.randomNormal([c.m, c.k], using: &g).data
        let b = Tensor.randomNormal([c.k, c.n], using: &g).data
        var out = [Float](repeating: 0, count: c.m * c.n)
        let macs = Double(c.m * c.n * c.k)
        let naive: Double? = macs <= naiveLimit ? Stopwatch.seconds { _ = Naive.gemm(m: c.m, n: c.n, k: c.k, a: a, b: b) } : nil
        return threads.map { t in
            Parallelism.threadCount = t
            let s = a.withUnsafeBufferPointer { a in
                b.withUnsafeBufferPointer { b in
                    out.withUnsafeMutableBufferPointer { o in
                        Stopwatch.medianSeconds(samples: samples) {
                            Fast.gemm(m: c.m, n: c.n, k: c.k, a: a.baseAddress!, lda: c.k, b: b.baseAddress!, ldb: c.n,
                                      c: o.baseAddress!, ldc: c.n)
                        }
                    }
                }
            }
            return Row(name: c.name, kind: "gemm", batch: 1, threads: t, seconds: s, flops: 2 * macs,
                       naiveSeconds: t == 1 ? naive : nil)
        }
    }

    /// The forward convolution (`<case>`), its input gradient (`<case>_dx`,
    /// Fast.conv2dBackwardInput) and its weight and bias gradients (`<case>_dw`,
    /// Fast.conv2dBackwardWeight), each counted as the forward pass's 2*MACs flops.
    func conv(_ c: BenchCases.Conv, batches: [Int], threads: [Int]) -> [Row] {
        var rows: [Row] = []
        for batch in batches {
            let geometry = c.geometry(batch: batch)
            var g = SeededGenerator(seed: 2)
            let x = Tensor.randomNormal(geometry.inputShape.dimensions, using: &g).data
            let w = Tensor.randomNormal(geometry.weightShape, std: 0.05, using: &g).data
            let bias = Tensor.randomNormal([c.outChannels], std: 0.01, using: &g).data
            let dy = Tensor.randomNormal(geometry.outputShape.dimensions, using: &g).data
            let macs = Double(geometry.macs)
            let naiveRuns = batch == 1 && macs <= naiveLimit
            let naive: Double? = naiveRuns
                ? Stopwatch.seconds { _ = Naive.conv2d(x, weight: w, bias: bias, geometry: geometry) } : nil
            // The naive gradients only where they are cheap (each is as slow as the forward).
            let naiveBackward = naiveRuns && macs <= naiveLimit / 2
            let naiveDx: Double? = naiveBackward
                ? Stopwatch.seconds { _ = Naive.conv2dBackwardInput(weight: w, outputGradient: dy, geometry: geometry) } : nil
            let naiveDw: Double? = naiveBackward
                ? Stopwatch.seconds { _ = Naive.conv2dBackwardWeight(x, outputGradient: dy, geometry: geometry) } : nil
            var forward: [Row] = [], dx: [Row] = [], dw: [Row] = []
            for t in threads {
                Parallelism.threadCount = t
                // Inference-style, as ONNX Runtime runs it: weights packed once, output buffer reused.
                let packed = PackedConvolutionWeights(weight: w, geometry: geometry)
                var y = [Float](repeating: 0, count: geometry.outputShape.count)
                let s = Stopwatch.medianSeconds(samples: samples) {
                    x.withUnsafeBufferPointer { x in
                        w.withUnsafeBufferPointer { w in
                            bias.withUnsafeBufferPointer { b in
                                y.withUnsafeMutableBufferPointer { y in
                                    Fast.conv2d(x, weight: w, packed: packed, bias: b, geometry: geometry, into: y)
                                }
                            }
                        }
                    }
                }
                forward.append(Row(name: c.name, kind: "conv", batch: batch, threads: t, seconds: s, flops: 2 * macs,
                                   naiveSeconds: t == 1 ? naive : nil))
                let sx = Stopwatch.medianSeconds(samples: samples) {
                    _ = Fast.conv2dBackwardInput(weight: w, outputGradient: dy, geometry: geometry)
                }
                dx.append(Row(name: c.name + "_dx", kind: "conv", batch: batch, threads: t, seconds: sx, flops: 2 * macs,
                              naiveSeconds: t == 1 ? naiveDx : nil))
                let sw = Stopwatch.medianSeconds(samples: samples) {
                    _ = Fast.conv2dBackwardWeight(x, outputGradient: dy, geometry: geometry)
                }
                dw.append(Row(name: c.name + "_dw", kind: "conv", batch: batch, threads: t, seconds: sw, flops: 2 * macs,
                              naiveSeconds: t == 1 ? naiveDw : nil))
            }
            rows += forward + dx + dw
        }
        return rows
    }

    func lrn(_ c: BenchCases.LRN, batches: [Int], threads: [Int]) -> [Row] {
        var rows: [Row] = []
        for batch in batches {
            let shape = FeatureMapShape(batch: batch, channels: c.channels, height: c.height, width: c.width)
            var g = SeededGenerator(seed: 3)
            let x = Tensor.randomNormal(shape.dimensions, using: &g).data
            let naive: Double? = batch == 1 && naiveLimit > 0
                ? Stopwatch.seconds { _ = Naive.localResponseNorm(x, shape: shape, size: c.size, alpha: c.alpha, beta: c.beta, k: c.k) } : nil
            for t in threads {
                Parallelism.threadCount = t
                let s = Stopwatch.medianSeconds(samples: samples) {
                    _ = Fast.localResponseNorm(x, shape: shape, size: c.size, alpha: c.alpha, beta: c.beta, k: c.k)
                }
                rows.append(Row(name: c.name, kind: "lrn", batch: batch, threads: t, seconds: s,
                                elements: Double(shape.count), naiveSeconds: t == 1 ? naive : nil))
            }
        }
        return rows
    }

    func maxPool(_ c: BenchCases.MaxPool, batches: [Int], threads: [Int]) -> [Row] {
        var rows: [Row] = []
        for batch in batches {
            let shape = FeatureMapShape(batch: batch, channels: c.channels, height: c.height, width: c.width)
            let geometry = Pool2DGeometry(input: shape, kernel: c.kernel, stride: c.stride, padding: c.padding)
            var g = SeededGenerator(seed: 4)
            let x = Tensor.randomNormal(shape.dimensions, using: &g).data
            let naive: Double? = batch == 1 && naiveLimit > 0 ? Stopwatch.seconds { _ = Naive.maxPool2d(x, geometry: geometry) } : nil
            for t in threads {
                Parallelism.threadCount = t
                let s = Stopwatch.medianSeconds(samples: samples) { _ = Fast.maxPool2d(x, geometry: geometry) }
                rows.append(Row(name: c.name, kind: "max_pool", batch: batch, threads: t, seconds: s,
                                elements: Double(shape.count), naiveSeconds: t == 1 ? naive : nil))
            }
        }
        return rows
    }
}

extension KernelTimings {
    /// Inference of a whole zoo network (eval mode, seeded He weights) on a random batch,
    /// through `infer` (batch norm folded into the convolutions, ReLU and residual fused).
    func network(_ c: BenchCases.Network, batches: [Int], threads: [Int]) throws -> [Row] {
        MemoryPolicy.keepFreedMemory()
        let model = try ModelZoo.build(c.name).initialize(seed: 1)
        model.eval()
        var rows: [Row] = []
        for batch in batches {
            var g = SeededGenerator(seed: 5)
            let x = Tensor.randomNormal([batch, c.channels, c.height, c.width], using: &g)
            let macs = Double(ModelSummary(of: model, inputShape: x.shape).macs)
            for t in threads {
                Parallelism.threadCount = t
                let s = Stopwatch.medianSeconds(samples: max(3, samples / 2)) { _ = model.infer(x) }
                rows.append(Row(name: c.name, kind: "network", batch: batch, threads: t, seconds: s, flops: 2 * macs,
                                images: Double(batch)))
            }
        }
        return rows
    }

    /// One SGD step (forward, loss, backward, update) of a CIFAR ResNet on a random batch.
    func training(_ c: BenchCases.Training, threads: [Int]) throws -> [Row] {
        MemoryPolicy.keepFreedMemory()
        let model = try ModelZoo.build(architecture: c.architecture).initialize(seed: 1)
        model.train()
        model.inputGradientRequired = false      // x is data, as in PyTorch (no dL/dx for the first convolution)
        var g = SeededGenerator(seed: 6)
        let x = Tensor.randomNormal([c.batch, c.channels, c.height, c.width], using: &g)
        let targets = (0..<c.batch).map { _ in Int(g.next() % UInt64(c.classes)) }
        let optimizer = SGD(parameters: model.parameters, learningRate: 0.1, momentum: 0.9, weightDecay: 1e-4)
        return threads.map { t in
            Parallelism.threadCount = t
            let s = Stopwatch.medianSeconds(samples: max(3, samples / 2)) {
                let (_, dLogits) = Loss.crossEntropy(model(x), targets: targets)
                model.zeroGradients()
                _ = model.backward(dLogits)
                optimizer.step()
            }
            return Row(name: c.name, kind: "training", batch: c.batch, threads: t, seconds: s, images: Double(c.batch))
        }
    }
}

/// `lesson bench --profile NAME`: one training case's step split by kind of operation.
struct StepProfile {
    struct Line { var kind: String; var calls: Int; var seconds: Double }
    var name: String
    var threads: Int
    var step: Double
    var lines: [Line]       // every kind measured, then "framework overhead" (the rest)
}

extension KernelTimings {
    /// Runs `steps` SGD steps (after warm-up) of training case `c` on ``ProfilingKernels``
    /// and returns, per kind, the median over the steps of its time within a step; the
    /// framework's overhead is the median of each step's time left over by the kernels.
    func profile(_ c: BenchCases.Training, threads: [Int], steps: Int) throws -> [StepProfile] {
        MemoryPolicy.keepFreedMemory()
        let model = try ModelZoo.build(architecture: c.architecture).initialize(seed: 1)
        model.train()
        model.inputGradientRequired = false
        let profile = KernelProfile()
        model.customKernels = ProfilingKernels(profile: profile)
        var g = SeededGenerator(seed: 6)
        let x = Tensor.randomNormal([c.batch, c.channels, c.height, c.width], using: &g)
        let targets = (0..<c.batch).map { _ in Int(g.next() % UInt64(c.classes)) }
        let optimizer = SGD(parameters: model.parameters, learningRate: 0.1, momentum: 0.9, weightDecay: 1e-4)
        func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
        return threads.map { t in
            Parallelism.threadCount = t
            var perKind: [KernelProfile.Kind: [Double]] = [:], calls: [KernelProfile.Kind: Int] = [:]
            var totals: [Double] = [], rest: [Double] = []
            for i in 0..<(steps + 3) {
                profile.reset()
                let start = Stopwatch.now()
                let logits = model(x)
                let (_, dLogits) = profile.measure(.loss) { Loss.crossEntropy(logits, targets: targets) }
                model.zeroGradients()
                _ = model.backward(dLogits)
                profile.measure(.optimizer) { optimizer.step() }
                let total = Stopwatch.now() - start
                guard i >= 3 else { continue }                 // warm-up
                totals.append(total)
                rest.append(total - profile.total)
                for kind in KernelProfile.Kind.allCases {
                    perKind[kind, default: []].append(profile.seconds[kind] ?? 0)
                    calls[kind] = profile.calls[kind] ?? 0
                }
            }
            var lines = KernelProfile.Kind.allCases.filter { calls[$0, default: 0] > 0 }.map {
                StepProfile.Line(kind: $0.rawValue, calls: calls[$0]!, seconds: median(perKind[$0]!))
            }
            lines.append(StepProfile.Line(kind: "framework overhead (the rest)", calls: 0, seconds: median(rest)))
            return StepProfile(name: c.name, threads: t, step: median(totals), lines: lines)
        }
    }
}

import ConvNetCore
import Foundation

// What the lesson measures: real module inputs (photographs through a seeded GoogLeNet),
// the concatenation race on real modules, and the training of the small Inception net
// with and without its auxiliary losses.

enum InceptionProbes {
    /// The photographs of Fixtures/photos large enough for a 224x224 centre crop.
    static let photos = ["chelsea", "astronaut"]

    /// The inputs of the named modules of a GoogLeNet He-initialised from `seed`, run in
    /// inference mode on `photos`, and the modules themselves.
    static func moduleInputs(_ photos: Tensor, seed: UInt64, names: [String]) -> [(name: String, module: InceptionModule, input: Tensor)] {
        let net = GoogLeNet()
        net.initialize(seed: seed)
        net.eval()
        var found: [(String, InceptionModule, Tensor)] = []
        var x = photos
        for (name, layer) in net.children {
            if names.contains(name), let module = layer as? InceptionModule { found.append((name, module, x)) }
            if found.count == names.count { break }
            x = layer(x)
        }
        return found
    }

    /// Each branch's output before its last ReLU (the last batch norm's output), in branch order.
    static func preActivations(_ module: InceptionModule, _ x: Tensor) -> [Tensor] {
        module.eval()
        return module.branches.map { branch -> Tensor in
            let units = (branch as? BasicConv2d).map { [$0] as [Layer] } ?? (branch as! Sequential).layers
            var h = x
            for unit in units.dropLast() { h = unit(h) }
            let last = units.last as! BasicConv2d
            for layer in last.layers.dropLast() { h = layer(h) }          // conv, bn: not the ReLU
            return h
        }
    }

    /// What the concatenation race measured.
    struct ConcatRace {
        var module: String
        var outputShape: FeatureMapShape
        var channels: [Int]
        var result: RaceResult
        /// Bytes the concatenation itself copies (read + write), forward + backward.
        var bytesCopied: Int
        /// Bytes every entrant moves, forward + backward, the copies way and the slices way.
        var bytesCopiesWay: Int
        var bytesSlicesWay: Int
        /// The whole module's forward in inference on the fast kernels (every thread), for scale.
        var moduleForwardSeconds: Double
    }

    /// The last step of an Inception module, its branches' ReLUs and the concatenation,
    /// three ways on the module's real pre-activations: naive loops, the fast kernels with
    /// the concatenation as copies, and each ReLU writing into its slice of one buffer.
    /// Backward: from a seeded random upstream gradient to each branch's pre-activation.
    static func raceConcatenation(_ name: String, _ module: InceptionModule, _ x: Tensor, seed: UInt64, quick: Bool) -> ConcatRace {
        let z = preActivations(module, x)
        let parts = z.map(\.data)
        let channels = z.map { $0.shape[1] }
        let (batch, h, w) = (x.shape[0], z[0].shape[2], z[0].shape[3])
        let spatial = h * w
        let total = channels.reduce(0, +)
        var generator = SeededGenerator(seed: seed)
        let dy = Tensor.randomNormal([batch, total, h, w], using: &generator).data
        // On one thread: these passes only move memory, and on a shared machine the time
        // spent waking a second thread would swamp what they do.
        let threads = Parallelism.threadCount
        Parallelism.threadCount = 1
        defer { Parallelism.threadCount = threads }
        let result = KernelRace.run([
            RaceEntrant(name: "naive: ReLUs, then index loops", kernel: "Naive.relu, Naive.concatenateChannels (+ backward)", isSlow: true,
                        forward: { [Naive.concatenateChannels(parts.map { Naive.relu($0) }, channels: channels, batch: batch, spatial: spatial)] },
                        backward: {
                            let g = Naive.concatenateChannelsBackward(outputGradient: dy, channels: channels, batch: batch, spatial: spatial)
                            return zip(parts, g).map { Naive.reluBackward($0, outputGradient: $1) }
                        }),
            RaceEntrant(name: "fast: ReLUs, then copies into a new tensor", kernel: "Fast.relu, Fast.concatenateChannels (memcpy per image and branch)",
                        forward: { [Fast.concatenateChannels(parts.map { Fast.relu($0) }, channels: channels, batch: batch, spatial: spatial)] },
                        backward: {
                            let g = Fast.concatenateChannelsBackward(outputGradient: dy, channels: channels, batch: batch, spatial: spatial)
                            return zip(parts, g).map { Fast.reluBackward($0, outputGradient: $1) }
                        }),
            RaceEntrant(name: "fast: each ReLU writes into its slice", kernel: "ConcatIntoSlices.reluConcatenated (+ backward reading dy's slices)",
                        forward: { [ConcatIntoSlices.reluConcatenated(parts, channels: channels, batch: batch, spatial: spatial)] },
                        backward: { ConcatIntoSlices.reluConcatenatedBackward(parts, outputGradient: dy, channels: channels, batch: batch, spatial: spatial) }),
        ], quick: quick)
        let n = batch * total * spatial
        // Floats moved (4 bytes each), N = the module's output size:
        //   copies, forward:  ReLUs read z, write parts (2N); the copy reads parts, writes y (2N)   = 4N
        //   copies, backward: the split reads dy, writes parts (2N); ReLU backward reads z and the
        //                     parts, writes dz (3N)                                                 = 5N
        //   slices, forward:  ReLUs read z, write y's slices (2N); backward: read z, dy, write dz (3N)
        module.eval()
        Parallelism.threadCount = threads
        let moduleSeconds = Stopwatch.medianSeconds(samples: quick ? 3 : 5, target: quick ? 0.02 : 0.1) { _ = module.infer(x) }
        return ConcatRace(module: name, outputShape: FeatureMapShape(batch: batch, channels: total, height: h, width: w),
                          channels: channels, result: result, bytesCopied: 4 * n * 4, bytesCopiesWay: 4 * n * 9,
                          bytesSlicesWay: 4 * n * 5, moduleForwardSeconds: moduleSeconds)
    }

    /// One training run of the small net: held-out accuracy per epoch and the gradient
    /// reaching the stem.
    struct AuxRun {
        struct Epoch {
            var trainLoss: Double
            var trainAccuracy: Double
            var validationAccuracy: Double
            var seconds: Double
            /// The norm of the stem convolution's weight gradient, mean over the epoch's steps.
            var stemGradientNorm: Double
        }
        var epochs: [Epoch] = []
        /// Training time, evaluation excluded.
        var seconds: Double { epochs.reduce(0) { $0 + $1.seconds } }
        var finalAccuracy: Double { epochs.last?.validationAccuracy ?? 0 }
        var meanStemGradientNorm: Double { epochs.isEmpty ? 0 : epochs.reduce(0) { $0 + $1.stemGradientNorm } / Double(epochs.count) }
    }

    /// Trains `net` by SGD with momentum on softmax cross-entropy of the main output plus
    /// `auxWeight` times each auxiliary head's; the mini-batches are those `Trainer` draws
    /// for the same seed (the same for every arm). Held-out accuracy after each epoch
    /// (inference mode: the heads do not run).
    static func train(_ net: NetworkWithAuxiliaryHeads, auxWeight: Float, on training: LabeledImages, validation: LabeledImages,
                      settings: TrainingSettings, seed: UInt64, label: String, console: Console) throws -> AuxRun {
        let optimizer = SGD(parameters: net.parameters, learningRate: Float(settings.initialLearningRate),
                            momentum: settings.momentum, weightDecay: settings.weightDecay)
        let stem = net.namedParameters().first { $0.name == "stem.conv.weight" }!.parameter
        var generator = SeededGenerator(seed: seed ^ 0x5EED_BA7C)
        var result = AuxRun()
        net.train()
        for epoch in 0..<settings.epochs {
            let rate = settings.schedule.rate(epoch: epoch)
            optimizer.learningRate = Float(rate)
            let batches = MiniBatches(count: training.count, batchSize: settings.batchSize, using: &generator)
            var lossSum = 0.0, correct = 0.0, seen = 0, normSum = 0.0
            let start = Stopwatch.now()
            for (step, indices) in batches.enumerated() {
                let x = gatherRows(training.images, indices)
                let labels = indices.map { training.labels[$0] }
                let logits = net(x)
                let (loss, dLogits) = Loss.crossEntropy(logits, targets: labels, using: net.backend)
                var auxGradients: [Tensor] = []
                var total = loss
                if auxWeight != 0 {
                    for a in net.auxiliaryLogits {
                        let (auxLoss, dAux) = Loss.crossEntropy(a, targets: labels, using: net.backend)
                        total += auxWeight * auxLoss
                        auxGradients.append(Tensor(shape: dAux.shape, data: dAux.data.map { $0 * auxWeight }))
                    }
                }
                guard total.isFinite else {
                    throw LessonError("\(label): training diverged: the loss became \(total) at epoch \(epoch + 1), step \(step + 1); try a smaller --lr")
                }
                net.zeroGradients()
                _ = net.backward(dLogits, auxiliaryGradients: auxGradients)
                normSum += sqrt(stem.gradient.data.reduce(0.0) { $0 + Double($1) * Double($1) })
                optimizer.step()
                let accuracy = Metrics.accuracy(logits, labels: labels)
                lossSum += Double(loss) * Double(indices.count)
                correct += accuracy * Double(indices.count)
                seen += indices.count
                console.progress("\(label)  epoch \(epoch + 1)/\(settings.epochs)  step \(step + 1)/\(batches.batchCount)"
                                 + "  loss " + String(format: "%.3f", lossSum / Double(seen))
                                 + "  acc " + String(format: "%.1f%%", 100 * correct / Double(seen))
                                 + "  " + ModelSummary.grouped(Int(Double(seen) / max(Stopwatch.now() - start, 1e-9))) + " img/s")
            }
            let seconds = Stopwatch.now() - start
            let held = Trainer.evaluate(net, on: validation)
            net.train()
            result.epochs.append(.init(trainLoss: lossSum / Double(max(seen, 1)), trainAccuracy: correct / Double(max(seen, 1)),
                                       validationAccuracy: held.accuracy, seconds: seconds,
                                       stemGradientNorm: normSum / Double(max(batches.batchCount, 1))))
        }
        console.clearProgress()
        return result
    }

    /// At initialisation, on one real batch: the norm of the stem's weight gradient from the
    /// main loss alone, and from the main loss plus 0.3 x the auxiliary losses.
    static func stemGradientAtInitialisation(seed: UInt64, _ x: Tensor, _ labels: [Int]) -> (main: Double, withAux: Double) {
        func norm(_ auxWeight: Float) -> Double {
            let net = smallInceptionNet(seed: seed)
            net.train()
            let logits = net(x)
            let d = Loss.crossEntropy(logits, targets: labels, using: net.backend).gradient
            let aux = auxWeight == 0 ? [] : net.auxiliaryLogits.map { a -> Tensor in
                let g = Loss.crossEntropy(a, targets: labels, using: net.backend).gradient
                return Tensor(shape: g.shape, data: g.data.map { $0 * auxWeight })
            }
            net.zeroGradients()
            _ = net.backward(d, auxiliaryGradients: aux)
            let g = net.namedParameters().first { $0.name == "stem.conv.weight" }!.parameter.gradient.data
            return sqrt(g.reduce(0.0) { $0 + Double($1) * Double($1) })
        }
        return (norm(0), norm(InceptionPaper.auxiliaryWeight))
    }
}

import ConvNetCore
import Foundation

// What the run measures besides training: the real activations of photographs, and the
// race of the grouped convolution (naive loops, the core's fast grouped kernel, and the
// same layer as one small convolution per group).

extension ResNeXtLesson {
    /// The layer at `path` (`layer1.1`) of `net`, which must be a Bottleneck.
    static func block(_ path: String, of net: Layer) throws -> Bottleneck {
        guard let layer = net.namedLayers().first(where: { $0.name == path })?.layer as? Bottleneck else {
            throw LessonError("\(net) has no bottleneck block named \(path)")
        }
        return layer
    }

    /// conv1, bn1, relu, maxpool and block layer1.0 of `net` (its own layers, shared):
    /// what turns a 224x224 image into the input of block layer1.1.
    static func stemAndFirstBlock(of net: ResNet) throws -> Sequential {
        let layers = net.namedLayers()
        let stem = try ["conv1", "bn1", "relu", "maxpool"].map { name -> (String, Layer) in
            guard let layer = layers.first(where: { $0.name == name })?.layer else { throw LessonError("\(net) has no layer \(name)") }
            return (name, layer)
        }
        return Sequential(named: stem + [("layer1.0", try block("layer1.0", of: net))])
    }

    /// `count` photographs of Fixtures/photos (astronaut, chelsea, coffee, then again),
    /// each one's centre square resampled to `side` x `side` by area averaging and
    /// normalised with ImageNet's channel means and deviations (torchvision's).
    static func photographs(_ fixtures: URL, count: Int, side: Int = 224) throws -> (names: [String], images: Tensor) {
        let names = ["astronaut", "chelsea", "coffee"]
        let mean: [Float] = [0.485, 0.456, 0.406], std: [Float] = [0.229, 0.224, 0.225]
        var squares: [String: [Float]] = [:]
        var data: [Float] = [], used: [String] = []
        for i in 0..<count {
            let name = names[i % names.count]
            used.append(name)
            if squares[name] == nil {
                let image = try PPM.read(fixtures.appendingPathComponent("photos/\(name).ppm"))
                guard image.channels == 3 else { throw LessonError("photos/\(name).ppm: 3 colour channels expected, got \(image.channels)") }
                let t = image.tensor, (h, w) = (image.height, image.width), s = min(h, w)
                let (top, left) = ((h - s) / 2, (w - s) / 2)
                var crop = [Float](repeating: 0, count: 3 * s * s)
                for c in 0..<3 { for y in 0..<s { for x in 0..<s { crop[(c * s + y) * s + x] = t.data[(c * h + top + y) * w + left + x] } } }
                var resized = LabeledImages(images: Tensor(shape: [1, 3, s, s], data: crop), labels: [0])
                    .resized(height: side, width: side).images.data
                for c in 0..<3 { for p in 0..<(side * side) { resized[c * side * side + p] = (resized[c * side * side + p] - mean[c]) / std[c] } }
                squares[name] = resized
            }
            data += squares[name]!
        }
        return (used, Tensor(shape: [count, 3, side, side], data: data))
    }

    /// The race of `conv` (a grouped convolution) on `input`: the naive loops, the core's
    /// fast kernel, and one fast convolution per group on the group's slice of the input,
    /// the outputs concatenated. Forward, then the input and weight gradients.
    static func raceGroupedConvolution(_ conv: Conv2d, input: Tensor, quick: Bool, seed: UInt64) -> RaceResult {
        let s = conv.geometry(for: input.shape)
        let x = input.data, w = conv.weight.value.data
        var g = SeededGenerator(seed: seed &+ 3)
        let dy = Tensor.randomNormal([s.batch, s.outChannels, s.outHeight, s.outWidth], using: &g).data
        let groups = s.groups, cg = s.inChannels / groups, og = s.outChannels / groups
        var single = s
        (single.inChannels, single.outChannels, single.groups) = (cg, og, 1)
        let perGroup = w.count / groups
        let groupWeights = (0..<groups).map { Array(w[($0 * perGroup)..<(($0 + 1) * perGroup)]) }
        let (spatialIn, spatialOut) = (s.inHeight * s.inWidth, s.outHeight * s.outWidth)
        /// The channels of each group, copied out of an NCHW tensor (the gradient of a concatenation is its split).
        func split(_ a: [Float], channels: Int, spatial: Int) -> [[Float]] {
            Fast.concatenateChannelsBackward(outputGradient: a, channels: Array(repeating: channels, count: groups), batch: s.batch, spatial: spatial)
        }
        let macs = Double(s.batch * s.outChannels * spatialOut * cg * s.kernelHeight * s.kernelWidth)
        let fast = Fast.conv2dMethod(for: s), backward = Fast.conv2dBackwardMethods(for: s)
        let fastName = backward.input == fast && backward.weight == fast ? fast.title
            : "\(fast.title); dx: \(backward.input.title); dW: \(backward.weight.title)"
        return KernelRace.run([
            RaceEntrant(name: "naive: seven loops, groups", kernel: "Naive.conv2d, Naive.conv2dBackward", isSlow: true,
                        forward: { [Naive.conv2d(x, weight: w, bias: nil, geometry: s)] },
                        backward: { let r = Naive.conv2dBackward(x, weight: w, outputGradient: dy, geometry: s); return [r.input, r.weight] }),
            RaceEntrant(name: "fast: one grouped kernel", kernel: "Fast.conv2d: " + fastName,
                        forward: { [Fast.conv2d(x, weight: w, bias: nil, geometry: s)] },
                        backward: { let r = Fast.conv2dBackward(x, weight: w, outputGradient: dy, geometry: s); return [r.input, r.weight] }),
            RaceEntrant(name: "\(groups) separate convolutions of \(cg) channels",
                        kernel: "split, \(groups) x Fast.conv2d: \(Fast.conv2dMethod(for: single).title), concatenate",
                        forward: {
                            let parts = split(x, channels: cg, spatial: spatialIn)
                            let ys = (0..<groups).map { Fast.conv2d(parts[$0], weight: groupWeights[$0], bias: nil, geometry: single) }
                            return [Fast.concatenateChannels(ys, channels: Array(repeating: og, count: groups), batch: s.batch, spatial: spatialOut)]
                        },
                        backward: {
                            let xs = split(x, channels: cg, spatial: spatialIn), dys = split(dy, channels: og, spatial: spatialOut)
                            let r = (0..<groups).map { Fast.conv2dBackward(xs[$0], weight: groupWeights[$0], outputGradient: dys[$0], geometry: single) }
                            let dx = Fast.concatenateChannels(r.map(\.input), channels: Array(repeating: cg, count: groups), batch: s.batch, spatial: spatialIn)
                            return [dx, r.flatMap(\.weight)]
                        }),
        ], quick: quick, forwardFlops: 2 * macs, backwardFlops: 4 * macs)
    }

    /// Each net's held-out error per seed, mean and spread, training error and time.
    static func armTable(_ arms: [Arm], seeds: [UInt64]) -> ReportTable {
        ReportTable(headers: ["net", "parameters"] + seeds.map { "held-out err, seed \($0)" }
                        + ["held-out err (mean)", "spread", "train err (mean)", "training time"],
                    rows: arms.map { arm in
                        let errors = arm.validationErrors
                        return [arm.label, ModelSummary.grouped(arm.parameters)] + errors.map(percent)
                            + [percent(mean(errors)), percent((errors.max() ?? 0) - (errors.min() ?? 0)),
                               percent(mean(arm.trainErrors)), String(format: "%.1f s", arm.seconds)]
                    })
    }

    /// Whether the held-out errors differ beyond the seed-to-seed spread, with the same
    /// sign on every seed, and a sentence that says so either way.
    static func compare(_ resnext: Arm, _ resnet: Arm) -> (shown: Bool, text: String) {
        let a = resnext.validationErrors, b = resnet.validationErrors
        let differences = zip(a, b).map { $1 - $0 }               // > 0: the ResNeXt is better
        let d = mean(b) - mean(a)
        let spread = max((a.max() ?? 0) - (a.min() ?? 0), (b.max() ?? 0) - (b.min() ?? 0))
        let sameSign = differences.allSatisfy { $0 > 0 } || differences.allSatisfy { $0 < 0 }
        let shown = a.count >= 2 && abs(d) > spread && sameSign
        let means = "held-out error \(percent(mean(a))) for \(resnext.label) against \(percent(mean(b))) for \(resnet.label)"
            + " (means over \(a.count) seed\(a.count == 1 ? "" : "s"); \(ModelSummary.grouped(resnext.parameters)) and"
            + " \(ModelSummary.grouped(resnet.parameters)) parameters)"
        if a.count < 2 {
            return (false, "One seed: " + means + ". With one seed there is no spread to compare the difference with, so this run"
                    + " shows no difference either way.")
        }
        if shown {
            return (true, "A difference beyond the seed-to-seed spread (\(percent(spread))), on every seed: " + means + ". The "
                    + (d > 0 ? "ResNeXt" : "ResNet") + " did better at this budget.")
        }
        return (false, "No difference shown: " + means + "; the difference of the means (\(percent(abs(d)))) is "
                + (abs(d) <= spread ? "within the seed-to-seed spread (\(percent(spread)))" : "not of the same sign on every seed")
                + ". At this size, on digits, cardinality did not measurably help or hurt.")
    }
}


import Testing
@testable import ConvNetCore

/// The per-pixel loss and the crop-and-concatenate of U-Net: fast == naive, naive ==
/// finite differences, and the loss == the ordinary cross-entropy of every pixel.
@Suite("Per-pixel loss and crop-concatenate")
struct PixelLossCropConcatTests {
    /// (batch, classes, height, width, class weights, pixel weights)
    static let lossCases: [(Int, Int, Int, Int, Bool, Bool)] = [
        (1, 2, 1, 1, false, false), (2, 3, 4, 5, true, false), (3, 11, 7, 9, true, true),
        (2, 5, 16, 3, false, true), (1, 4, 6, 6, true, true), (4, 2, 5, 17, true, false),
    ]

    static func lossData(_ c: (Int, Int, Int, Int, Bool, Bool), seed: UInt64) -> (logits: [Double], labels: [Int], cw: [Double]?, pw: [Double]?) {
        let (n, k, h, w, hasClass, hasPixel) = c
        var g = SeededGenerator(seed: seed)
        let logits: [Double] = randomArray(n * k * h * w, seed: seed).map { $0 * 3 }
        let labels = (0..<(n * h * w)).map { _ in Int(g.next() % UInt64(k)) }
        let cw: [Double]? = hasClass ? (0..<k).map { _ in 0.2 + Double(g.nextUniform()) * 3 } : nil
        let pw: [Double]? = hasPixel ? (0..<(n * h * w)).map { _ in 0.1 + Double(g.nextUniform()) } : nil
        return (logits, labels, cw, pw)
    }

    @Test("fast per-pixel cross-entropy equals the naive loops (loss and gradient)", arguments: lossCases.indices)
    func fastEqualsNaive(_ index: Int) {
        let c = Self.lossCases[index]
        let d = Self.lossData(c, seed: 300 + UInt64(index))
        let spatial = c.2 * c.3
        let naive = Naive.pixelCrossEntropy(logits: floats(d.logits), labels: d.labels, classes: c.1, spatial: spatial,
                                            classWeights: d.cw.map(floats), pixelWeights: d.pw.map(floats))
        let fast = Fast.pixelCrossEntropy(logits: floats(d.logits), labels: d.labels, classes: c.1, spatial: spatial,
                                          classWeights: d.cw.map(floats), pixelWeights: d.pw.map(floats))
        #expect(abs(fast.loss - naive.loss) <= 1e-5 * max(1, abs(naive.loss)))
        #expect(relativeError(fast.logitsGradient, naive.logitsGradient) < 1e-5)
        let logits = floats(d.logits)
        #expect(Fast.pixelArgmax(logits, classes: c.1, spatial: spatial) == Naive.pixelArgmax(logits, classes: c.1, spatial: spatial))
    }

    @Test("the naive per-pixel loss's gradient equals finite differences, with class and pixel weights")
    func gradientMatchesFiniteDifferences() {
        for (index, c) in [Self.lossCases[2], Self.lossCases[4]].enumerated() {
            let d = Self.lossData(c, seed: 320 + UInt64(index))
            let spatial = c.2 * c.3
            let analytic = Naive.pixelCrossEntropy(logits: d.logits, labels: d.labels, classes: c.1, spatial: spatial,
                                                   classWeights: d.cw, pixelWeights: d.pw).logitsGradient
            let numeric = numericalGradient(of: {
                Naive.pixelCrossEntropy(logits: $0, labels: d.labels, classes: c.1, spatial: spatial, classWeights: d.cw, pixelWeights: d.pw).loss
            }, at: d.logits)
            #expect(relativeError(analytic, numeric) < 1e-6)
        }
    }

    @Test("unweighted, the per-pixel loss is the ordinary cross-entropy of every pixel's scores")
    func unweightedIsCrossEntropyPerPixel() {
        let (n, k, h, w) = (2, 4, 3, 5)
        let d = Self.lossData((n, k, h, w, false, false), seed: 340)
        // [N, K, H, W] -> [N*H*W, K]
        var rows = [Double](repeating: 0, count: d.logits.count)
        for b in 0..<n { for c in 0..<k { for p in 0..<(h * w) { rows[(b * h * w + p) * k + c] = d.logits[(b * k + c) * h * w + p] } } }
        let pixel = Naive.pixelCrossEntropy(logits: d.logits, labels: d.labels, classes: k, spatial: h * w)
        let plain = Naive.softmaxCrossEntropy(logits: rows, targets: d.labels, classes: k)
        #expect(abs(pixel.loss - plain.loss) < 1e-12)
    }

    @Test("class weights: a class weighted 0 contributes nothing, and scaling all weights changes nothing")
    func weightSemantics() {
        let (n, k, h, w) = (1, 3, 4, 4)
        let d = Self.lossData((n, k, h, w, false, false), seed: 350)
        let a = Naive.pixelCrossEntropy(logits: d.logits, labels: d.labels, classes: k, spatial: h * w, classWeights: [1, 2, 0.5])
        let b = Naive.pixelCrossEntropy(logits: d.logits, labels: d.labels, classes: k, spatial: h * w, classWeights: [3, 6, 1.5])
        #expect(abs(a.loss - b.loss) < 1e-12)
        let zero = Naive.pixelCrossEntropy(logits: d.logits, labels: d.labels, classes: k, spatial: h * w, classWeights: [1, 1, 0])
        for p in 0..<(h * w) where d.labels[p] == 2 {
            for c in 0..<k { #expect(zero.logitsGradient[c * h * w + p] == 0) }
        }
    }

    /// (batch, skip channels, skip H, skip W, up channels, H, W)
    static let cropCases: [(Int, Int, Int, Int, Int, Int, Int)] = [
        (1, 1, 4, 4, 1, 4, 4), (2, 3, 9, 8, 2, 5, 4), (3, 4, 12, 12, 4, 4, 4), (1, 2, 7, 6, 3, 4, 5), (2, 5, 20, 21, 5, 16, 16),
    ]

    @Test("fast crop-and-concatenate equals the naive loops, forward and backward", arguments: cropCases.indices)
    func cropConcatFastEqualsNaive(_ index: Int) {
        let c = Self.cropCases[index]
        let g = CropConcatGeometry(batch: c.0, skipChannels: c.1, skipHeight: c.2, skipWidth: c.3, upChannels: c.4, height: c.5, width: c.6)
        let skip: [Float] = randomArray(g.skipShape.reduce(1, *), seed: 400 + UInt64(index))
        let up: [Float] = randomArray(g.upShape.reduce(1, *), seed: 410 + UInt64(index))
        let dy: [Float] = randomArray(g.outputShape.reduce(1, *), seed: 420 + UInt64(index))
        #expect(Fast.cropConcat(skip: skip, up: up, geometry: g) == Naive.cropConcat(skip: skip, up: up, geometry: g))
        let f = Fast.cropConcatBackward(outputGradient: dy, geometry: g), n = Naive.cropConcatBackward(outputGradient: dy, geometry: g)
        #expect(f.skip == n.skip && f.up == n.up)
    }

    @Test("crop-and-concatenate takes the skip map's centre: offset ((Hs - Hu) / 2, (Ws - Wu) / 2), skip channels first")
    func cropIsCentred() {
        let g = CropConcatGeometry(batch: 1, skipChannels: 1, skipHeight: 6, skipWidth: 6, upChannels: 1, height: 2, width: 2)
        #expect(g.top == 2 && g.left == 2)
        let skip = (0..<36).map(Double.init), up: [Double] = [-1, -2, -3, -4]
        #expect(Naive.cropConcat(skip: skip, up: up, geometry: g) == [14, 15, 20, 21, -1, -2, -3, -4])
    }

    @Test("the naive crop-and-concatenate backward is its forward's adjoint (equals finite differences)")
    func cropConcatBackwardIsAdjoint() {
        let g = CropConcatGeometry(batch: 2, skipChannels: 2, skipHeight: 7, skipWidth: 6, upChannels: 3, height: 3, width: 4)
        let skip: [Double] = randomArray(g.skipShape.reduce(1, *), seed: 430)
        let up: [Double] = randomArray(g.upShape.reduce(1, *), seed: 431)
        let dy: [Double] = randomArray(g.outputShape.reduce(1, *), seed: 432)
        let grads = Naive.cropConcatBackward(outputGradient: dy, geometry: g)
        let dSkip = numericalGradient(of: { dot(Naive.cropConcat(skip: $0, up: up, geometry: g), dy) }, at: skip)
        let dUp = numericalGradient(of: { dot(Naive.cropConcat(skip: skip, up: $0, geometry: g), dy) }, at: up)
        #expect(relativeError(grads.skip, dSkip) < 1e-6)
        #expect(relativeError(grads.up, dUp) < 1e-6)
    }

    @Test("Adam's first step moves every weight by about the learning rate, against its gradient")
    func adamFirstStep() {
        let p = Parameter(shape: [4], role: .convolutionBias)
        p.value = Tensor(shape: [4], data: [1, 2, 3, 4])
        p.accumulateGradient([0.5, -2, 1e-3, -7])
        let adam = Adam(parameters: [p], learningRate: 0.01)
        adam.step()
        let moved = zip(p.value.data, [Float(1), 2, 3, 4]).map { $0 - $1 }
        #expect(zip(moved, [Float(-0.01), 0.01, -0.01, 0.01]).allSatisfy { abs($0 - $1) < 1e-4 })
    }
}

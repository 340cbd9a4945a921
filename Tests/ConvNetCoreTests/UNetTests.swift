import Testing
@testable import ConvNetCore

/// U-Net built from shapes: the paper's sizes and counts, and a small one's gradients.
@Suite("U-Net")
struct UNetTests {
    @Test("the paper's U-Net: 23 conv layers, 572x572 in, 388x388 out, 31,030,658 parameters with 2 classes")
    func paperNetwork() {
        let net = UNet.paper()
        let summary = net.summary(inputShape: [1, 1, 572, 572])
        #expect(summary.outputShape == [1, 2, 388, 388])
        #expect(summary.parameters == 31_030_658)
        let convs = net.namedLayers().filter { $0.layer is Conv2d || $0.layer is ConvTranspose2d }
        #expect(convs.count == 23)
        #expect(net.ups.map(\.inChannels) == [128, 256, 512, 1024] && net.ups.map(\.outChannels) == [64, 128, 256, 512])
    }

    @Test("the skip maps 568, 280, 136, 64 are cropped by 88, 40, 16, 4 to the up-convolutions' 392, 200, 104, 56")
    func paperCrops() throws {
        let net = UNet.paper()
        let summary = net.summary(inputShape: [1, 1, 572, 572])
        let encoders = (0..<4).map { summary.blocks["enc\($0)"]!.output[2] }
        let ups = (0..<4).map { i in summary.rows.first { $0.name == "up\(i)" }!.outputShape[2] }
        #expect(encoders == [568, 280, 136, 64])
        #expect(ups == [392, 200, 104, 56])
        let tile = try #require(UNetTile(inputSize: 572, depth: 4, padding: 0))
        #expect(tile.cropOffsets == [88, 40, 16, 4] && tile.outputSize == 388 && tile.bottomSize == 28)
        #expect(tile.encoderSizes == encoders && tile.upSizes == ups)
    }

    @Test("UNetTile agrees with the layers' shapes for every fitting size, and refuses sizes that pool an odd map")
    func tileAgreesWithLayers() {
        for depth in 1...3 {
            let net = UNet(inChannels: 1, classes: 2, depth: depth, baseChannels: 2)
            var fitted = 0
            for size in (16 * (1 << depth))...(16 * (1 << depth) + 24) {
                guard let tile = UNetTile(inputSize: size, depth: depth, padding: 0) else { continue }
                fitted += 1
                let summary = net.summary(inputShape: [1, 1, size, size])
                #expect(summary.outputShape[2] == tile.outputSize, "size \(size), depth \(depth)")
                #expect((0..<depth).map { summary.blocks["enc\($0)"]!.output[2] } == tile.encoderSizes)
            }
            #expect(fitted > 0)
        }
        #expect(UNetTile(inputSize: 570, depth: 4, padding: 0) == nil)
        #expect(UNetTile(inputSize: 40, depth: 2, padding: 1)?.outputSize == 40)
    }

    @Test("without skip connections the decoders see half the channels, and the output shape is the same")
    func noSkips() {
        let with = UNet(inChannels: 1, classes: 3, depth: 2, baseChannels: 4, padding: 1, batchNorm: true)
        let without = UNet(inChannels: 1, classes: 3, depth: 2, baseChannels: 4, padding: 1, batchNorm: true, skips: false)
        #expect(without.parameterCount < with.parameterCount)
        #expect(without.decoders.map { ($0.layers[0] as! Conv2d).inChannels } == [4, 8])
        #expect(with.decoders.map { ($0.layers[0] as! Conv2d).inChannels } == [8, 16])
        #expect(with.outputShape(for: [2, 1, 12, 12]) == [2, 3, 12, 12] && without.outputShape(for: [2, 1, 12, 12]) == [2, 3, 12, 12])
    }

    @Test("a valid U-Net's backward (crops included) equals finite differences along a random direction, and naive == fast kernels")
    func gradients() {
        for skips in [true, false] {
            let net = UNet(inChannels: 2, classes: 3, depth: 2, baseChannels: 3, padding: 0, skips: skips).initialize(seed: 5)
            var g = SeededGenerator(seed: 6)
            let x = Tensor.randomNormal([1, 2, 44, 44], using: &g)
            let outShape = net.outputShape(for: x.shape)
            #expect(outShape == [1, 3, 4, 4])
            let dy = Tensor.randomNormal(outShape, using: &g)
            let direction = Tensor.randomNormal(x.shape, using: &g)
            let y = net(x)
            let dx = net.backward(dy)
            func loss(_ t: Float) -> Double {
                let shifted = Tensor(shape: x.shape, data: zip(x.data, direction.data).map { $0 + t * $1 })
                return zip(net(shifted).data, dy.data).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            }
            // A small step: a max pool whose winner changes inside the step breaks the difference.
            let eps: Float = 1e-4
            let numeric = (loss(eps) - loss(-eps)) / Double(2 * eps)
            let analytic = zip(dx.data, direction.data).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            #expect(abs(numeric - analytic) <= 2e-2 * max(1, abs(analytic)), "skips \(skips): \(numeric) vs \(analytic)")
            // The same network on the naive kernels: the same output and input gradient.
            let naive = UNet(inChannels: 2, classes: 3, depth: 2, baseChannels: 3, padding: 0, skips: skips).initialize(seed: 5)
            naive.kernels = .naive
            #expect(relativeError(naive(x).data, y.data) < 1e-5)
            #expect(relativeError(naive.backward(dy).data, dx.data) < 1e-4)
        }
    }
}

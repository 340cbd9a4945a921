import Testing
@testable import ConvNetCore

@Suite("Dropout, concatenation and add")
struct DropoutConcatAddTests {
    static let counts = [1, 15, 16, 17, 1001, 70_001]

    static func mask(_ count: Int, p: Double, seed: UInt64) -> [Bool] {
        var g = SeededGenerator(seed: seed)
        return DropoutMask.sample(count: count, probability: p, using: &g)
    }

    // MARK: dropout

    @Test("a dropout mask keeps about 1 - p of the units, and the same seed gives the same mask")
    func maskKeepsOneMinusP() {
        let count = 100_000
        for p in [0.1, 0.3, 0.5, 0.9] {
            let kept = Self.mask(count, p: p, seed: 1).filter { $0 }.count
            // the standard deviation of the kept fraction is at most 0.0016 here
            #expect(abs(Double(kept) / Double(count) - (1 - p)) < 0.01, "p = \(p): kept \(kept)")
        }
        #expect(Self.mask(1000, p: 0.5, seed: 7) == Self.mask(1000, p: 0.5, seed: 7))
        #expect(Self.mask(1000, p: 0.5, seed: 7) != Self.mask(1000, p: 0.5, seed: 8))
        #expect(Self.mask(1000, p: 0, seed: 3).allSatisfy { $0 })
        #expect(Self.mask(1000, p: 1, seed: 3).allSatisfy { !$0 })
    }

    @Test("inverted dropout preserves the expected sum of the activations")
    func dropoutPreservesExpectedSum() {
        let count = 100_000
        let x: [Float] = (randomArray(count, seed: 5) as [Float]).map { $0 + 1.5 }  // positive, mean 1.5
        let sum = x.reduce(0.0) { $0 + Double($1) }
        for p in [0.2, 0.5] {
            let y = Fast.dropout(x, keepMask: Self.mask(count, p: p, seed: 6), probability: Float(p))
            let dropped = y.reduce(0.0) { $0 + Double($1) }
            // relative standard deviation of the dropped sum is about 0.3% here
            #expect(abs(dropped / sum - 1) < 0.02, "p = \(p): \(dropped) vs \(sum)")
        }
    }

    @Test("fast dropout equals the naive one, forward and backward")
    func dropoutFastEqualsNaive() {
        for (index, count) in Self.counts.enumerated() {
            let x: [Float] = randomArray(count, seed: UInt64(index + 10))
            for p: Float in [0, 0.25, 0.5, 1] {
                let mask = Self.mask(count, p: Double(p), seed: UInt64(index + 20))
                #expect(Fast.dropout(x, keepMask: mask, probability: p) == Naive.dropout(x, keepMask: mask, probability: p), "\(count) p=\(p)")
                #expect(Fast.dropoutBackward(outputGradient: x, keepMask: mask, probability: p)
                        == Naive.dropoutBackward(outputGradient: x, keepMask: mask, probability: p), "\(count) p=\(p)")
            }
        }
    }

    @Test("dropout with p = 1 gives zeros, not NaN; p = 0 is the identity")
    func dropoutExtremes() {
        let x: [Float] = [1, -2, 3]
        let none = [false, false, false], all = [true, true, true]
        #expect(Fast.dropout(x, keepMask: none, probability: 1) == [0, 0, 0])
        #expect(Naive.dropout(x, keepMask: none, probability: 1) == [0, 0, 0])
        #expect(Fast.dropoutBackward(outputGradient: x, keepMask: none, probability: 1) == [0, 0, 0])
        #expect(Fast.dropout(x, keepMask: all, probability: 0) == x)
        #expect(Fast.dropout(x, keepMask: [true, false, true], probability: 0.5) == [2, 0, 6])
    }

    @Test("the dropout gradient matches finite differences")
    func dropoutGradient() {
        let count = 23
        let x: [Double] = randomArray(count, seed: 30)
        let dy: [Double] = randomArray(count, seed: 31)
        let mask = Self.mask(count, p: 0.4, seed: 32)
        let numeric = numericalGradient(of: { dot(Naive.dropout($0, keepMask: mask, probability: 0.4), dy) }, at: x)
        #expect(relativeError(Naive.dropoutBackward(outputGradient: dy, keepMask: mask, probability: 0.4), numeric) < 1e-6)
    }

    // MARK: concatenation

    /// (channels of each part, batch, spatial): one part, empty parts, batch 1, odd sizes,
    /// and one large enough to copy on several threads.
    static let concatCases: [([Int], Int, Int)] = [
        ([3], 2, 5), ([1, 2, 3], 1, 1), ([4, 0, 2], 3, 7), ([64, 128, 32, 32], 2, 9), ([5, 3], 4, 33), ([16, 48], 8, 32 * 32),
    ]

    static func parts(_ channels: [Int], batch: Int, spatial: Int, seed: UInt64) -> [[Float]] {
        channels.enumerated().map { k, c in randomArray(batch * c * spatial, seed: seed + UInt64(k)) }
    }

    @Test("fast channel concatenation equals the naive one, forward and backward")
    func concatFastEqualsNaive() {
        for (index, (channels, batch, spatial)) in Self.concatCases.enumerated() {
            let parts = Self.parts(channels, batch: batch, spatial: spatial, seed: UInt64(100 * index))
            let fast = Fast.concatenateChannels(parts, channels: channels, batch: batch, spatial: spatial)
            #expect(fast == Naive.concatenateChannels(parts, channels: channels, batch: batch, spatial: spatial), "\(channels)")
            let dy: [Float] = randomArray(fast.count, seed: UInt64(100 * index + 50))
            #expect(Fast.concatenateChannelsBackward(outputGradient: dy, channels: channels, batch: batch, spatial: spatial)
                    == Naive.concatenateChannelsBackward(outputGradient: dy, channels: channels, batch: batch, spatial: spatial), "\(channels)")
        }
    }

    @Test("concatenation puts part k at channels off_k..<off_k + C_k of every image")
    func concatLayout() {
        // two images, parts of 1 and 2 channels of 2 pixels each
        let a: [Float] = [1, 2, /* image 1 */ 3, 4]
        let b: [Float] = [10, 11, 12, 13, /* image 1 */ 14, 15, 16, 17]
        let expected: [Float] = [1, 2, 10, 11, 12, 13, /* image 1 */ 3, 4, 14, 15, 16, 17]
        #expect(Naive.concatenateChannels([a, b], channels: [1, 2], batch: 2, spatial: 2) == expected)
        #expect(Fast.concatenateChannels([a, b], channels: [1, 2], batch: 2, spatial: 2) == expected)
    }

    @Test("concatenating then taking the backward of the result returns the parts")
    func concatRoundTrip() {
        for (index, (channels, batch, spatial)) in Self.concatCases.enumerated() {
            let parts = Self.parts(channels, batch: batch, spatial: spatial, seed: UInt64(7 + index))
            let y = Fast.concatenateChannels(parts, channels: channels, batch: batch, spatial: spatial)
            #expect(Fast.concatenateChannelsBackward(outputGradient: y, channels: channels, batch: batch, spatial: spatial) == parts)
            let yn = Naive.concatenateChannels(parts, channels: channels, batch: batch, spatial: spatial)
            #expect(Naive.concatenateChannelsBackward(outputGradient: yn, channels: channels, batch: batch, spatial: spatial) == parts)
        }
    }

    @Test("the concatenation gradient of each part matches finite differences")
    func concatGradient() {
        let (channels, batch, spatial) = ([2, 1, 3], 2, 3)
        let parts: [[Double]] = channels.enumerated().map { k, c in randomArray(batch * c * spatial, seed: 200 + UInt64(k)) }
        let dy: [Double] = randomArray(batch * 6 * spatial, seed: 210)
        let analytic = Naive.concatenateChannelsBackward(outputGradient: dy, channels: channels, batch: batch, spatial: spatial)
        for k in parts.indices {
            let numeric = numericalGradient(of: { part in
                var p = parts
                p[k] = part
                return dot(Naive.concatenateChannels(p, channels: channels, batch: batch, spatial: spatial), dy)
            }, at: parts[k])
            #expect(relativeError(analytic[k], numeric) < 1e-6, "part \(k)")
        }
    }

    @Test("branches writing into slices of one buffer give the concatenation, with no copy pass")
    func concatBufferSlices() {
        let (channels, batch, spatial) = ([3, 5, 2], 3, 4)
        let parts = Self.parts(channels, batch: batch, spatial: spatial, seed: 300)
        var buffer = ChannelConcatBuffer(channels: channels, batch: batch, spatial: spatial)
        for k in channels.indices.reversed() {            // any order
            for image in 0..<batch {
                buffer.withSlice(part: k, image: image) { slice in
                    let block = channels[k] * spatial
                    #expect(slice.count == block)
                    for i in 0..<block { slice[i] = parts[k][image * block + i] }
                }
            }
        }
        let expected = Naive.concatenateChannels(parts, channels: channels, batch: batch, spatial: spatial)
        #expect(buffer.data == expected)
        #expect(buffer.parts() == parts)
        #expect(buffer.sliceOffset(part: 1, image: 2)
                == Fast.channelSliceOffset(image: 2, channelOffset: 3, totalChannels: 10, spatial: spatial))
        var written = ChannelConcatBuffer(channels: channels, batch: batch, spatial: spatial)
        written.write(part: 2, parts[2])
        written.write(part: 0, parts[0])
        written.write(part: 1, parts[1])
        #expect(written.data == expected)
    }

    // MARK: add

    @Test("fast add equals the naive one")
    func addFastEqualsNaive() {
        for (index, count) in Self.counts.enumerated() {
            let a: [Float] = randomArray(count, seed: UInt64(index + 400))
            let b: [Float] = randomArray(count, seed: UInt64(index + 500))
            #expect(Fast.add(a, b) == Naive.add(a, b), "\(count)")
        }
        #expect(Fast.add([], []).isEmpty)
    }

    @Test("fast in-place add equals the naive add, and leaves other copies of its operand alone")
    func addInPlaceEqualsNaive() {
        for (index, count) in (Self.counts + [(1 << 16) + 5]).enumerated() {
            let a: [Float] = randomArray(count, seed: UInt64(index + 600))
            let b: [Float] = randomArray(count, seed: UInt64(index + 700))
            var sum = a
            Fast.addInPlace(&sum, b)
            #expect(sum == Naive.add(a, b), "\(count)")
            #expect(a == randomArray(count, seed: UInt64(index + 600)), "\(count)")
        }
    }

    @Test("the residual add passes dy unchanged to both inputs (finite differences)")
    func addGradient() {
        let a: [Double] = randomArray(19, seed: 600), b: [Double] = randomArray(19, seed: 601)
        let dy: [Double] = randomArray(19, seed: 602)
        #expect(relativeError(numericalGradient(of: { dot(Naive.add($0, b), dy) }, at: a), dy) < 1e-6)
        #expect(relativeError(numericalGradient(of: { dot(Naive.add(a, $0), dy) }, at: b), dy) < 1e-6)
    }
}

import Foundation
import Testing
@testable import ConvNetCore

@Suite("BatchStream: a producer thread making mini-batches through a bounded queue")
struct BatchStreamTests {
    static func data(_ count: Int) -> LabeledImages {
        LabeledImages(images: Tensor(shape: [count, 1, 2, 3], data: (0..<count * 6).map(Float.init)), labels: (0..<count).map { $0 % 10 })
    }

    /// Adds one random number per batch, so the order of the generator's draws shows.
    static func augment(_ x: Tensor, _ g: inout SeededGenerator) -> Tensor {
        let shift = g.nextUniform()
        return Tensor(shape: x.shape, data: x.data.map { $0 + shift })
    }

    @Test("the stream yields the plan's batches in order, bit for bit the same as making them inline, then nil")
    func sameAsInline() {
        for capacity in [1, 3, 64] {
            let inline = BatchPlan(data: Self.data(53), batchSize: 8, epochs: 3, seed: 5, augment: Self.augment)
            var expected: [StreamBatch] = []
            while let b = inline.next() { expected.append(b) }
            #expect(expected.count == inline.batchCount && expected.count == 3 * 7)
            let stream = BatchStream(BatchPlan(data: Self.data(53), batchSize: 8, epochs: 3, seed: 5, augment: Self.augment), capacity: capacity)
            var got: [StreamBatch] = []
            while let b = stream.next() { got.append(b) }
            #expect(stream.next() == nil)
            #expect(got.map(\.images.data) == expected.map(\.images.data))
            #expect(got.map(\.labels) == expected.map(\.labels))
            #expect(got.map(\.epoch) == expected.map(\.epoch))
        }
    }

    @Test("each epoch of the plan visits every example once")
    func epochsCoverTheData() {
        let plan = BatchPlan(data: Self.data(20), batchSize: 6, epochs: 2, seed: 1, augment: nil)
        var seen: [Int: [Float]] = [:]
        while let b = plan.next() {
            for n in 0..<b.labels.count { seen[b.epoch, default: []].append(b.images.data[n * 6] / 6) }
        }
        #expect(seen.keys.sorted() == [0, 1])
        for (_, firsts) in seen { #expect(firsts.sorted() == (0..<20).map(Float.init)) }
    }

    @Test("the producer stops at the queue's capacity while nobody consumes, and cancelling stops it")
    func boundedAndCancellable() {
        let made = Counter()
        let plan = BatchPlan(data: Self.data(200), batchSize: 2, epochs: 5, seed: 2) { x, _ in made.increment(); return x }
        let stream = BatchStream(plan, capacity: 3)
        Thread.sleep(forTimeInterval: 0.2)
        // At most the queue's 3 batches plus the one the producer holds while it waits.
        #expect(made.value <= 4)
        _ = stream.next()
        stream.cancel()
        let after = made.value
        Thread.sleep(forTimeInterval: 0.05)
        #expect(made.value == after && after < 500)
    }

    final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var count = 0
        func increment() { lock.lock(); count += 1; lock.unlock() }
        var value: Int { lock.lock(); defer { lock.unlock() }; return count }
    }
}

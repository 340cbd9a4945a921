import Dispatch
import Foundation
import Testing
@testable import ConvNetCore

@Suite("Parallelism: the spinning pool behind every fast kernel")
struct ParallelismTests {
    /// Counts calls per part, from any thread.
    final class Tally: @unchecked Sendable {
        private let lock = NSLock()
        private(set) var counts: [Int]
        init(_ parts: Int) { counts = [Int](repeating: 0, count: parts) }
        func add(_ part: Int) { lock.lock(); counts[part] += 1; lock.unlock() }
    }

    @Test("run calls every part exactly once, for 0 to 5 parts, job after job")
    func everyPartOnce() {
        for parts in 0...5 {
            for _ in 0..<50 {
                let tally = Tally(max(parts, 1))
                Parallelism.run(parts) { tally.add($0) }
                #expect(tally.counts == (parts == 0 ? [0] : [Int](repeating: 1, count: parts)))
            }
        }
    }

    @Test("a run inside a run, and runs from several threads at once, still call every part once")
    func nestedAndConcurrent() {
        let inner = Tally(6)
        Parallelism.run(2) { outer in
            Parallelism.run(3) { inner.add(outer * 3 + $0) }
        }
        #expect(inner.counts == [Int](repeating: 1, count: 6))
        let tallies = (0..<4).map { _ in Tally(3) }
        DispatchQueue.concurrentPerform(iterations: 4) { caller in
            for _ in 0..<20 { Parallelism.run(3) { tallies[caller].add($0) } }
        }
        #expect(tallies.map(\.counts) == [[Int]](repeating: [20, 20, 20], count: 4))
    }

    @Test("forEach and forEachChunk cover 0..<count once, in contiguous pieces")
    func forEachCovers() {
        let tally = Tally(37)
        Parallelism.forEach(37) { tally.add($0) }
        #expect(tally.counts == [Int](repeating: 1, count: 37))
        let chunks = Tally(37)
        Parallelism.forEachChunk(37) { _, range in for i in range { chunks.add(i) } }
        #expect(chunks.counts == [Int](repeating: 1, count: 37))
    }
}

import Dispatch
import Foundation
#if canImport(Synchronization)
import Synchronization
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How many threads the fast kernels spread their work over.
///
/// Defaults to the number of online cores. `lesson bench` sets it to 1 and 2 in turn;
/// set it once, before running kernels, not from inside one.
public enum Parallelism {
    nonisolated(unsafe) public static var threadCount: Int = max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN)))

    /// Runs `body(i)` for every `i` in `0..<count`, spread over `threadCount` threads in
    /// contiguous chunks; runs inline when there is one thread or one item.
    public static func forEach(_ count: Int, _ body: (Int) -> Void) {
        let threads = min(threadCount, count)
        if threads <= 1 {
            for i in 0..<count { body(i) }
            return
        }
        run(threads) { t in
            let start = count * t / threads
            let end = count * (t + 1) / threads
            for i in start..<end { body(i) }
        }
    }

    /// Runs `body(t, range)` once per thread with the `t`-th of `threadCount`
    /// contiguous ranges covering `0..<count` (empty ranges are skipped).
    public static func forEachChunk(_ count: Int, _ body: (_ thread: Int, _ range: Range<Int>) -> Void) {
        let threads = max(1, min(threadCount, count))
        if threads == 1 {
            if count > 0 { body(0, 0..<count) }
            return
        }
        run(threads) { t in
            let start = count * t / threads
            let end = count * (t + 1) / threads
            if start < end { body(t, start..<end) }
        }
    }

    /// Whether `threads` threads should each take whole items (images, or image and
    /// group) rather than share each item's pieces: when the items split evenly, or there
    /// are at least three per thread (an uneven split of a few big items would leave a
    /// thread idle for a whole item).
    static func takesWholeItems(_ items: Int, threads: Int) -> Bool {
        items % threads == 0 || items >= 3 * threads
    }

    /// Runs `body(t)` for t in 0..<parts at once, one part per thread, and returns when
    /// all are done: the calling thread runs part 0, the pool's threads the others.
    ///
    /// `DispatchQueue.concurrentPerform` wakes its threads from sleep on every call, and
    /// on these machines the second thread starts about 60 microseconds late: on
    /// ResNet-18 at batch 1, 21 parallel layers of 0.1-0.7 ms each lost a tenth of their
    /// time to it (ONNX Runtime's pool spins instead). The pool's threads spin on a
    /// generation counter for a millisecond after each job, so the next layer's job
    /// starts them within a microsecond, then sleep. A call made while the pool is busy
    /// (from inside a job, or from another thread) runs its parts in turn on the calling
    /// thread, as libdispatch runs a nested concurrentPerform.
    public static func run(_ parts: Int, _ body: (Int) -> Void) {
        if parts <= 1 {
            if parts == 1 { body(0) }
            return
        }
        #if canImport(Synchronization)
        if #available(macOS 15.0, *) {
            if SpinningPool.shared.run(parts, body) { return }
            for t in 0..<parts { body(t) }
            return
        }
        #endif
        withoutActuallyEscaping(body) { body in DispatchQueue.concurrentPerform(iterations: parts, execute: body) }
    }
}

#if canImport(Synchronization)
/// The threads behind ``Parallelism/run(_:_:)``: one fewer than the cores, each waiting
/// for the next job by spinning, then (after a millisecond without one) sleeping.
///
/// The parts of a job are claimed, not assigned: the caller and the workers each take the
/// next unclaimed part until none is left, so a worker the system has not scheduled (the
/// cores are shared with other programs) delays nothing; the caller then runs its parts
/// too, and waits only for parts already started.
@available(macOS 15.0, *)
private final class SpinningPool: @unchecked Sendable {
    static let shared = SpinningPool(workers: max(1, ProcessInfo.processInfo.activeProcessorCount - 1))

    let workers: Int
    /// Bumped for each job; a worker that sees a new value claims parts of it.
    private let generation = Atomic<Int>(0)
    /// The current job's generation (high bits) and its next unclaimed part (low 16 bits).
    private let claim = Atomic<Int>(0)
    /// Parts of the current job finished.
    private let done = Atomic<Int>(0)
    private let busy = Atomic<Bool>(false)
    /// The current job (written before `generation` is bumped, read after it is seen).
    private var body: ((Int) -> Void)? = nil
    private var parts = 0
    private let parking = NSCondition()
    private var sleepers = 0

    private init(workers: Int) {
        self.workers = workers
        for index in 1...workers {
            let thread = Thread { [unowned self] in self.work(index) }
            thread.name = "ConvNetCore worker \(index)"
            thread.stackSize = 1 << 22
            thread.start()
        }
    }

    private func work(_ index: Int) {
        var seen = 0
        while true {
            var spins = 0
            var deadline = 0.0
            while generation.load(ordering: .acquiring) == seen {
                spins &+= 1
                if spins & 1023 != 0 { continue }
                let now = Double(DispatchTime.now().uptimeNanoseconds) * 1e-9
                if deadline == 0 { deadline = now + 1e-3; continue }
                if now < deadline { continue }
                parking.lock()
                sleepers += 1
                while generation.load(ordering: .acquiring) == seen { parking.wait() }
                sleepers -= 1
                parking.unlock()
            }
            seen = generation.load(ordering: .acquiring)
            runParts(of: seen)
        }
    }

    /// Claims and runs parts of job `job` until none is left (or another job has begun).
    private func runParts(of job: Int) {
        while true {
            let c = claim.load(ordering: .acquiring)
            let part = c & 0xFFFF
            guard c >> 16 == job && part < parts else { return }
            guard claim.compareExchange(expected: c, desired: c + 1, ordering: .acquiringAndReleasing).exchanged else { continue }
            body!(part)
            done.add(1, ordering: .releasing)
        }
    }

    /// Runs the job, or returns false (running nothing) when the pool is busy or too small.
    func run(_ parts: Int, _ body: (Int) -> Void) -> Bool {
        guard parts - 1 <= workers,
              busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else { return false }
        withoutActuallyEscaping(body) { body in
            self.body = body
            self.parts = parts
            done.store(0, ordering: .relaxed)
            let job = generation.load(ordering: .relaxed) + 1
            claim.store(job << 16, ordering: .releasing)
            generation.store(job, ordering: .releasing)
            parking.lock()
            if sleepers > 0 { parking.broadcast() }
            parking.unlock()
            runParts(of: job)
            while done.load(ordering: .acquiring) < parts {}
            self.body = nil
        }
        busy.store(false, ordering: .releasing)
        return true
    }
}
#endif

import Foundation

// The race every lesson runs: two (or more) kernels that compute the same thing, on one
// real layer of the lesson's network with real data. First they must agree (the largest
// relative difference of every output against the first entrant, the reference), then
// each is timed: the median of several calls, the slow reference fewer times.
//
//     let race = KernelRace.run([
//         RaceEntrant(name: "naive: seven loops", kernel: "Naive.validConvolution", isSlow: true,
//                     forward: { [Naive.validConvolution(x, ...)] },
//                     backward: { let g = Naive.validConvolutionBackward(...); return [g.input, g.weight, g.bias] }),
//         RaceEntrant(name: "fast: direct, SIMD over columns", kernel: "Fast.validConvolution", ...),
//     ], quick: options.quick, flops: 2 * Double(macs))
//     print(race.text)

/// One kernel in a race: what it is called, which function actually runs, and closures
/// that run it on the race's data and return its outputs (compared with the reference's,
/// in order: forward outputs, then backward outputs).
public struct RaceEntrant {
    /// How the lesson names it ("naive: seven loops").
    public var name: String
    /// The kernel that actually runs ("Fast.conv2d: direct, 6 px x 64 ch tiles"), as the
    /// core's router reports it where the router decides.
    public var kernel: String
    /// Timed fewer times (the naive loops).
    public var isSlow: Bool
    public var forward: () -> [[Float]]
    public var backward: (() -> [[Float]])?

    public init(name: String, kernel: String, isSlow: Bool = false,
                forward: @escaping () -> [[Float]], backward: (() -> [[Float]])? = nil) {
        self.name = name
        self.kernel = kernel
        self.isSlow = isSlow
        self.forward = forward
        self.backward = backward
    }
}

/// What a race measured: seconds per call on the whole batch.
public struct RaceResult: Sendable, Encodable {
    public struct Row: Sendable, Encodable {
        public var name: String
        public var kernel: String
        public var forwardSeconds: Double
        public var backwardSeconds: Double?
        public var totalSeconds: Double { forwardSeconds + (backwardSeconds ?? 0) }
        /// Against the first entrant (0 for the first itself).
        public var maxRelativeDifference: Double

        enum CodingKeys: String, CodingKey {
            case name, kernel, forwardMilliseconds = "forward_ms", backwardMilliseconds = "backward_ms"
            case maxRelativeDifference = "max_relative_difference"
        }

        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(name, forKey: .name)
            try c.encode(kernel, forKey: .kernel)
            try c.encode(forwardSeconds * 1e3, forKey: .forwardMilliseconds)
            try c.encodeIfPresent(backwardSeconds.map { $0 * 1e3 }, forKey: .backwardMilliseconds)
            try c.encode(maxRelativeDifference, forKey: .maxRelativeDifference)
        }
    }

    public var rows: [Row]
    /// Floating-point operations of one forward and one backward call (for GFLOP/s), if known.
    public var forwardFlops: Double?
    public var backwardFlops: Double?

    /// How many times faster the second entrant is than the first, forward + backward.
    public var speedup: Double { speedup(of: 1) }
    /// How many times faster entrant `index` is than the first.
    public func speedup(of index: Int) -> Double { rows[0].totalSeconds / rows[index].totalSeconds }
    /// The largest relative difference of any entrant's outputs from the reference's.
    public var maxRelativeDifference: Double { rows.map(\.maxRelativeDifference).max() ?? 0 }

    /// The race as a table: each entrant's name and kernel, forward, backward and total
    /// milliseconds, GFLOP/s where the flops are known, and its difference from the first.
    public var table: ReportTable {
        let hasBackward = rows.contains { $0.backwardSeconds != nil }
        var headers = ["kernel", "what runs", "forward"]
        if hasBackward { headers += ["backward", "total"] }
        if forwardFlops != nil { headers.append("GFLOP/s") }
        headers += ["vs first", "largest difference"]
        let body = rows.enumerated().map { index, row -> [String] in
            var cells = [row.name, row.kernel, Self.milliseconds(row.forwardSeconds)]
            if hasBackward {
                cells += [row.backwardSeconds.map(Self.milliseconds) ?? "-", Self.milliseconds(row.totalSeconds)]
            }
            if let f = forwardFlops {
                let flops = f + (row.backwardSeconds == nil ? 0 : backwardFlops ?? 0)
                cells.append(String(format: "%.1f", flops / row.totalSeconds / 1e9))
            }
            cells.append(index == 0 ? "1x" : String(format: "%.1fx faster", speedup(of: index)))
            cells.append(index == 0 ? "reference" : String(format: "%.1e", row.maxRelativeDifference))
            return cells
        }
        return ReportTable(headers: headers, rows: body)
    }

    /// The table with a caption that says how much faster the second entrant is and how
    /// closely every entrant agrees with the first.
    public var captionedTable: ReportTable {
        var captioned = table
        captioned.caption = String(format: "%@ is %.1fx faster than %@; same numbers: largest relative difference %.1e",
                                   rows[1].name, speedup, rows[0].name, maxRelativeDifference)
        return captioned
    }

    /// The table as console text, with a closing line: speedup and agreement.
    public var text: String {
        table.consoleText + "\n" + String(format: "%@ is %.1fx faster than %@; same numbers: largest relative difference %.1e",
                                          rows[1].name, speedup, rows[0].name, maxRelativeDifference)
    }

    static func milliseconds(_ seconds: Double) -> String {
        String(format: seconds < 0.01 ? "%.3f ms" : "%.2f ms", seconds * 1e3)
    }
}

/// Runs races (see the top of this file).
public enum KernelRace {
    /// Checks that every entrant's outputs agree with the first's, then times each: the
    /// median of `quick ? 3 : 7` calls (`quick ? 1 : 3` for a slow entrant), each call
    /// repeated until it lasts a few milliseconds for the fast ones. `flops` are the
    /// floating-point operations of one forward (and one backward) call, for GFLOP/s.
    public static func run(_ entrants: [RaceEntrant], quick: Bool,
                           forwardFlops: Double? = nil, backwardFlops: Double? = nil) -> RaceResult {
        precondition(entrants.count >= 2, "KernelRace: a race needs at least two entrants")
        func outputs(_ e: RaceEntrant) -> [[Float]] { e.forward() + (e.backward?() ?? []) }
        let reference = outputs(entrants[0])
        var rows: [RaceResult.Row] = []
        for entrant in entrants {
            let result = rows.isEmpty ? reference : outputs(entrant)
            precondition(result.count == reference.count, "KernelRace: \(entrant.name) returns \(result.count) outputs, the reference \(reference.count)")
            let difference = zip(result, reference).map { relativeError($0, $1) }.max() ?? 0
            let samples = entrant.isSlow ? (quick ? 1 : 3) : (quick ? 3 : 7)
            let target = entrant.isSlow ? 0 : (quick ? 0.02 : 0.1)
            let forward = Stopwatch.medianSeconds(samples: samples, target: target) { _ = entrant.forward() }
            let backward = entrant.backward.map { body in Stopwatch.medianSeconds(samples: samples, target: target) { _ = body() } }
            rows.append(RaceResult.Row(name: entrant.name, kernel: entrant.kernel, forwardSeconds: forward,
                                       backwardSeconds: backward, maxRelativeDifference: difference))
        }
        return RaceResult(rows: rows, forwardFlops: forwardFlops, backwardFlops: backwardFlops)
    }
}

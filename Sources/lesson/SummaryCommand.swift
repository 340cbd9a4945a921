import ConvNetCore
import Foundation

enum SummaryCommand {
    static let help = """
    USAGE: lesson summary NAME [--batch N] [--depth D] [--json]
           lesson summary --list

    The layer table of a network at its published input size: each layer's output shape,
    parameters and multiply-accumulates (MACs of convolutions and linear layers, the
    convention of the ResNet paper and torchvision), then the totals beside the published
    figures (Fixtures/torchvision-counts.json). Counted from shapes alone: no weights are
    allocated, so even VGG-16 and ResNet-152 take milliseconds.

    OPTIONS:
      --batch N     batch size of the input (default 1; MACs scale with it)
      --depth D     merge layers deeper than D into one row (1: one row per stage)
      --json        print only {"parameters": P, "macs": M}
      --time        also build the network with seeded He weights and time a forward
                    pass (eval mode, fast kernels) on a random input of that size
      --list        every NAME, with one line about it
      -h, --help    show this help
    """

    static func run(_ words: [String]) throws -> Int32 {
        var args = try Arguments(words, command: "summary", valueOptions: ["batch", "depth"])
        if args.flag("help") { print(help); return 0 }
        let json = args.flag("json")
        let list = args.flag("list")
        let time = args.flag("time")
        let batch = try args.intOption("batch", default: 1, range: 1...4096)
        let depth = try args.option("depth").map { text -> Int in
            guard let d = Int(text), d >= 0 else { throw CommandError.usage("lesson summary: --depth expects a non-negative integer, got '\(text)'") }
            return d
        }
        try args.finish(positionals: list ? 0 : 1)
        if list {
            for name in ModelZoo.names { print(try ModelZoo.describe(name)) }
            return 0
        }
        guard let name = args.positionals.first else {
            throw CommandError.usage("lesson summary: name a network (lesson summary --list shows them)")
        }
        let summary: ModelSummary
        do { summary = try ModelZoo.summary(name, batch: batch) } catch {
            throw CommandError.usage("lesson summary: \(error)")      // the only error: an unknown name
        }
        if json {
            print(summary.json)
            return 0
        }
        print(try ModelZoo.describe(name))
        print("")
        print(summary.table(depth: depth))
        if let published = PublishedCounts.lookup(name, fixtures: URL(fileURLWithPath: "Fixtures")),
           case let (macs, false) = published.macs.multipliedReportingOverflow(by: batch) {
            let same = published.parameters == summary.parameters && macs == summary.macs
            print("")
            print("published (torchvision-counts.json): \(grouped(published.parameters)) parameters, \(grouped(macs)) MACs"
                  + (same ? "  (both match)" : "  (MISMATCH)"))
        }
        if time { try timeForward(name, summary: summary) }
        return 0
    }

    /// Builds the network with seeded weights and times a forward pass on a random input.
    static func timeForward(_ name: String, summary: ModelSummary) throws {
        let model = try ModelZoo.build(name)
        model.eval()
        if let problem = InputLimits.networkProblem(model, input: summary.inputShape) {
            throw CommandError.usage("lesson summary --time: \(problem) (try a smaller --batch)")
        }
        model.initialize(seed: 1)
        var g = SeededGenerator(seed: 2)
        let x = Tensor.randomNormal(summary.inputShape, using: &g)
        var logits = Tensor.zeros([0])
        let seconds = Stopwatch.medianSeconds(samples: 3, target: 0.05) { logits = model(x) }
        let finite = logits.data.allSatisfy(\.isFinite)
        print("")
        print("forward pass (eval, fast kernels, \(Parallelism.threadCount) threads): \(format(seconds * 1e3, 1)) ms for input \(summary.inputShape), "
              + "\(format(2 * Double(summary.macs) / seconds / 1e9, 1)) GFLOP/s; logits \(logits.shape)\(finite ? "" : " (NOT FINITE)")")
    }
}

/// 61706 -> "61,706".
func grouped(_ n: Int) -> String { ModelSummary.grouped(n) }

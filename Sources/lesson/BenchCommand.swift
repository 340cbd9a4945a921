import ConvNetCore
import Foundation

/// `lesson bench`: times the cases of cases.json with the fast kernels (and, where it
/// finishes in reasonable time, the naive ones), beside this machine's measured FP32 peak.
enum BenchCommand {
    static let help = """
    USAGE: lesson bench [--cases FILE] [--only NAME,...] [--threads 1,2] [--batches 1,8]
                        [--naive-limit MACS] [--no-naive] [--direct] [--no-small] [--no-subsample] [--samples N] [--json]
                        [--compare FILE]
           lesson bench --profile NAME [--threads 1,2] [--samples N] [--json]

    Times every case of cases.json (GEMMs, convolutions, LRN, max pool; by the names
    peers.py uses) at every batch and thread count it lists. Prints, per row, the fast
    kernel's median time, GFLOP/s and fraction of this machine's FP32 peak at that
    thread count (measured first with a SIMD FMA loop at the widest vectors the CPU
    has), and the naive kernel's time and the speedup (naive runs once, at batch 1 and
    one thread, and only below --naive-limit multiply-accumulates). As the peers run
    them: a convolution's forward row packs its weights once beforehand (ONNX Runtime
    reorders its weights when the session is created), its <case>_dx and <case>_dw rows
    (input and weight gradients) pack what they need on every call, as training does;
    resnet18 runs model.infer (batch norm folded; its 3x3 stride-1 convolutions by
    Winograd's F(2x2, 3x3) unless --direct); the training row is a full SGD step (its
    3x3 stride-1 convolutions of 16-32 channels on 16- and 32-wide maps, and such a case's
    _dx and _dw rows, by Winograd with tiles in the lanes unless --direct).
    Build in release mode: swift run -c release lesson bench

    OPTIONS:
      --cases FILE       cases file (default Fixtures/bench/cases.json)
      --only NAMES       comma-separated case names to run (default: all)
      --threads LIST     thread counts (default: the file's, e.g. 1,2)
      --batches LIST     batch sizes for conv/LRN/pool/network cases (default: the file's)
      --naive-limit N    skip the naive kernel above N MACs (default 1.2e9)
      --no-naive         never run the naive kernels
      --direct           no Winograd: resnet18's convolutions and the training steps'
                         3x3s (16-32 channels on 16- and 32-wide maps) on the direct kernels
      --no-small         leave out the small-map 3x3 kernels (Convolution+FastSmall.swift)
      --no-subsample     run strided 1x1 convolutions on the general kernels, not as
                         subsample-then-1x1 (Convolution+FastSubsampled.swift)
      --samples N        timed samples per row, median reported (default 7)
      --json             print one JSON object: {"peak_gflops": {...}, "results": [...]}
      --compare FILE     peers.py's JSON: add the peer's figure and our ratio to each row
      --profile NAME     split one training case's step by kind of operation (conv forward,
                         dx, dW, batch norm, elementwise, pooling, loss, optimizer, and the
                         framework's overhead: the rest), medians of 5 x --samples steps
      -h, --help         show this help
    """

    struct Row {
        var name: String
        var kind: String
        var batch: Int
        var threads: Int
        var seconds: Double
        var flops: Double = 0            // 2 per multiply-accumulate
        var elements: Double = 0         // for LRN and pooling
        var images: Double = 0           // for networks and training
        var naiveSeconds: Double?
        var note: String?

        var gflops: Double? { flops > 0 ? flops / seconds / 1e9 : nil }
    }

    static func run(_ words: [String]) throws -> Int32 {
        var args = try Arguments(words, command: "bench",
                                 valueOptions: ["cases", "only", "threads", "batches", "naive-limit", "samples", "compare", "profile"])
        if args.flag("help") { print(help); return 0 }
        let casesPath = args.option("cases") ?? "Fixtures/bench/cases.json"
        let only = args.option("only").map { Set($0.split(separator: ",").map(String.init)) }
        let threadList = try args.intListOption("threads", maximum: BenchCases.maximumThreads)
        let batchList = try args.intListOption("batches", maximum: BenchCases.maximumBatch)
        let naiveLimit = try args.doubleOption("naive-limit", default: 1.2e9)
        let noNaive = args.flag("no-naive")
        if args.flag("direct") { Fast.usesWinograd = false; Fast.trainsByWinograd = false }
        if args.flag("no-small") { Fast.usesSmallConvolution = false }
        if args.flag("no-subsample") { Fast.usesSubsampledPointwise = false }
        let samples = try args.intOption("samples", default: 7)
        let json = args.flag("json")
        let comparePath = args.option("compare")
        let profileName = args.option("profile")
        try args.finish()
        guard (1...1000).contains(samples) else { throw CommandError.usage("lesson bench: --samples must be in 1...1000, got \(samples)") }
        if let extra = args.positionals.first { throw CommandError.usage("lesson bench: unexpected argument '\(extra)' (see lesson bench --help)") }
        guard !naiveLimit.isNaN else { throw CommandError.usage("lesson bench: --naive-limit expects a number, got nan") }

        let cases: BenchCases
        do { cases = try BenchCases(contentsOf: URL(fileURLWithPath: casesPath)) } catch {
            throw CommandError(description: "lesson bench: \(error)")
        }
        if let only {
            let unknown = only.subtracting(cases.names)
            if let name = unknown.sorted().first {
                throw CommandError.usage("lesson bench: unknown case '\(name)'" + NearestName.suggestion(for: name, among: cases.names)
                                         + " (cases: \(cases.names.joined(separator: ", ")))")
            }
        }
        let peers = try comparePath.map(PeerResults.init(path:))
        let threads = threadList ?? cases.threads
        if let profileName {
            guard let c = cases.training.first(where: { $0.name == profileName }) else {
                throw CommandError.usage("lesson bench: --profile takes a training case (\(cases.training.map(\.name).joined(separator: ", ")))")
            }
            let savedThreads = Parallelism.threadCount
            defer { Parallelism.threadCount = savedThreads }
            let profiles: [StepProfile]
            do { profiles = try KernelTimings(samples: samples, naiveLimit: 0).profile(c, threads: threads, steps: 5 * samples) } catch {
                throw CommandError(description: "lesson bench: \(error)")
            }
            printProfiles(profiles, json: json)
            return 0
        }
        let batches = batchList ?? cases.batches
        if batchList != nil {
            do { try cases.check(batches: batches) } catch { throw CommandError(description: "lesson bench: --batches: \(error)") }
        }
        func wanted(_ name: String) -> Bool { only?.contains(name) ?? true }

        let progress = Console(showsProgress: !json)
        var peaks: [Int: Double] = [:]
        for t in threads.sorted() {
            progress.progress("measuring FP32 FMA peak on \(t) thread(s)...")
            peaks[t] = FMAPeak.measure(threads: t)
        }
        progress.clearProgress()
        if !json {
            print("Machine: \(machineName()), \(ProcessInfo.processInfo.activeProcessorCount) cores; vectors: \(FMAPeak.vectorDescription)")
            print("Peak FP32 (FMA loop): " + threads.sorted().map { "\($0) thread(s) \(format(peaks[$0]!, 1)) GFLOP/s" }.joined(separator: ", "))
            print("")
        }

        var rows: [Row] = []
        let savedThreads = Parallelism.threadCount
        defer { Parallelism.threadCount = savedThreads }
        let kernels = KernelTimings(samples: samples, naiveLimit: noNaive ? 0 : naiveLimit)
        for c in cases.gemm where wanted(c.name) {
            progress.progress("timing \(c.name)...")
            rows += kernels.gemm(c, threads: threads)
        }
        for c in cases.conv where wanted(c.name) {
            progress.progress("timing \(c.name)...")
            rows += kernels.conv(c, batches: batches, threads: threads)
        }
        for c in cases.lrn where wanted(c.name) {
            progress.progress("timing \(c.name)...")
            rows += kernels.lrn(c, batches: batches, threads: threads)
        }
        for c in cases.maxPool where wanted(c.name) {
            progress.progress("timing \(c.name)...")
            rows += kernels.maxPool(c, batches: batches, threads: threads)
        }
        do {
            for c in cases.networks where wanted(c.name) {
                progress.progress("timing \(c.name) inference...")
                rows += try kernels.network(c, batches: batches, threads: threads)
            }
            for c in cases.training where wanted(c.name) {
                progress.progress("timing \(c.name)...")
                rows += try kernels.training(c, threads: threads)
            }
        } catch {
            throw CommandError(description: "lesson bench: \(error)")
        }
        progress.clearProgress()

        if json {
            print(jsonLine(jsonObject(rows: rows, peaks: peaks, peers: peers)))
        } else {
            printTable(rows: rows, peaks: peaks, peers: peers)
        }
        return 0
    }

    // MARK: Output

    static func printProfiles(_ profiles: [StepProfile], json: Bool) {
        if json {
            print(jsonLine(["profiles": profiles.map { p in
                ["case": p.name, "threads": p.threads, "step_ms": p.step * 1e3,
                 "kinds": p.lines.map { ["kind": $0.kind, "calls": $0.calls, "ms": $0.seconds * 1e3] }] as [String: Any]
            }]))
            return
        }
        for p in profiles {
            print("\(p.name), \(p.threads) thread(s): one step \(format(p.step * 1e3, 2)) ms (median)")
            var table = [["kind", "calls", "ms", "%"]]
            for line in p.lines {
                table.append([line.kind, line.calls > 0 ? "\(line.calls)" : "-", format(line.seconds * 1e3, 2),
                              format(100 * line.seconds / p.step, 1)])
            }
            print(renderTable(table))
            print("")
        }
        print("Medians over the steps, each kind on its own (they need not add up to the step's median exactly).")
    }

    static func jsonObject(rows: [Row], peaks: [Int: Double], peers: PeerResults?) -> [String: Any] {
        var results: [[String: Any]] = []
        for row in rows where row.note == nil || row.seconds.isFinite {
            var o: [String: Any] = ["case": row.name, "kind": row.kind, "batch": row.batch, "threads": row.threads,
                                    "ms": row.seconds * 1e3]
            if let g = row.gflops {
                o["gflops"] = g
                if let peak = peaks[row.threads] { o["peak_fraction"] = g / peak }
            }
            if row.elements > 0 { o["elements_per_s"] = row.elements / row.seconds }
            if row.images > 0 { o["images_per_s"] = row.images / row.seconds }
            if row.kind == "network" && Fast.usesWinograd { o["note"] = winogradNote }
            if let naive = row.naiveSeconds {
                o["naive_ms"] = naive * 1e3
                o["speedup"] = naive / row.seconds
            }
            if let peer = peers?.match(row) {
                o["peer"] = peer.peer
                o["peer_ms"] = peer.ms
                o["ratio_to_peer"] = peer.ms / (row.seconds * 1e3)
            }
            results.append(o)
        }
        let skipped = rows.filter { !$0.seconds.isFinite }.map { ["case": $0.name, "reason": $0.note ?? ""] }
        var object: [String: Any] = [
            "peak_gflops": Dictionary(uniqueKeysWithValues: peaks.map { (String($0.key), $0.value) }),
            "machine": machineName(),
            "vectors": FMAPeak.vectorDescription,
            "results": results,
        ]
        if !skipped.isEmpty { object["skipped"] = skipped }
        return object
    }

    static func printTable(rows: [Row], peaks: [Int: Double], peers: PeerResults?) {
        var header = ["case", "batch", "thr", "fast ms", "GFLOP/s", "% peak", "throughput", "naive ms", "speedup"]
        if peers != nil { header += ["peer ms", "vs peer"] }
        var table: [[String]] = [header]
        var notes: [String] = []
        for row in rows {
            guard row.seconds.isFinite else {
                notes.append("\(row.name): \(row.note ?? "skipped")")
                continue
            }
            var line = [row.name, "\(row.batch)", "\(row.threads)", format(row.seconds * 1e3, 3)]
            if let g = row.gflops {
                line += [format(g, 1), peaks[row.threads].map { format(100 * g / $0, 0) + "%" } ?? "-"]
            } else {
                line += ["-", "-"]
            }
            if row.images > 0 {
                line.append(format(row.images / row.seconds, 1) + " img/s")
            } else if row.elements > 0 {
                line.append(format(row.elements / row.seconds / 1e9, 2) + " Gelem/s")
            } else {
                line.append("-")
            }
            if let naive = row.naiveSeconds {
                line += [format(naive * 1e3, 1), format(naive / row.seconds, 1) + "x"]
            } else {
                line += ["-", "-"]
            }
            if let peers {
                if let peer = peers.match(row) {
                    line += [format(peer.ms, 3), format(peer.ms / (row.seconds * 1e3), 2) + "x"]
                } else {
                    line += ["-", "-"]
                }
            }
            table.append(line)
        }
        print(renderTable(table))
        if let peers { print("\npeers: \(peers.peerNames.joined(separator: "; ")); \"vs peer\" = peer time / our time (above 1 = we are faster)") }
        if rows.contains(where: { $0.naiveSeconds == nil && $0.seconds.isFinite }) {
            print("naive: timed once at batch 1 on one thread, below the --naive-limit of MACs; '-' where skipped")
        }
        if Fast.usesWinograd && rows.contains(where: { $0.kind == "network" && $0.seconds.isFinite }) {
            print("resnet18: \(winogradNote)")
        }
        for note in notes { print(note) }
    }

    /// Why a network row's "% peak" can pass 100%.
    static let winogradNote = "GFLOP/s counts a direct convolution's multiply-adds; its 3x3 stride-1 convolutions "
        + "run Winograd's F(2x2, 3x3), which does 4/9 of them where it runs (--direct times the direct kernels alone)"

    static func machineName() -> String {
        if let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
           let line = info.split(separator: "\n").first(where: { $0.hasPrefix("model name") }),
           let colon = line.firstIndex(of: ":") {
            return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return ProcessInfo.processInfo.hostName
    }
}

/// Right-aligned columns (the first left-aligned), two spaces apart.
func renderTable(_ rows: [[String]]) -> String {
    guard let first = rows.first else { return "" }
    var widths = [Int](repeating: 0, count: first.count)
    for row in rows { for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) } }
    return rows.map { row in
        row.enumerated().map { i, cell in
            let pad = String(repeating: " ", count: max(0, widths[i] - cell.count))
            return i == 0 ? cell + pad : pad + cell
        }.joined(separator: "  ")
    }.joined(separator: "\n")
}

func format(_ value: Double, _ decimals: Int) -> String { String(format: "%.\(decimals)f", value) }

/// The rows of peers.py's JSON, looked up by case, batch and thread count.
struct PeerResults {
    struct Entry { var ms: Double; var peer: String }
    var entries: [String: Entry] = [:]
    var peerNames: [String] = []

    init(path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CommandError(description: "lesson bench: \(path): file does not exist or cannot be read")
        }
        guard let root = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any],
              let results = root["results"] as? [[String: Any]] else {
            throw CommandError(description: "lesson bench: \(path): not peers.py output (expected a JSON object with a \"results\" list)")
        }
        for (i, r) in results.enumerated() {
            guard let name = r["case"] as? String, let ms = JSONValue.number(r["ms"]), ms > 0,
                  let threads = JSONValue.integer(r["threads"]), let batch = r["batch"] == nil ? 1 : JSONValue.integer(r["batch"]) else {
                throw CommandError(description: "lesson bench: \(path): result \(i) lacks a case name, an integer threads (and batch) or a positive ms")
            }
            let peer = r["peer"] as? String ?? "peer"
            entries["\(name)|\(batch)|\(threads)"] = Entry(ms: ms, peer: peer)
            if !peerNames.contains(peer) { peerNames.append(peer) }
        }
    }

    func match(_ row: BenchCommand.Row) -> Entry? { entries["\(row.name)|\(row.batch)|\(row.threads)"] }
}

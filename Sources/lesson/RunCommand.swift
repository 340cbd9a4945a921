import ConvNetCore
import Foundation
import LessonCatalog

enum ListCommand {
    static let help = """
    USAGE: lesson list

    Every lesson, one line each: its name (for `lesson run NAME`) and what it shows.
    """

    static func run(_ words: [String]) throws -> Int32 {
        var args = try Arguments(words, command: "list", valueOptions: [])
        if args.flag("help") { print(help); return 0 }
        try args.finish()
        if let extra = args.positionals.first { throw CommandError.usage("lesson list: unexpected argument '\(extra)'") }
        let width = lessonCatalog.map { $0.name.count }.max() ?? 0
        for lesson in lessonCatalog {
            print(lesson.name.padding(toLength: width + 2, withPad: " ", startingAt: 0) + lesson.summary)
        }
        return 0
    }
}

enum RunCommand {
    static let help = """
    USAGE: lesson run NAME [--quick] [--seed N] [--epochs N] [--out DIR] [--json]
                           [--weights FILE --eval] [--fixtures DIR] [lesson options]

    Runs one lesson on real data: it trains, measures and writes its plots and images
    under --out, saying where. `lesson list` shows the names; `lesson run NAME --help`
    shows a lesson's own options and the keys of its --json results.

    OPTIONS:
      --quick          the same run in seconds (fewer examples and epochs)
      --seed N         seed of every random choice (default 1); the same seed repeats a run
      --epochs N       override the lesson's number of epochs
      --out DIR        output directory (default lesson-output/NAME)
      --json           end with one JSON object of what the run measured
      --weights FILE   safetensors weights to load (with --eval: evaluate them and stop)
      --eval           evaluate only (needs --weights)
      --fixtures DIR   the Fixtures directory (default ./Fixtures, or beside the package)
      --threads N      threads for the fast kernels (default: every core)
      --resume         continue from the checkpoints a stopped run left under --out (Ctrl-C
                       stops a run at the end of its current step, keeping the last epoch's)
    """

    /// The options every lesson takes that need a value.
    static let commonValueOptions: Set<String> = ["seed", "epochs", "out", "weights", "fixtures", "threads"]

    static func run(_ words: [String]) throws -> Int32 {
        // First the lesson's name, then the words again knowing which of its options take values.
        let first = try Arguments(words, command: "run", valueOptions: commonValueOptions, passUnknown: true)
        guard let name = first.positionals.first else {
            if words.contains("--help") || words.contains("-h") { print(help); return 0 }
            throw CommandError.usage("lesson run: name a lesson (lesson list shows them)")
        }
        guard let lesson = lessonCatalog.first(where: { $0.name == name }) else {
            let names = lessonCatalog.map { $0.name }.joined(separator: ", ")
            let hint = NearestName.suggestion(for: name, among: lessonCatalog.map { $0.name })
            throw CommandError.usage("lesson run: unknown lesson '\(name)'\(hint) (lessons: \(names.isEmpty ? "none yet" : names))")
        }
        let lessonValueOptions = lesson.options.filter { if case .flag = $0.kind { false } else { true } }.map(\.name)
        var args = try Arguments(words, command: "run", valueOptions: commonValueOptions.union(lessonValueOptions))
        if args.flag("help") {
            print(help)
            print("\n\(lesson.name): \(lesson.summary)\n\n\(lesson.help)")
            return 0
        }
        let fixtures = try locateFixtures(args.option("fixtures"))
        let out = URL(fileURLWithPath: args.option("out") ?? "lesson-output/\(name)")
        let quick = args.flag("quick"), json = args.flag("json"), evaluateOnly = args.flag("eval"), resume = args.flag("resume")
        let seed = try args.intOption("seed", default: 1)
        guard seed >= 0 else { throw CommandError.usage("lesson run: --seed must be non-negative") }
        var epochs: Int?
        if let text = args.option("epochs") {
            guard let e = Int(text), e > 0 else { throw CommandError.usage("lesson run: --epochs expects a positive integer, got '\(text)'") }
            epochs = e
        }
        if let threads = args.option("threads") {
            guard let t = Int(threads), t > 0 else { throw CommandError.usage("lesson run: --threads expects a positive integer, got '\(threads)'") }
            Parallelism.threadCount = t
        }
        var weights: URL?
        if let path = args.option("weights") {
            guard FileManager.default.fileExists(atPath: path) else {
                throw CommandError(description: "lesson run: \(path): file does not exist")
            }
            weights = URL(fileURLWithPath: path)
        }
        if evaluateOnly && weights == nil {
            throw CommandError.usage("lesson run: --eval needs --weights FILE")
        }
        var options: LessonOptions
        do {
            options = try LessonOptions(outputDirectory: out, fixtures: fixtures, declared: lesson.options,
                                        given: args.remainingOptions())
        } catch let error as LessonError {
            throw CommandError.usage("lesson run \(name): \(error.description)")
        }
        if args.positionals.count > 1 { throw CommandError.usage("lesson run: unexpected argument '\(args.positionals[1])'") }
        options.quick = quick
        options.json = json
        options.evaluateOnly = evaluateOnly
        options.resume = resume
        options.seed = UInt64(seed)
        options.epochs = epochs
        options.weights = weights
        options.commandLine = (["lesson", "run"] + words).joined(separator: " ")
        let console = Console(showsProgress: true)
        Interruption.install()
        do {
            let results = try lesson.runForJSON(options, console: console)
            console.clearProgress()
            if options.json { print(results) }
        } catch let error as LessonError {
            console.clearProgress()
            throw CommandError(description: "lesson run \(name): \(error.description)", status: Interruption.isRequested ? 130 : 1)
        } catch let error as FileFormatError {
            console.clearProgress()
            throw CommandError(description: "lesson run \(name): \(error.description)")
        }
        return 0
    }

    /// `--fixtures DIR`, else `./Fixtures`, else the `Fixtures` of the package this
    /// executable was built in (`.build/release/lesson` -> `../../Fixtures`).
    static func locateFixtures(_ given: String?) throws -> URL {
        let fm = FileManager.default
        if let given {
            guard fm.fileExists(atPath: given) else { throw CommandError(description: "lesson run: \(given): no such directory") }
            return URL(fileURLWithPath: given)
        }
        if fm.fileExists(atPath: "Fixtures/mnist-5k") { return URL(fileURLWithPath: "Fixtures") }
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<5 {
            let candidate = dir.appendingPathComponent("Fixtures")
            if fm.fileExists(atPath: candidate.appendingPathComponent("mnist-5k").path) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        throw CommandError(description: "lesson run: cannot find the Fixtures directory; run from the package root or pass --fixtures DIR")
    }
}

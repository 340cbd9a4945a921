import ConvNetCore
import Foundation
import LessonCatalog
import Testing
import TestSupport

/// The lessons as the `lesson` tool sees them: every folder registered once, every
/// lesson's `--help` true to what its run prints.
@Suite("The lesson catalog")
struct LessonCatalogTests {
    static let packageRoot = FixtureLocator.root.deletingLastPathComponent()

    static var lessonFolders: [String] {
        let lessons = packageRoot.appendingPathComponent("Lessons")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: lessons.path)) ?? []
        return names.filter { name in
            var isDirectory: ObjCBool = false
            return FileManager.default.fileExists(atPath: lessons.appendingPathComponent(name).path, isDirectory: &isDirectory)
                && isDirectory.boolValue
        }.sorted()
    }

    @Test("every Lessons/ folder is in `lesson list` once, with a README and a test target")
    func everyFolderIsRegistered() {
        let folders = Self.lessonFolders
        #expect(!folders.isEmpty)
        #expect(Set(lessonCatalog.map { $0.folder }) == Set(folders), "Package.swift's `lessons` and LessonCatalog.swift must name every Lessons/ folder")
        #expect(Set(lessonCatalog.map { $0.name }).count == lessonCatalog.count, "two lessons share a name")
        for folder in folders {
            let readme = Self.packageRoot.appendingPathComponent("Lessons/\(folder)/README.md")
            let tests = Self.packageRoot.appendingPathComponent("Tests/\(folder)LessonTests")
            #expect(FileManager.default.fileExists(atPath: readme.path), "Lessons/\(folder) has no README.md")
            #expect(FileManager.default.fileExists(atPath: tests.path), "Lessons/\(folder) has no Tests/\(folder)LessonTests")
        }
    }

    @Test("every lesson's options have unique names and defaults they accept")
    func optionsAreWellFormed() throws {
        for lesson in lessonCatalog {
            let names = lesson.options.map(\.name)
            #expect(Set(names).count == names.count, "\(lesson.name): an option is declared twice")
            let common = ["quick", "seed", "epochs", "out", "json", "weights", "eval", "fixtures", "threads", "resume", "help"]
            #expect(Set(names).isDisjoint(with: common), "\(lesson.name): an option shadows one every lesson takes")
            // The defaults, given explicitly, must be accepted.
            var given: [String: String] = [:]
            for option in lesson.options { if case .flag = option.kind {} else { given[option.name] = option.defaultValue } }
            let url = URL(fileURLWithPath: "/tmp")
            #expect(throws: Never.self) { _ = try LessonOptions(outputDirectory: url, fixtures: url, declared: lesson.options, given: given) }
            for option in lesson.options { #expect(lesson.help.contains(option.usage)) }
        }
    }

    /// The keys of a run's results that measure time, or the allocator's bytes in use (they
    /// differ between two runs).
    static func measuresTime(_ key: String) -> Bool {
        ["_ms", "seconds", "speedup", "per_second", "gflops", "output_directory", "faster", "time", "_x_", "_over_", "heap_bytes"]
            .contains { key.contains($0) } || key.hasSuffix("_x") || key.hasPrefix("ms_")
    }

    /// `--quick --json` of `lesson` into `out`: the results and the bytes of every
    /// safetensors file it wrote.
    static func quickRun(_ lesson: any Lesson.Type, out: URL) throws -> (results: [String: Any], weights: [String: Data]) {
        var options = try LessonOptions(outputDirectory: out, fixtures: FixtureLocator.root, declared: lesson.options, given: [:])
        options.quick = true
        options.json = true
        let json = try lesson.runForJSON(options, console: Console(showsProgress: false))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        var weights: [String: Data] = [:]
        for case let path as String in FileManager.default.enumerator(atPath: out.path) ?? FileManager.DirectoryEnumerator()
            where path.hasSuffix(".safetensors") && !path.contains("checkpoint") {
            weights[path] = FileManager.default.contents(atPath: out.appendingPathComponent(path).path)
        }
        return (object, weights)
    }

    /// `value` without the entries that measure time, at any depth, as sorted-key JSON.
    static func timeless(_ value: Any) -> String {
        func strip(_ v: Any) -> Any {
            if let d = v as? [String: Any] { return d.filter { !measuresTime($0.key) }.mapValues(strip) }
            if let a = v as? [Any] { return a.map(strip) }
            return v
        }
        let stripped = strip(value)
        guard JSONSerialization.isValidJSONObject([stripped]),
              let data = try? JSONSerialization.data(withJSONObject: [stripped], options: [.sortedKeys]) else { return "\(stripped)" }
        return String(decoding: data, as: UTF8.self)
    }

    // Serialized: a lesson repeats its numbers exactly when it has the process's threads to
    // itself (two lessons at once share the thread pool, which changes how some sums split).
    @Test("the keys `--help` lists are the keys a `--quick --json` run prints, and the same seed repeats the run, for every lesson",
          .serialized, arguments: lessonCatalog.map { $0.name })
    func helpListsTheJSONKeys(_ name: String) throws {
        let lesson = try #require(lessonCatalog.first { $0.name == name })
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("lesson-keys-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        // Both runs with the thread count steady (tests that change it wait).
        let (first, second) = try withThreadCountSteady {
            (try Self.quickRun(lesson, out: root.appendingPathComponent("first/\(name)")),
             try Self.quickRun(lesson, out: root.appendingPathComponent("second/\(name)")))
        }
        let listed = Set(lesson.resultKeys.map(\.name))
        #expect(Set(first.results.keys) == listed,
                "printed but not listed: \(Set(first.results.keys).subtracting(listed).sorted()); listed but not printed: \(listed.subtracting(first.results.keys).sorted())")
        for key in listed { #expect(lesson.help.contains(key)) }
        #expect(FileManager.default.fileExists(atPath: root.appendingPathComponent("first/\(name)/index.html").path))

        // The same seed on the same threads: the same numbers (times aside) and the same weights, bit for bit.
        for (key, value) in first.results where !Self.measuresTime(key) {
            let (before, after) = (Self.timeless(value), second.results[key].map(Self.timeless) ?? "missing")
            #expect(before == after, "\(name): --json key \(key) was \(before), then \(after)")
        }
        #expect(first.weights.keys.sorted() == second.weights.keys.sorted())
        for (file, data) in first.weights { #expect(second.weights[file] == data, "\(name): \(file) differs between two runs of one seed") }
    }

    @Test("every lesson with exercises has 2-4, and the tool carries their reference solutions (start then reset gives the file back)")
    func exercises() throws {
        for lesson in lessonCatalog {
            let url = Self.packageRoot.appendingPathComponent("Lessons/\(lesson.folder)/Exercises.swift")
            // Lessons written before their exercises (listed in README.md) have none yet.
            guard FileManager.default.fileExists(atPath: url.path) else { continue }
            let file = try ExerciseFile(text: String(contentsOf: url, encoding: .utf8))
            #expect((2...4).contains(file.entries.count), "\(lesson.folder): \(file.entries.count) exercises")
            #expect(file.entries.allSatisfy { !$0.hint.isEmpty }, "\(lesson.folder): an exercise has no hint")
            let carried = try ExerciseFile(text: try #require(exerciseReferences[lesson.folder], "\(lesson.folder): the tool carries no reference"))
            let started = try ExerciseFile(text: file.started)
            #expect(started.entries.map(\.name) == file.entries.map(\.name) && started.entries.allSatisfy(\.isStub))
            #expect(started.reset(to: carried) == carried.text, "\(lesson.folder): --start then --reset does not give the reference back")
            if !file.entries.contains(where: \.isStub) {       // a learner's started file is not the reference, by design
                #expect(file.text == carried.text,
                        "\(lesson.folder)/Exercises.swift changed: run `lesson exercise --write-references` to refresh the tool's copy")
            }
        }
    }

    @Test("unbalanced or repeated exercise markers are refused with a one-line error")
    func badMarkers() {
        let bad = ["// EXERCISE a BEGIN (stub: return [])\nbody\n",
                   "// EXERCISE a END\n",
                   "// EXERCISE a BEGIN\n// EXERCISE b END\n",
                   "// EXERCISE a BEGIN\nx\n// EXERCISE a END\n// EXERCISE a BEGIN\ny\n// EXERCISE a END\n"]
        for text in bad {
            let error = #expect(throws: LessonError.self) { _ = try ExerciseFile(text: text) }
            #expect(error?.description.contains("\n") == false)
        }
        let good = try? ExerciseFile(text: "/// Hint: add.\nfunc f() -> Int {\n    // EXERCISE f BEGIN (stub: return 0)\n    return 1 + 1\n    // EXERCISE f END\n}\n")
        #expect(good?.entries.first?.hint == "Hint: add." && good?.entries.first?.stubReturn == "return 0")
        #expect(good?.started.contains("    Exercise.notWritten(\"f\")\n    return 0") == true)
    }
}

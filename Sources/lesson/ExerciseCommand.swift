import ConvNetCore
import Foundation
import LessonCatalog

enum ExerciseCommand {
    static let help = """
    USAGE: lesson exercise NAME [--start | --reset]

    A lesson's exercises: functions in Lessons/<Lesson>/Exercises.swift that you write and
    `swift test` grades. Without an option, lists them with their hints and state.

    OPTIONS:
      --start     replace each exercise's body with a stub that compiles and fails its
                  grader with "not written yet" (the signature and the hint stay)
      --reset     put the reference solutions back (from the copy this tool carries, so it
                  works outside git too)
      --write-references
                  (maintainers) refresh the tool's copy from the Exercises.swift files

    EXAMPLE:
      swift run -c release lesson exercise lenet --start
      swift test --filter LeNetExercises        # red: "not written yet"
      (write convolutionForward in Lessons/LeNet/Exercises.swift)
      swift test --filter LeNetExercises        # green when it is right
    """

    static func run(_ words: [String]) throws -> Int32 {
        var args = try Arguments(words, command: "exercise", valueOptions: [])
        if args.flag("help") { print(help); return 0 }
        let start = args.flag("start"), reset = args.flag("reset"), writeReferences = args.flag("write-references")
        try args.finish()
        let root = try packageRoot()
        if writeReferences { return try refreshReferences(root: root) }
        guard let name = args.positionals.first else {
            throw CommandError.usage("lesson exercise: name a lesson (\(lessonCatalog.map { $0.name }.joined(separator: ", ")))")
        }
        if args.positionals.count > 1 { throw CommandError.usage("lesson exercise: unexpected argument '\(args.positionals[1])'") }
        guard let lesson = lessonCatalog.first(where: { $0.name == name }) else {
            throw CommandError.usage("lesson exercise: unknown lesson '\(name)'" + NearestName.suggestion(for: name, among: lessonCatalog.map { $0.name }) + " (lessons: \(lessonCatalog.map { $0.name }.joined(separator: ", ")))")
        }
        if start && reset { throw CommandError.usage("lesson exercise: --start and --reset together") }
        let url = root.appendingPathComponent("Lessons/\(lesson.folder)/Exercises.swift")
        let file = try read(url)
        guard let referenceText = exerciseReferences[lesson.folder] else {
            throw CommandError(description: "lesson exercise: the lesson \(name) has no exercises yet")
        }
        let reference: ExerciseFile
        do { reference = try ExerciseFile(text: referenceText) } catch let e as LessonError {
            throw CommandError(description: "lesson exercise: the tool's copy of \(lesson.folder)/Exercises.swift: \(e.description)")
        }
        let grader = "swift test --filter \(lesson.folder)Exercises"
        if start {
            try write(file.started, to: url)
            print("\(url.path): \(file.entries.count) exercises blanked (\(file.entries.map(\.name).joined(separator: ", "))).")
            print("Write them, then: \(grader)    (lesson exercise \(name) --reset puts the reference back)")
        } else if reset {
            try write(file.reset(to: reference), to: url)
            print("\(url.path): the reference solutions are back (\(reference.entries.count) exercises).")
        } else {
            print("\(lesson.name): \(file.entries.count) exercises in \(url.path)")
            for (i, entry) in file.entries.enumerated() {
                print("  \(i + 1). \(entry.name)  [\(entry.isStub ? "not written yet" : "written")]")
                if !entry.hint.isEmpty { print("     \(entry.hint)") }
            }
            print("Grade them: \(grader);  blank them: lesson exercise \(name) --start;  restore: --reset")
        }
        return 0
    }

    static func read(_ url: URL) throws -> ExerciseFile {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw CommandError(description: "lesson exercise: \(url.path): cannot read the file")
        }
        do {
            return try ExerciseFile(text: String(decoding: data, as: UTF8.self))
        } catch let e as LessonError {
            throw CommandError(description: "lesson exercise: \(url.path): \(e.description)")
        }
    }

    static func write(_ text: String, to url: URL) throws {
        do { try writeAtomically(text, to: url) } catch {
            throw CommandError(description: "lesson exercise: cannot write \(url.path): \(error.localizedDescription)")
        }
    }

    /// Rewrites Sources/LessonCatalog/References/<Lesson>.txt from every lesson's file.
    static func refreshReferences(root: URL) throws -> Int32 {
        for lesson in lessonCatalog {
            let url = root.appendingPathComponent("Lessons/\(lesson.folder)/Exercises.swift")
            guard FileManager.default.fileExists(atPath: url.path) else { continue }
            let file = try read(url)
            if let stub = file.entries.first(where: \.isStub) {
                throw CommandError(description: "lesson exercise: \(url.path): exercise \(stub.name) is a stub; --reset it first")
            }
            let out = root.appendingPathComponent("Sources/LessonCatalog/References/\(lesson.folder).txt")
            try write(file.text, to: out)
            print("wrote \(out.path)")
        }
        print("rebuild the tool (swift build) to carry them")
        return 0
    }

    /// The package: the current directory or one above it holding Package.swift and Lessons/.
    static func packageRoot() throws -> URL {
        var dir = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
        for _ in 0..<6 {
            if FileManager.default.fileExists(atPath: dir.appendingPathComponent("Package.swift").path),
               FileManager.default.fileExists(atPath: dir.appendingPathComponent("Lessons").path) { return dir }
            dir = dir.deletingLastPathComponent()
        }
        throw CommandError(description: "lesson exercise: run it inside the package (no Package.swift with Lessons/ here or above)")
    }
}

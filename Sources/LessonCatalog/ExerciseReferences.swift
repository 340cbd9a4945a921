import Foundation

// The reference Exercises.swift of every lesson, carried by the `lesson` tool (as the
// resources References/<Lesson>.txt of this target) so that `lesson exercise NAME --reset`
// works outside git. `lesson exercise --write-references` writes them from the lessons'
// files; LessonCatalogTests checks that they match.

/// Lesson folder -> the text of its Exercises.swift with the reference solutions.
public var exerciseReferences: [String: String] {
    var result: [String: String] = [:]
    for lesson in lessonCatalog {
        guard let url = Bundle.module.url(forResource: lesson.folder, withExtension: "txt", subdirectory: "References"),
              let data = FileManager.default.contents(atPath: url.path) else { continue }
        result[lesson.folder] = String(decoding: data, as: UTF8.self)
    }
    return result
}

import ConvNetCore
import LeNetLesson

/// Every lesson `lesson list` shows and `lesson run` runs, in course order.
let lessonCatalog: [any Lesson.Type] = [LeNet5Lesson.self]

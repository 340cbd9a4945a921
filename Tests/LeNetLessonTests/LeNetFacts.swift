import Testing
@testable import LeNetLesson

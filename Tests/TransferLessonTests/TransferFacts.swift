import ConvNetCore
import Foundation
import Testing
import TestSupport
@testable import TransferLesson

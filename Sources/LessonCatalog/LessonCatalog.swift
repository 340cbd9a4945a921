import ConvNetCore
import LeNetLesson
import AlexNetLesson
import ResNetLesson
import VGGLesson
import OneByOneLesson
import InceptionLesson
import ResNeXtLesson
import DenseNetLesson
import TransferLesson
import AugmentationLesson
import MultiCropLesson
import DistillationLesson
import RegularizersLesson
import UNetLesson

/// Every lesson `lesson list` shows and `lesson run` runs, in course order. A new lesson
/// is its folder's name in Package.swift's `lessons` and its type here; the catalog's
/// tests check that every `Lessons/*` folder is here, with a README and a test target.
public let lessonCatalog: [any Lesson.Type] = [
    LeNet5Lesson.self,
    AlexNetLesson.self,
    VGGLesson.self,
    ResNetLesson.self,
    OneByOneLesson.self,
    InceptionLesson.self,
    ResNeXtLesson.self,
    DenseNetLesson.self,
    TransferLesson.self,
    AugmentationLesson.self,
    MultiCropLesson.self,
    DistillationLesson.self,
    UNetLesson.self,
    RegularizersLesson.self,
]

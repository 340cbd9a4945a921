import ConvNetCore
import Foundation

// `lesson run distillation`: a small net learns from a big one's soft targets (Hinton,
// Vinyals and Dean 2015, "Distilling the knowledge in a neural network").
//
//   1. the nets and the data: a big teacher MLP (dropout, jittered inputs) and a small
//      student MLP (no regularisation) on MNIST-5k digits, counted;
//   2. the distillation loss's kernel pair (Sources/ConvNetCore/Kernels/Losses): against
//      PyTorch's fixture, against finite differences, and the T^2 scaling measured;
//   3. the teachers, one per seed, and their logits on the training digits (the soft
//      targets); the naive and fast kernels raced on those real logits;
//   4. the soft targets: the teacher's probabilities at T = 1 and higher T for real
//      held-out digits, as a picture (which wrong classes it finds plausible);
//   5. the slide's table: the small model trained normally, the big model, and the small
//      model distilled, on paired seeds, beside the paper's;
//   6. held-out accuracy against the temperature T, one plot.

/// The distillation lesson, as `lesson list` and `lesson run distillation` see it.
public enum DistillationLesson: Lesson {
    public static let name = "distillation"
    public static let folder = "Distillation"
    public static let summary = "Knowledge distillation (2015): a small net trained on a big net's soft targets at temperature T"

    public static let options: [LessonOption] = [
        LessonOption("train", .integer(100...4_000), default: "1000", help: "training digits (the transfer set too; --quick: 500)"),
        LessonOption("seeds", .integer(1...10), default: "3", help: "paired seeds of the three-row table (--quick: 1)"),
        LessonOption("teacher", .integer(16...2_000), default: "1200", help: "hidden units per layer of the teacher (the paper: 1200; --quick: 128)"),
        LessonOption("student", .integer(4...2_000), default: "300", help: "hidden units per layer of the student (the paper: 800, 300 and 30; --quick: 30)"),
        LessonOption("temperature", .number(1...100), default: "4", help: "T of the distilled student in the table"),
        LessonOption("alpha", .number(0...1), default: "0.9", help: "weight of the soft-target loss (x T^2); 1 - alpha on the labels"),
        LessonOption("teacher-epochs", .integer(1...100), default: "20", help: "epochs of the teacher (--quick: 15)"),
        LessonOption("no-sweep", .flag, help: "leave out the accuracy-against-T sweep"),
    ]

    /// The temperatures of the sweep (--quick: 1 and 4).
    public static let sweepTemperatures: [Double] = [1, 2, 4, 8, 20]

    public static let notes = """
    Defaults: MNIST-5k at 28x28 (pixels in [0, 1]), 1,000 held-out digits (--quick: 200). Teacher 784-1200-1200-10, dropout 0.2 on the inputs and 0.5 on the hidden units, digits jittered by up to 2 pixels; students 784-300-300-10, no regularisation (--quick: 784-128-128-10 and 784-30-30-10 on 500 digits).
    Training: SGD 0.05, momentum 0.9, batch 64; students 20 epochs (--epochs; --quick: 10), the last third at lr/10; teachers --teacher-epochs, the same schedule.
    The sweep trains the seed-1 student at T = 1, 2, 4, 8, 20 (--quick: 1, 4) against the seed-1 teacher.
    Writes under --out: index.html, soft-targets.png, accuracy-vs-temperature.svg, teacher.safetensors, student-distilled.safetensors.
    """

    public static let resultKeys: [ResultKey] = [
        ResultKey("teacher_hidden", "hidden units per layer of the teacher"),
        ResultKey("student_hidden", "hidden units per layer of the student"),
        ResultKey("teacher_parameters", "the teacher's parameters"),
        ResultKey("student_parameters", "the student's parameters"),
        ResultKey("temperature", "T of the distilled students of the table"),
        ResultKey("alpha", "weight of the soft-target loss"),
        ResultKey("fixture_loss_error_naive", "relative error of the naive kernel's loss against PyTorch's (Fixtures/ops-public distillation_T4)"),
        ResultKey("fixture_loss_error_fast", "the same, fast kernel"),
        ResultKey("fixture_gradient_error_naive", "relative error of the naive kernel's student gradient against PyTorch's"),
        ResultKey("fixture_gradient_error_fast", "the same, fast kernel"),
        ResultKey("finite_difference_error", "relative error of the naive gradient (Double) against central finite differences"),
        ResultKey("gradient_norms_without_t2", "size of the soft-target gradient without the T^2 factor, at T = 1, 2, 4, 8, 20 (relative to T = 1)"),
        ResultKey("gradient_norms_with_t2", "the same with T^2 (the loss the lesson trains on)"),
        ResultKey("race_naive_ms", "the naive distillation kernel (loss and gradient) on the teacher's and a student's logits of every training digit, ms"),
        ResultKey("race_fast_ms", "the same, fast kernel"),
        ResultKey("race_speedup", "naive time / fast time"),
        ResultKey("race_max_difference", "largest relative difference of the fast kernel's loss and gradient from the naive one's"),
        ResultKey("wrong_class_mass", "the seed-1 teacher's mean probability on the wrong classes of the held-out digits, at T = 1, 2, 4, 8, 20"),
        ResultKey("small_accuracies", "held-out accuracy of the student trained on the labels, each seed"),
        ResultKey("teacher_accuracies", "held-out accuracy of the teacher, each seed"),
        ResultKey("distilled_accuracies", "held-out accuracy of the student trained on the teacher's soft targets, each seed"),
        ResultKey("small_accuracy", "mean over seeds"),
        ResultKey("teacher_accuracy", "mean over seeds"),
        ResultKey("distilled_accuracy", "mean over seeds"),
        ResultKey("gains", "distilled minus small, each seed (paired)"),
        ResultKey("gain", "mean gain"),
        ResultKey("gain_shown", "every seed's gain is positive and the mean gain exceeds the seed-to-seed spread of both arms"),
        ResultKey("sweep_temperatures", "temperatures of the sweep (empty with --no-sweep)"),
        ResultKey("sweep_accuracies", "held-out accuracy of the seed-1 student distilled at each of them"),
        ResultKey("epochs", "epochs per student"),
        ResultKey("teacher_epochs", "epochs per teacher"),
        ResultKey("seeds", "the paired seeds"),
        ResultKey("train_examples", "training digits"),
        ResultKey("validation_examples", "held-out digits"),
        ResultKey("train_seconds", "time spent training, all nets"),
        ResultKey("quick", "whether --quick was given"),
        ResultKey("output_directory", "where the files went"),
    ]

    public struct Results: Encodable {
        var teacherHidden = 0, studentHidden = 0, teacherParameters = 0, studentParameters = 0
        var temperature = 0.0, alpha = 0.0
        var fixtureLossErrorNaive = 0.0, fixtureLossErrorFast = 0.0, fixtureGradientErrorNaive = 0.0, fixtureGradientErrorFast = 0.0
        var finiteDifferenceError = 0.0
        var gradientNormsWithoutT2: [Double] = [], gradientNormsWithT2: [Double] = []
        var raceNaiveMs = 0.0, raceFastMs = 0.0, raceSpeedup = 0.0, raceMaxDifference = 0.0
        var wrongClassMass: [Double] = []
        var smallAccuracies: [Double] = [], teacherAccuracies: [Double] = [], distilledAccuracies: [Double] = []
        var smallAccuracy = 0.0, teacherAccuracy = 0.0, distilledAccuracy = 0.0
        var gains: [Double] = [], gain = 0.0, gainShown = false
        var sweepTemperatures: [Double] = [], sweepAccuracies: [Double] = []
        var epochs = 0, teacherEpochs = 0, seeds: [Int] = [], trainExamples = 0, validationExamples = 0, trainSeconds = 0.0
        var quick = false, outputDirectory = ""

        enum CodingKeys: String, CodingKey {
            case teacherHidden = "teacher_hidden", studentHidden = "student_hidden"
            case teacherParameters = "teacher_parameters", studentParameters = "student_parameters"
            case temperature, alpha
            case fixtureLossErrorNaive = "fixture_loss_error_naive", fixtureLossErrorFast = "fixture_loss_error_fast"
            case fixtureGradientErrorNaive = "fixture_gradient_error_naive", fixtureGradientErrorFast = "fixture_gradient_error_fast"
            case finiteDifferenceError = "finite_difference_error"
            case gradientNormsWithoutT2 = "gradient_norms_without_t2", gradientNormsWithT2 = "gradient_norms_with_t2"
            case raceNaiveMs = "race_naive_ms", raceFastMs = "race_fast_ms", raceSpeedup = "race_speedup"
            case raceMaxDifference = "race_max_difference", wrongClassMass = "wrong_class_mass"
            case smallAccuracies = "small_accuracies", teacherAccuracies = "teacher_accuracies", distilledAccuracies = "distilled_accuracies"
            case smallAccuracy = "small_accuracy", teacherAccuracy = "teacher_accuracy", distilledAccuracy = "distilled_accuracy"
            case gains, gain, gainShown = "gain_shown"
            case sweepTemperatures = "sweep_temperatures", sweepAccuracies = "sweep_accuracies"
            case epochs, teacherEpochs = "teacher_epochs", seeds, trainExamples = "train_examples"
            case validationExamples = "validation_examples", trainSeconds = "train_seconds"
            case quick, outputDirectory = "output_directory"
        }
    }

    /// The temperatures at which the gradient's size and the teacher's soft targets are shown.
    static let shownTemperatures: [Double] = [1, 2, 4, 8, 20]

    public static func run(_ options: LessonOptions, console: Console) throws -> Results {
        let quick = options.quick
        func value(_ name: String, quick quickValue: Int) -> Int { options.isGiven(name) || !quick ? options.integer(name) : quickValue }
        let trainCount = value("train", quick: 500), validationCount = quick ? 200 : 1_000
        let seedCount = value("seeds", quick: 1)
        let teacherHidden = value("teacher", quick: 128), studentHidden = value("student", quick: 30)
        let teacherEpochs = value("teacher-epochs", quick: 15)
        let epochs = options.epochs ?? (quick ? 10 : 20)
        let temperature = options.number("temperature"), alpha = options.number("alpha")
        let seeds = (0..<seedCount).map { options.seed + UInt64($0) }
        let sweep = options.flag("no-sweep") ? [] : (quick ? [1.0, 4.0] : sweepTemperatures)

        let run = try LessonRun(lesson: name, title: "Distillation: a small net learns from a big net's soft targets", options: options, console: console)
        var results = Results()
        (results.quick, results.outputDirectory) = (quick, run.directory.path)
        (results.teacherHidden, results.studentHidden, results.temperature, results.alpha) = (teacherHidden, studentHidden, temperature, alpha)
        (results.epochs, results.teacherEpochs, results.seeds) = (epochs, teacherEpochs, seeds.map { Int($0) })

        // 1. The nets and the data.
        run.step("The nets and the data")
        let (training, validation) = try LabeledImages.mnist5k(fixtures: options.fixtures, trainCount: trainCount,
                                                               validationCount: validationCount, seed: options.seed)
        (results.trainExamples, results.validationExamples) = (training.count, validation.count)
        run.say("Can we train a small model to mimic a large model? A big \"teacher\" net is trained on the labels, as well as"
                + " it can be (large, regularised). Its output is not just a class: it is a probability for every class, and the"
                + " wrong classes' probabilities say how the teacher generalises (this 7 looks a little like a 1, not at all like a 6)."
                + " A small \"student\" is then trained to match those probabilities, softened by a temperature T:"
                + " q_i = exp(z_i/T) / sum_j exp(z_j/T). Its loss is alpha T^2 KL(q_teacher || q_student) + (1 - alpha) CE(labels).")
        let teacherShape = MultilayerPerceptron(inputs: 784, hidden: [teacherHidden, teacherHidden], inputDropout: 0.2, hiddenDropout: 0.5)
        let studentShape = MultilayerPerceptron(inputs: 784, hidden: [studentHidden, studentHidden])
        results.teacherParameters = teacherShape.parameterCount
        results.studentParameters = studentShape.parameterCount
        run.show(ReportTable(headers: ["net", "layers", "parameters", "regularisation", "trained on"], rows: [
            ["teacher (big model)", teacherShape.description, ModelSummary.grouped(results.teacherParameters),
             "dropout 0.2 on the inputs, 0.5 on the hidden units; digits jittered by up to 2 pixels", "the labels"],
            ["small model", studentShape.description, ModelSummary.grouped(results.studentParameters), "none", "the labels"],
            ["distilled small model", studentShape.description, ModelSummary.grouped(results.studentParameters), "none",
             String(format: "the teacher's soft targets at T = %g (alpha %g) and the labels", temperature, alpha)],
        ]))
        run.say("Data: \(ModelSummary.grouped(training.count)) MNIST-5k training digits (the transfer set is the same digits) and"
                + " \(ModelSummary.grouped(validation.count)) held-out digits, 28x28, pixels in [0, 1], split with seed \(options.seed)."
                + " The paper's nets (Hinton, Vinyals and Dean 2015, section 3) were 784-1200-1200-10 and 784-800-800-10 on all"
                + " 60,000 MNIST digits; here the student is narrower (\(studentHidden) units; the paper also tried 30), as the"
                + " data are 30 times fewer.")

        // 2. The kernel pair.
        run.step("The distillation loss, naive and fast (Sources/ConvNetCore/Kernels/Losses)")
        try checkKernels(run, &results)

        // 3. The teachers.
        run.step("The teachers")
        let schedule = { (n: Int) -> LearningRateSchedule in
            n >= 3 ? .step(initial: 0.05, milestones: [n - n / 3], factor: 0.1) : .constant(0.05)
        }
        var trainSeconds = 0.0
        func train(_ net: Layer, label: String, epochs: Int, seed: UInt64, jitter: Bool = false,
                   loss: DistillationLoss? = nil) throws -> Double {
            var trainer = Trainer(TrainingSettings(epochs: epochs, batchSize: 64, schedule: schedule(epochs)))
            trainer.label = label
            trainer.printsEpochs = false
            if jitter { trainer.augment = DistillationNets.jitter(pixels: 2) }
            if let loss {
                trainer.lossFunction = { logits, labels, indices in loss(logits, labels: labels, indices: indices, using: net.backend) }
            }
            let history = try trainer.train(net, on: training, validation: validation, seed: seed, console: console)
            trainSeconds += history.seconds
            let accuracy = history.last?.validationAccuracy ?? 0
            run.note("\(label): held-out accuracy \(percent(accuracy)) (\(String(format: "%.1f s", history.seconds)))")
            return accuracy
        }
        var teacherLogits: [Tensor] = []
        var firstTeacher: MultilayerPerceptron?
        for seed in seeds {
            let teacher = DistillationNets.teacher(hidden: teacherHidden, seed: seed)
            results.teacherAccuracies.append(try train(teacher, label: "teacher, seed \(seed)", epochs: teacherEpochs, seed: seed, jitter: true))
            teacherLogits.append(SoftTargets.logits(of: teacher, on: training.images))
            if firstTeacher == nil {
                firstTeacher = teacher
                try teacher.save(to: run.directory.appendingPathComponent("teacher.safetensors"),
                                 metadata: ["lesson": "distillation", "seed": String(seed), "input": "1x28x28 digits in [0, 1]"])
                run.recordFile("teacher.safetensors", description: "the seed-\(seed) teacher (\(teacherShape.description))")
            }
        }
        run.say("Each teacher: \(teacherEpochs) epochs of SGD (lr 0.05, momentum 0.9, batch 64\(teacherEpochs >= 3 ? ", the last third at lr/10" : "")),"
                + " dropout and jitter on, then its logits z on every training digit computed once in inference mode (dropout off,"
                + " no jitter): the students' soft targets. Held-out accuracy: "
                + zip(seeds, results.teacherAccuracies).map { "seed \($0) \(percent($1))" }.joined(separator: ", ") + ".")
        raceKernels(run, teacherLogits: teacherLogits[0], student: DistillationNets.student(hidden: studentHidden, seed: seeds[0]),
                    images: training.images, temperature: Float(temperature), &results)

        // 4. The soft targets.
        run.step("The soft targets: what the teacher knows about the wrong classes")
        try showSoftTargets(run, teacher: firstTeacher!, validation: validation, trainCount: training.count, &results)

        // 5. The slide's table.
        run.step("The slide's table: small model, big model, distilled small model")
        for (i, seed) in seeds.enumerated() {
            let small = DistillationNets.student(hidden: studentHidden, seed: seed)
            results.smallAccuracies.append(try train(small, label: "small model, seed \(seed)", epochs: epochs, seed: seed))
            let distilled = DistillationNets.student(hidden: studentHidden, seed: seed)
            let loss = DistillationLoss(teacherLogits: teacherLogits[i], temperature: Float(temperature), softWeight: Float(alpha))
            results.distilledAccuracies.append(try train(distilled, label: String(format: "distilled small model (T = %g), seed %d", temperature, seed),
                                                         epochs: epochs, seed: seed, loss: loss))
            if i == 0 {
                try distilled.save(to: run.directory.appendingPathComponent("student-distilled.safetensors"),
                                   metadata: ["lesson": "distillation", "seed": String(seed), "temperature": String(temperature)])
                run.recordFile("student-distilled.safetensors", description: "the seed-\(seed) distilled student (\(studentShape.description))")
            }
        }
        results.smallAccuracy = mean(results.smallAccuracies)
        results.teacherAccuracy = mean(results.teacherAccuracies)
        results.distilledAccuracy = mean(results.distilledAccuracies)
        results.gains = zip(results.distilledAccuracies, results.smallAccuracies).map { $0 - $1 }
        results.gain = mean(results.gains)
        let spread = max(spreadOf(results.smallAccuracies), spreadOf(results.distilledAccuracies))
        results.gainShown = seeds.count >= 2 && results.gains.allSatisfy { $0 > 0 } && results.gain > spread
        showTable(run, results: results, seeds: seeds, validationCount: validation.count, epochs: epochs, spread: spread)

        // 6. Accuracy against T.
        if !sweep.isEmpty {
            run.step("Held-out accuracy against the temperature T")
            results.sweepTemperatures = sweep
            for t in sweep {
                if t == temperature {
                    results.sweepAccuracies.append(results.distilledAccuracies[0])
                    run.note(String(format: "T = %g: the table's seed-%d student, %@", t, seeds[0], percent(results.distilledAccuracies[0])))
                    continue
                }
                let student = DistillationNets.student(hidden: studentHidden, seed: seeds[0])
                let loss = DistillationLoss(teacherLogits: teacherLogits[0], temperature: Float(t), softWeight: Float(alpha))
                results.sweepAccuracies.append(try train(student, label: String(format: "distilled at T = %g, seed %d", t, seeds[0]),
                                                         epochs: epochs, seed: seeds[0], loss: loss))
            }
            showSweep(run, results: results, seed: seeds[0])
            try run.writeFigure(svg: DistillationPictures.accuracyAgainstTemperature(
                                    temperatures: sweep, accuracies: results.sweepAccuracies,
                                    small: results.smallAccuracies[0], teacher: results.teacherAccuracies[0], seed: Int(seeds[0])),
                                name: "accuracy-vs-temperature.svg",
                                caption: "held-out accuracy of the seed-\(seeds[0]) student distilled at each T, beside the same student trained on the labels and its teacher")
        }
        results.trainSeconds = trainSeconds

        let headline = String(format: "small %@, teacher %@, distilled (T = %g) %@ held out, mean of %d seed%@ (%@%@)",
                              percent(results.smallAccuracy), percent(results.teacherAccuracy), temperature, percent(results.distilledAccuracy),
                              seeds.count, seeds.count == 1 ? "" : "s", results.gain >= 0 ? "+" : "", percent(results.gain))
        try run.finish(headline: headline, results: results)
        return results
    }

    // MARK: The steps

    /// Step 2: the kernel pair against PyTorch and finite differences, and the T^2
    /// scaling measured.
    static func checkKernels(_ run: LessonRun, _ results: inout Results) throws {
        let fixture = try DistillationChecks.fixture(run.options.fixtures)
        let naive = Naive.distillationKL(student: fixture.student, teacher: fixture.teacher, classes: fixture.classes, temperature: fixture.temperature)
        let fast = Fast.distillationKL(student: fixture.student, teacher: fixture.teacher, classes: fixture.classes, temperature: fixture.temperature)
        results.fixtureLossErrorNaive = relativeError([naive.loss], [fixture.loss])
        results.fixtureLossErrorFast = relativeError([fast.loss], [fixture.loss])
        results.fixtureGradientErrorNaive = relativeError(naive.studentGradient, fixture.gradient)
        results.fixtureGradientErrorFast = relativeError(fast.studentGradient, fixture.gradient)
        results.finiteDifferenceError = DistillationChecks.finiteDifferenceError()
        run.say("The soft-target loss of a batch of N images with student logits s and teacher logits t:"
                + " L = T^2 (1/N) sum_n sum_i q_t,i (log q_t,i - log q_s,i), q = softmax(z/T) (PyTorch:"
                + " kl_div(log_softmax(s/T), softmax(t/T), reduction=\"batchmean\") * T^2). Its gradient for the student:"
                + " dL/ds_i = T^2 (1/N) (q_s,i - q_t,i)/T = (T/N)(q_s,i - q_t,i). Naive.distillationKL is the formula in Double,"
                + " row by row; Fast.distillationKL sweeps 16 classes at a time with one logarithm per row.")
        run.show(ReportTable(headers: ["check", "naive", "fast"], rows: [
            ["loss against PyTorch (distillation_T4: \(fixture.rows) x \(fixture.classes), T = \(Int(fixture.temperature)))",
             sci(results.fixtureLossErrorNaive), sci(results.fixtureLossErrorFast)],
            ["student gradient against PyTorch", sci(results.fixtureGradientErrorNaive), sci(results.fixtureGradientErrorFast)],
            ["gradient against central finite differences (Double; T = 1, 2.5, 8)", sci(results.finiteDifferenceError), "-"],
        ]))

        // Why T^2: the size of the gradient as T grows, with and without it.
        let norms = DistillationChecks.gradientNorms(temperatures: shownTemperatures)
        results.gradientNormsWithoutT2 = norms.without.map { $0 / norms.without[0] }
        results.gradientNormsWithT2 = norms.with.map { $0 / norms.with[0] }
        run.say("Why T^2: without it the soft-target gradient (q_s - q_t)/T shrinks about as 1/T^2 as T grows (q_s - q_t is itself"
                + " about (s - t)/(C T) once T is large), so at T = 20 the soft targets would barely pull against the labels. With T^2"
                + " it stays the same size, and in the limit it is (s - t)/(N C) for zero-mean logits: matching the logits"
                + " (the paper, section 2.1). Measured on random logits (8 x 10, both zero-mean, scale 3), size relative to T = 1:")
        run.show(ReportTable(headers: ["T"] + shownTemperatures.map { String(format: "%g", $0) }, rows: [
            ["|gradient| without T^2"] + results.gradientNormsWithoutT2.map { String(format: "%.4f", $0) },
            ["|gradient| with T^2"] + results.gradientNormsWithT2.map { String(format: "%.3f", $0) },
            ["1/T^2"] + shownTemperatures.map { String(format: "%.4f", 1 / ($0 * $0)) },
        ]))

    }

    /// End of step 3: the naive and fast kernels raced on the real logits of the students'
    /// training: the teacher's on every training digit against a fresh student's.
    static func raceKernels(_ run: LessonRun, teacherLogits: Tensor, student: Layer, images: Tensor, temperature: Float,
                            _ results: inout Results) {
        let studentLogits = SoftTargets.logits(of: student, on: images).data
        let teacher = teacherLogits.data, classes = teacherLogits.shape[1], rows = teacherLogits.shape[0]
        let race = KernelRace.run([
            RaceEntrant(name: "naive: Double, row by row", kernel: "Naive.distillationKL", isSlow: true, forward: {
                let r = Naive.distillationKL(student: studentLogits, teacher: teacher, classes: classes, temperature: temperature)
                return [[r.loss], r.studentGradient]
            }),
            RaceEntrant(name: "fast: SIMD16, one log per row", kernel: "Fast.distillationKL", forward: {
                let r = Fast.distillationKL(student: studentLogits, teacher: teacher, classes: classes, temperature: temperature)
                return [[r.loss], r.studentGradient]
            }),
        ], quick: run.options.quick)
        results.raceNaiveMs = race.rows[0].totalSeconds * 1e3
        results.raceFastMs = race.rows[1].totalSeconds * 1e3
        results.raceSpeedup = race.speedup
        results.raceMaxDifference = race.maxRelativeDifference
        run.say(String(format: "The kernel the students train on, raced on real logits: the seed-1 teacher's on all %d training digits"
                       + " against an untrained student's, T = %g, loss and gradient in one call. With 10 classes a row is shorter than"
                       + " one 16-lane vector, so the fast kernel runs its scalar tail: its gain is Float instead of Double and one"
                       + " logarithm per row instead of one per class.", rows, temperature))
        run.show(race.captionedTable)
    }

    /// Step 4: the seed-1 teacher's probabilities on real held-out digits.
    static func showSoftTargets(_ run: LessonRun, teacher: Layer, validation: LabeledImages, trainCount: Int, _ results: inout Results) throws {
        let logits = SoftTargets.logits(of: teacher, on: validation.images)
        for t in shownTemperatures {
            let p = SoftTargets.probabilities(logits: logits, temperature: Float(t))
            var wrong = 0.0
            for (n, label) in validation.labels.enumerated() { wrong += 1 - Double(p.data[n * 10 + label]) }
            results.wrongClassMass.append(wrong / Double(validation.count))
        }
        run.say("The teacher's probabilities q = softmax(z/T) on held-out digits. At T = 1 a well-trained teacher puts most of the mass"
                + String(format: " on one class (this one gives the nine wrong classes %@ on average: trained with dropout on %d digits, it is", percent(results.wrongClassMass[0]), trainCount)
                + " less sure than the paper's), and the smaller wrong-class probabilities hardly move a cross-entropy, yet their"
                + " ratios are what the teacher learned about how digits resemble each other. Raising T softens q and brings them up.")
        run.show(ReportTable(headers: ["T"] + shownTemperatures.map { String(format: "%g", $0) }, rows: [
            ["mean probability on the wrong classes (held out)"] + results.wrongClassMass.map(percent),
        ]))
        // A few real digits: the first of each of the first classes met, plus the least sure ones.
        var picked: [Int] = []
        let p1 = SoftTargets.probabilities(logits: logits, temperature: 1)
        for n in 0..<validation.count where picked.count < 4 && !picked.contains(where: { validation.labels[$0] == validation.labels[n] }) {
            picked.append(n)
        }
        let sureness: [Float] = (0..<validation.count).map { n in p1.data[n * 10 + validation.labels[n]] }
        let unsure = (0..<validation.count).filter { !picked.contains($0) }.sorted { sureness[$0] < sureness[$1] }
        picked += unsure.prefix(2)
        let shown: [Double] = [1, 4, 20]
        var rows: [[String]] = []
        for n in picked {
            let label = validation.labels[n]
            var cells = ["\(label)"]
            for t in shown {
                let p = SoftTargets.probabilities(logits: gatherRows(logits, [n]), temperature: Float(t)).data
                let order = (0..<10).filter { $0 != label }.sorted { p[$0] > p[$1] }
                cells.append(String(format: "%.3g; ", p[label]) + order.prefix(2).map { String(format: "%d: %.2g", $0, p[$0]) }.joined(separator: ", "))
            }
            rows.append(cells)
        }
        run.show(ReportTable(headers: ["digit"] + shown.map { String(format: "T = %g: q(true class); two likeliest wrong classes", $0) }, rows: rows))
        try run.writeFigure(png: DistillationPictures.softTargets(images: validation.images, indices: picked, labels: validation.labels,
                                                                   logits: logits, temperatures: shown),
                            name: "soft-targets.png",
                            caption: "real held-out digits (left) and the teacher's probabilities for the classes 0-9 at T = 1, 4 and 20"
                                + " (blue: the true class, orange: the wrong ones; full height = 1)")
    }

    /// Step 5's table and what it shows.
    static func showTable(_ run: LessonRun, results: Results, seeds: [UInt64], validationCount: Int, epochs: Int, spread: Double) {
        run.say(String(format: "Students: %d epochs of SGD (lr 0.05, momentum 0.9, batch 64%@), the small model on the labels, the"
                       + " distilled one on alpha T^2 KL + (1 - alpha) CE with T = %g, alpha = %g, through the Trainer's lossFunction;"
                       + " same seed, same initial weights and the same mini-batches in both arms.",
                       epochs, epochs >= 3 ? ", the last third at lr/10" : "", results.temperature, results.alpha))
        let rows: [(String, [Double])] = [("small model (normal training)", results.smallAccuracies),
                                          ("big model (the teacher)", results.teacherAccuracies),
                                          ("small model (distillation)", results.distilledAccuracies)]
        let paperMNIST = DistillationPaper.mnist, speech = DistillationPaper.speech
        run.show(ReportTable(
            caption: "held-out accuracy on \(validationCount) MNIST-5k digits (ours) beside the paper's",
            headers: ["system"] + seeds.map { "ours, seed \($0)" } + ["ours, mean", "spread",
                      "the paper: MNIST test errors (of 10,000)", "the paper: speech frame accuracy (WER)"],
            rows: rows.enumerated().map { i, row in
                [row.0] + row.1.map(percent) + [percent(mean(row.1)), percent(spreadOf(row.1)),
                 "\(paperMNIST[i].errors) (\(String(format: "%.2f%%", 100 - Double(paperMNIST[i].errors) / 100)))",
                 String(format: "%.1f%% (%.1f%%)", speech[i].frameAccuracy, speech[i].wer)]
            }))
        let gainText = results.gains.map { ($0 >= 0 ? "+" : "") + percent($0) }.joined(separator: ", ")
        if seeds.count < 2 {
            run.say("Distilled minus small: \(gainText) on one seed: no spread measured, so no gain is claimed.")
        } else if results.gainShown {
            run.say("Distilled minus small, seed by seed: \(gainText) (mean \(percent(results.gain))), every seed positive and the mean"
                    + " beyond the seed-to-seed spread (\(percent(spread))): the same small net, with the same data and budget, did better"
                    + " on the teacher's soft targets. It recovered \(percent(results.gain / max(results.teacherAccuracy - results.smallAccuracy, 1e-9)))"
                    + " of the gap between the small model and the teacher (the paper's MNIST: (146 - 74)/(146 - 67) = 91%;"
                    + " speech: (60.8 - 58.9)/(61.1 - 58.9) = 86%).")
        } else {
            run.say("Distilled minus small, seed by seed: \(gainText) (mean \(percent(results.gain))); the seed-to-seed spread is"
                    + " \(percent(spread)): no gain shown at this budget.")
        }
    }

    /// Step 6's table and what it shows.
    static func showSweep(_ run: LessonRun, results: Results, seed: UInt64) {
        run.show(ReportTable(headers: ["T"] + results.sweepTemperatures.map { String(format: "%g", $0) } + ["small model", "teacher"],
                             rows: [["held-out accuracy, seed \(seed)"] + results.sweepAccuracies.map(percent)
                                    + [percent(results.smallAccuracies[0]), percent(results.teacherAccuracies[0])]]))
        guard let best = results.sweepAccuracies.indices.max(by: { results.sweepAccuracies[$0] < results.sweepAccuracies[$1] }) else { return }
        run.say(String(format: "On seed %d the best T was %g (%@); T = 1 gave %@. One seed per T: differences smaller than the table's"
                       + " seed-to-seed spread (%@) are not claimed. The paper: with 300 or more units per layer all T above 8 did about"
                       + " equally well; with 30 units T of 2.5 to 4 worked significantly better than higher or lower.",
                       seed, results.sweepTemperatures[best], percent(results.sweepAccuracies[best]), percent(results.sweepAccuracies[0]),
                       percent(max(spreadOf(results.smallAccuracies), spreadOf(results.distilledAccuracies)))))
    }
}

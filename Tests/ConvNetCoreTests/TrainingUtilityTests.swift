import Foundation
import Testing
@testable import ConvNetCore

@Suite("Training utilities: batches, metrics, schedules, plots")
struct TrainingUtilityTests {
    @Test("an epoch of mini-batches visits every example exactly once")
    func epochCoversEverything() {
        var g = SeededGenerator(seed: 7)
        let batches = Array(MiniBatches(count: 103, batchSize: 10, using: &g))
        #expect(batches.count == 11)
        #expect(batches.last?.count == 3)
        #expect(batches.flatMap { $0 }.sorted() == Array(0..<103))
        #expect(batches.flatMap { $0 } != Array(0..<103), "the order is shuffled")
    }

    @Test("the same seed gives the same shuffle; another seed another")
    func shuffleIsSeeded() {
        var a = SeededGenerator(seed: 1), b = SeededGenerator(seed: 1), c = SeededGenerator(seed: 2)
        let x = Array(MiniBatches(count: 50, batchSize: 8, using: &a))
        #expect(x == Array(MiniBatches(count: 50, batchSize: 8, using: &b)))
        #expect(x != Array(MiniBatches(count: 50, batchSize: 8, using: &c)))
    }

    @Test("dropLast drops the short final batch")
    func dropLast() {
        var g = SeededGenerator(seed: 3)
        let batches = MiniBatches(count: 25, batchSize: 10, dropLast: true, using: &g)
        #expect(batches.batchCount == 2)
        #expect(Array(batches).map(\.count) == [10, 10])
    }

    @Test("gathering rows copies whole examples in the asked order")
    func gather() {
        let t = Tensor(shape: [3, 2], data: [0, 1, 10, 11, 20, 21])
        #expect(gatherRows(t, [2, 0]) == Tensor(shape: [2, 2], data: [20, 21, 0, 1]))
    }

    @Test("accuracy counts arg-max hits; top-k counts labels among the k largest")
    func accuracy() {
        let logits = Tensor(shape: [3, 3], data: [0.1, 0.7, 0.2,  0.9, 0.05, 0.05,  0.3, 0.3, 0.4])
        #expect(Metrics.predictions(logits) == [1, 0, 2])
        #expect(Metrics.accuracy(logits, labels: [1, 1, 2]) == 2.0 / 3.0)
        #expect(Metrics.topKAccuracy(logits, labels: [0, 1, 0], k: 2) == 2.0 / 3.0)
    }

    @Test("a step schedule divides the rate by 10 at each milestone")
    func stepSchedule() {
        let s = LearningRateSchedule.step(initial: 0.1, milestones: [3, 6], factor: 0.1)
        #expect(s.rate(epoch: 0) == 0.1)
        #expect(abs(s.rate(epoch: 3) - 0.01) < 1e-12)
        #expect(abs(s.rate(epoch: 7) - 0.001) < 1e-12)
    }

    @Test("a plateau schedule cuts the rate only after `patience` epochs without progress")
    func plateau() {
        var s = PlateauSchedule(initial: 1, factor: 0.5, patience: 1)
        #expect(s.record(1.0) == 1)
        #expect(s.record(0.9) == 1)
        #expect(s.record(0.95) == 1)
        #expect(s.record(0.95) == 0.5)
    }

    @Test("a line chart is an SVG with one polyline per series and its legend")
    func lineChart() {
        var chart = LineChart(title: "loss <per> epoch", xLabel: "epoch", yLabel: "loss")
        chart.series = [.init(name: "train", points: [(1, 2.0), (2, 1.0), (3, 0.5)]),
                        .init(name: "held-out", points: [(1, 2.1), (2, 1.3), (3, 0.9)], dashed: true)]
        let svg = chart.svg
        #expect(svg.hasPrefix("<svg"))
        #expect(svg.components(separatedBy: "<polyline").count == 3)
        #expect(svg.contains("held-out"))
        #expect(svg.contains("loss &lt;per&gt; epoch"))
    }

    @Test("nice ticks are round numbers covering the range")
    func ticks() {
        let unit = LineChart.ticks(0, 1)
        #expect(unit.count == 6)
        #expect(zip(unit, [0, 0.2, 0.4, 0.6, 0.8, 1]).allSatisfy { abs($0 - $1) < 1e-12 })
        #expect(LineChart.ticks(0, 97).first == 0)
        #expect(LineChart.ticks(0, 97).allSatisfy { $0.truncatingRemainder(dividingBy: 20) == 0 })
    }

    @Test("an image grid tiles maps with gaps, each scaled to black..white")
    func imageGrid() {
        var grid = ImageGrid(columns: 2, scale: 2, gap: 1)
        grid.append(width: 2, height: 1, values: [0, 1])
        grid.append(width: 2, height: 1, values: [5, -5])
        let image = grid.image
        #expect(image.width == 2 * 4 + 3)
        #expect(image.height == 2 + 2)
        #expect(image.pixels[1 * image.width + 1] == 0)      // first tile, first pixel: its minimum
        #expect(image.pixels[1 * image.width + 3] == 255)    // first tile, second pixel: its maximum
        #expect(image.pixels[1 * image.width + 6] == 255)    // second tile, first pixel: 5 is its maximum
    }
}

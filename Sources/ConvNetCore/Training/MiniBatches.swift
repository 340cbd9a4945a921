/// Mini-batch iteration with a seeded shuffle: each epoch visits every example once, in
/// an order drawn from the generator, in batches of `batchSize` (the last one smaller,
/// unless `dropLast`).
public struct MiniBatches: Sequence {
    public let count: Int
    public let batchSize: Int
    public let dropLast: Bool
    private let order: [Int]

    /// The batches of one epoch; `generator` advances, so successive epochs differ but a
    /// run with the same seed repeats exactly.
    public init(count: Int, batchSize: Int, dropLast: Bool = false, shuffle: Bool = true, using generator: inout SeededGenerator) {
        precondition(batchSize > 0, "MiniBatches: batch size must be positive, got \(batchSize)")
        self.count = count
        self.batchSize = batchSize
        self.dropLast = dropLast
        var order = Array(0..<count)
        if shuffle { order.shuffle(using: &generator) }
        self.order = order
    }

    /// How many batches an epoch has.
    public var batchCount: Int { dropLast ? count / batchSize : (count + batchSize - 1) / batchSize }

    public func makeIterator() -> AnyIterator<[Int]> {
        var start = 0
        let order = order, batchSize = batchSize, dropLast = dropLast
        return AnyIterator {
            guard start < order.count else { return nil }
            let end = Swift.min(start + batchSize, order.count)
            if dropLast && end - start < batchSize { return nil }
            defer { start = end }
            return Array(order[start..<end])
        }
    }
}

/// Gathers rows `indices` of a tensor along its first dimension (a mini-batch of images).
public func gatherRows(_ tensor: Tensor, _ indices: [Int]) -> Tensor {
    let per = tensor.count / max(tensor.shape[0], 1)
    var data = [Float](repeating: 0, count: indices.count * per)
    tensor.data.withUnsafeBufferPointer { src in
        data.withUnsafeMutableBufferPointer { dst in
            for (row, i) in indices.enumerated() {
                precondition(i >= 0 && i < tensor.shape[0], "gatherRows: index \(i) outside 0..<\(tensor.shape[0])")
                (dst.baseAddress! + row * per).update(from: src.baseAddress! + i * per, count: per)
            }
        }
    }
    var shape = tensor.shape
    shape[0] = indices.count
    return Tensor(shape: shape, data: data)
}

/// Classification metrics from logits `[N, classes]`.
public enum Metrics {
    /// The arg-max class of each row.
    public static func predictions(_ logits: Tensor) -> [Int] {
        precondition(logits.rank == 2, "predictions: expected logits [N, classes], got \(logits.shape)")
        let classes = logits.shape[1]
        return (0..<logits.shape[0]).map { n in
            var best = 0
            for c in 1..<classes where logits.data[n * classes + c] > logits.data[n * classes + best] { best = c }
            return best
        }
    }

    /// The fraction of rows whose arg-max is the label.
    public static func accuracy(_ logits: Tensor, labels: [Int]) -> Double {
        let predicted = predictions(logits)
        precondition(predicted.count == labels.count, "accuracy: \(predicted.count) predictions for \(labels.count) labels")
        guard !labels.isEmpty else { return 0 }
        return Double(zip(predicted, labels).filter { $0 == $1 }.count) / Double(labels.count)
    }

    /// The fraction of rows whose label is among the `k` largest logits (top-5 error = 1 - this).
    public static func topKAccuracy(_ logits: Tensor, labels: [Int], k: Int) -> Double {
        let classes = logits.shape[1]
        guard !labels.isEmpty else { return 0 }
        var hits = 0
        for (n, label) in labels.enumerated() {
            let row = logits.data[n * classes..<(n + 1) * classes]
            let target = row[row.startIndex + label]
            if row.filter({ $0 > target }).count < k { hits += 1 }
        }
        return Double(hits) / Double(labels.count)
    }
}

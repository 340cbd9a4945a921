import Foundation

// A CPU thread that streams distorted images into mini-batches while training consumes
// them (the course: "if data is huge: CPU thread to get a stream of images, add a
// distortion to each image, form a mini-batch, pass it to training").
//
//     producer thread                      bounded queue (capacity K)        training (caller)
//     for each batch of the plan:          [b_t+1, b_t+2, ..., b_t+K]        b = stream.next()
//         gather the images                  waits when full                 forward, backward, SGD step
//         distort each one                   waits when empty
//         put it in the queue
//
// The plan (``BatchPlan``) is one deterministic sequence of batches: the same seed gives
// the same batches, bit for bit, whether they are made inline (``BatchPlan/next()``
// called between training steps) or on the producer thread (``BatchStream``), because
// the producer owns the plan's generator and the queue keeps the order. Training only
// changes WHERE the augmentation runs, never what it computes.

/// One mini-batch: `images` `[B, C, H, W]` (distorted), their `labels`, the 0-based epoch.
public struct StreamBatch: @unchecked Sendable {
    public var images: Tensor
    public var labels: [Int]
    public var epoch: Int
    public init(images: Tensor, labels: [Int], epoch: Int) {
        self.images = images
        self.labels = labels
        self.epoch = epoch
    }
}

/// The batches of `epochs` epochs over `data`: each epoch a seeded shuffle cut into
/// batches of `batchSize` (``MiniBatches``), each batch gathered and passed through
/// `augment` with the plan's own generator. Calling ``next()`` repeatedly yields them in
/// order, then nil.
public final class BatchPlan: @unchecked Sendable {
    public let data: LabeledImages
    public let batchSize: Int
    public let epochs: Int
    private let augment: ((Tensor, inout SeededGenerator) -> Tensor)?
    private var generator: SeededGenerator
    private var epoch = 0
    private var pending: AnyIterator<[Int]>?

    public init(data: LabeledImages, batchSize: Int, epochs: Int, seed: UInt64,
                augment: ((Tensor, inout SeededGenerator) -> Tensor)?) {
        precondition(data.count > 0 && batchSize > 0 && epochs >= 0, "BatchPlan: \(data.count) images, batch \(batchSize), \(epochs) epochs")
        self.data = data
        self.batchSize = batchSize
        self.epochs = epochs
        self.augment = augment
        generator = SeededGenerator(seed: seed ^ 0xBA7C_4E5A)
    }

    /// How many batches the plan yields in all.
    public var batchCount: Int { epochs * ((data.count + batchSize - 1) / batchSize) }

    /// The next batch (gathered and distorted now, on the calling thread), or nil at the end.
    public func next() -> StreamBatch? {
        while true {
            if let indices = pending?.next() {
                var x = gatherRows(data.images, indices)
                if let augment { x = augment(x, &generator) }
                return StreamBatch(images: x, labels: indices.map { data.labels[$0] }, epoch: epoch - 1)
            }
            guard epoch < epochs else { return nil }
            pending = MiniBatches(count: data.count, batchSize: batchSize, using: &generator).makeIterator()
            epoch += 1
        }
    }
}

/// A producer thread running a ``BatchPlan`` ahead of the consumer through a queue of at
/// most `capacity` batches. ``next()`` blocks until a batch is ready (or returns nil
/// when the plan is done); the producer blocks while the queue is full. ``cancel()``
/// (or deinit) stops the producer after its current batch.
public final class BatchStream: @unchecked Sendable {
    /// What the producer thread and the consumer share (the thread holds this, not the
    /// stream, so dropping the stream stops the thread).
    private final class Queue: @unchecked Sendable {
        let capacity: Int
        let condition = NSCondition()
        var batches: [StreamBatch] = []
        var head = 0
        var done = false
        var cancelled = false
        let finished = DispatchSemaphore(value: 0)
        var consumerWait = 0.0, producerWait = 0.0, producerWork = 0.0
        init(capacity: Int) { self.capacity = capacity }

        func produce(_ plan: BatchPlan) {
            while true {
                let start = Stopwatch.now()
                let batch = plan.next()
                let made = Stopwatch.now()
                condition.lock()
                producerWork += made - start
                while batch != nil && batches.count - head >= capacity && !cancelled { condition.wait() }
                producerWait += Stopwatch.now() - made
                guard let batch, !cancelled else {
                    done = true
                    condition.broadcast()
                    condition.unlock()
                    return
                }
                batches.append(batch)
                condition.broadcast()
                condition.unlock()
            }
        }
    }

    private let queue: Queue
    public var capacity: Int { queue.capacity }
    /// Seconds the consumer spent waiting for a batch (the producer was behind).
    public var consumerWaitSeconds: Double { queue.condition.lock(); defer { queue.condition.unlock() }; return queue.consumerWait }
    /// Seconds the producer spent waiting for room (training was behind).
    public var producerWaitSeconds: Double { queue.condition.lock(); defer { queue.condition.unlock() }; return queue.producerWait }
    /// Seconds the producer spent making batches.
    public var producerWorkSeconds: Double { queue.condition.lock(); defer { queue.condition.unlock() }; return queue.producerWork }

    /// Starts the producer thread on `plan`.
    public init(_ plan: BatchPlan, capacity: Int = 4) {
        precondition(capacity > 0, "BatchStream: capacity must be positive, got \(capacity)")
        let queue = Queue(capacity: capacity)
        self.queue = queue
        let thread = Thread {
            queue.produce(plan)
            queue.finished.signal()
        }
        thread.name = "BatchStream producer"
        thread.stackSize = 8 << 20
        thread.start()
    }

    deinit { cancel() }

    /// The next batch, in the plan's order, waiting for the producer if it is behind; nil
    /// once the plan is done (or the stream was cancelled).
    public func next() -> StreamBatch? {
        let q = queue
        q.condition.lock()
        defer { q.condition.unlock() }
        let start = Stopwatch.now()
        while q.batches.count == q.head && !q.done { q.condition.wait() }
        q.consumerWait += Stopwatch.now() - start
        guard q.batches.count > q.head else { return nil }
        let batch = q.batches[q.head]
        q.head += 1
        if q.head > 64 && q.head * 2 > q.batches.count {     // drop the consumed prefix now and then
            q.batches.removeFirst(q.head)
            q.head = 0
        }
        q.condition.broadcast()
        return batch
    }

    /// Stops the producer (after the batch it is making) and waits for it to end.
    public func cancel() {
        let q = queue
        q.condition.lock()
        let wasRunning = !q.cancelled
        q.cancelled = true
        q.condition.broadcast()
        q.condition.unlock()
        if wasRunning { q.finished.wait() }
    }
}

/// Training steps on batches from a source (a ``BatchPlan`` called inline, or a
/// ``BatchStream``): forward, softmax cross-entropy, backward, SGD step, until the source
/// is empty. Returns the images trained on, the wall time, and the last loss. Throws a
/// `LessonError` when the loss stops being a number.
public func trainSteps(_ model: Layer, optimizer: SGD, source: () -> StreamBatch?) throws -> (images: Int, seconds: Double, lastLoss: Double) {
    model.train()
    var images = 0
    var lastLoss = Double.nan
    let start = Stopwatch.now()
    while let batch = source() {
        let logits = model(batch.images)
        let (loss, dLogits) = Loss.crossEntropy(logits, targets: batch.labels, using: model.backend)
        guard loss.isFinite else { throw LessonError("training diverged: the loss became \(loss) after \(images) images") }
        model.zeroGradients()
        _ = model.backward(dLogits)
        optimizer.step()
        images += batch.labels.count
        lastLoss = Double(loss)
    }
    return (images, Stopwatch.now() - start, lastLoss)
}

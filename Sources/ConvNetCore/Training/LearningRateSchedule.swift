/// How the learning rate changes over training.
public enum LearningRateSchedule: Sendable {
    /// The same rate throughout.
    case constant(Double)
    /// `initial * factor^(number of milestones passed)`: He et al. divide by 10 at fixed
    /// epochs (e.g. milestones [32k, 48k] iterations for CIFAR ResNets).
    case step(initial: Double, milestones: [Int], factor: Double)

    /// The rate for `epoch` (0-based).
    public func rate(epoch: Int) -> Double {
        switch self {
        case .constant(let r): return r
        case .step(let initial, let milestones, let factor):
            let passed = milestones.filter { epoch >= $0 }.count
            var r = initial
            for _ in 0..<passed { r *= factor }
            return r
        }
    }
}

/// Reduce-on-plateau: when the watched metric (a validation loss) has not improved by
/// more than `threshold` (relative) for `patience` epochs, multiply the rate by `factor`
/// (AlexNet and ResNet on ImageNet divided by 10 when the error plateaued).
public struct PlateauSchedule: Sendable {
    public private(set) var rate: Double
    public let factor: Double
    public let patience: Int
    public let threshold: Double
    public let minimumRate: Double
    private var best = Double.infinity
    private var badEpochs = 0

    public init(initial: Double, factor: Double = 0.1, patience: Int = 2, threshold: Double = 1e-4, minimumRate: Double = 0) {
        self.rate = initial
        self.factor = factor
        self.patience = patience
        self.threshold = threshold
        self.minimumRate = minimumRate
    }

    /// Records the epoch's metric (lower is better) and returns the rate for the next epoch.
    @discardableResult
    public mutating func record(_ metric: Double) -> Double {
        if metric < best * (1 - threshold) {
            best = metric
            badEpochs = 0
        } else {
            badEpochs += 1
            if badEpochs > patience {
                rate = max(minimumRate, rate * factor)
                badEpochs = 0
            }
        }
        return rate
    }
}

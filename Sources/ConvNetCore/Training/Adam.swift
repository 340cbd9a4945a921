import Foundation

/// Adam (Kingma and Ba 2015), as `torch.optim.Adam` (weight decay added to the gradient):
///
///     g = grad + weightDecay * p
///     m = beta1 * m + (1 - beta1) * g
///     v = beta2 * v + (1 - beta2) * g^2
///     p = p - learningRate * (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + epsilon)
///
/// Each parameter's step is scaled by the running size of its own gradients, so layers
/// whose gradients are small (deep in a U-Net, or behind a loss that most pixels barely
/// move) still learn at about the rate set: a forgiving choice for a network trained
/// briefly from scratch. Usage as ``SGD``: `zeroGradients`, `backward`, `step()`.
public final class Adam {
    public let parameters: [Parameter]
    public var learningRate: Float
    public var beta1: Float
    public var beta2: Float
    public var epsilon: Float
    public var weightDecay: Float
    /// Steps taken so far (t).
    public private(set) var steps = 0
    private var m: [[Float]]
    private var v: [[Float]]

    public init(parameters: [Parameter], learningRate: Float = 1e-3, beta1: Float = 0.9, beta2: Float = 0.999,
                epsilon: Float = 1e-8, weightDecay: Float = 0) {
        self.parameters = parameters
        (self.learningRate, self.beta1, self.beta2, self.epsilon, self.weightDecay) = (learningRate, beta1, beta2, epsilon, weightDecay)
        m = parameters.map { [Float](repeating: 0, count: $0.count) }
        v = parameters.map { [Float](repeating: 0, count: $0.count) }
    }

    /// Updates every parameter from its accumulated gradient.
    public func step() {
        steps += 1
        let (b1, b2, eps, decay) = (beta1, beta2, epsilon, weightDecay)
        let correction1 = 1 - Float(Foundation.pow(Double(b1), Double(steps)))
        let correction2 = 1 - Float(Foundation.pow(Double(b2), Double(steps)))
        let rate = learningRate / correction1
        let root2 = correction2.squareRoot()
        for (i, p) in parameters.enumerated() {
            let g = p.gradient.data
            let values = decay != 0 ? p.value.data : []    // a copy only when needed
            var mi = m[i], vi = v[i]
            m[i] = []
            v[i] = []
            p.update { w in
                for j in w.indices {
                    let gj = decay == 0 ? g[j] : g[j] + decay * values[j]
                    mi[j] = b1 * mi[j] + (1 - b1) * gj
                    vi[j] = b2 * vi[j] + (1 - b2) * gj * gj
                    w[j] -= rate * mi[j] / (vi[j].squareRoot() / root2 + eps)
                }
            }
            m[i] = mi
            v[i] = vi
        }
    }
}

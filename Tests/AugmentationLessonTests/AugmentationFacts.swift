import ConvNetCore
import Foundation
import Testing
import TestSupport
@testable import AugmentationLesson

/// Facts about the augmentations, each a test that fails when the fact is false.
@Suite("Augmentation: facts")
struct AugmentationFacts {
    static func photographs(side: Int = 48) throws -> [(name: String, rgb: [Float])] {
        try AugmentationPictures.photographs(FixtureLocator.root.appendingPathComponent("photos"), side: side)
    }

    @Test("the PCA's eigen-decomposition rebuilds each photograph's colour covariance (C = P diag(lambda) P^T) with orthonormal eigenvectors, eigenvalues largest first")
    func pcaDecomposition() throws {
        let photos = try Self.photographs()
        #expect(photos.count == 3)
        for photo in photos {
            let pca = ColourPCA(rgb: photo.rgb.map(Double.init), pixels: 48 * 48)
            let check = AugmentationLesson.pcaChecks(pca)
            #expect(check.reconstruction < 1e-12, "\(photo.name): covariance rebuilt to \(check.reconstruction)")
            #expect(check.orthonormality < 1e-12, "\(photo.name): P^T P - I up to \(check.orthonormality)")
            #expect(pca.eigenvalues[0] >= pca.eigenvalues[1] && pca.eigenvalues[1] >= pca.eigenvalues[2] && pca.eigenvalues[2] >= -1e-15)
            // The covariance is symmetric and its trace is the sum of the eigenvalues.
            let trace = pca.covariance[0][0] + pca.covariance[1][1] + pca.covariance[2][2]
            #expect(abs(trace - pca.eigenvalues.reduce(0, +)) < 1e-12)
        }
    }

    @Test("Jacobi's method diagonalises random symmetric matrices (3x3 and 5x5) and a known one: [[2, 1], [1, 2]] has eigenvalues 3 and 1")
    func jacobi() {
        let known = symmetricEigen([[2, 1], [1, 2]])
        #expect(abs(known.values[0] - 3) < 1e-14 && abs(known.values[1] - 1) < 1e-14)
        #expect(abs(abs(known.vectors[0][0]) - 0.5.squareRoot()) < 1e-14 && known.vectors[0][0] * known.vectors[0][1] > 0)
        var g = SeededGenerator(seed: 17)
        for n in [3, 3, 5] {
            var a = [[Double]](repeating: .init(repeating: 0, count: n), count: n)
            for r in 0..<n { for c in r..<n { a[r][c] = Double(g.nextNormal()); a[c][r] = a[r][c] } }
            let (values, vectors) = symmetricEigen(a)
            for r in 0..<n {
                for c in 0..<n {
                    let rebuilt = (0..<n).reduce(0.0) { $0 + vectors[$1][r] * values[$1] * vectors[$1][c] }
                    #expect(abs(rebuilt - a[r][c]) < 1e-12)
                    let dot = (0..<n).reduce(0.0) { $0 + vectors[r][$1] * vectors[c][$1] }
                    #expect(abs(dot - (r == c ? 1 : 0)) < 1e-12)
                }
            }
        }
    }

    @Test("the PCA colour shift keeps each photograph's mean colour direction: over 200 draws it turns it less than a shift of the same length in a random direction")
    func pcaKeepsTheMeanColour() throws {
        for photo in try Self.photographs() {
            let pca = ColourPCA(rgb: photo.rgb.map(Double.init), pixels: 48 * 48)
            var g = SeededGenerator(seed: 23)
            let turns = AugmentationLesson.meanColourTurns(pca, draws: 200, strength: .photographs(side: 48), using: &g)
            #expect(turns.pca < turns.random, "\(photo.name): PCA turned the mean colour by \(turns.pca) degrees, a random direction by \(turns.random)")
            #expect(abs(AugmentationLesson.cosineOf(pca.eigenvectors[0], pca.mean)) > 0.9, "\(photo.name): p_1 is not near the mean colour")
        }
    }

    @Test("the PCA shift adds one offset, the same to every pixel: the covariance (and so the principal axes) of the shifted image is unchanged")
    func pcaShiftIsOneOffset() throws {
        let photo = try Self.photographs()[0]
        let alphas = [0.3, -0.2, 0.1]
        let (shifted, offset) = NaiveDistortions.pcaColour(photo.rgb.map(Double.init), height: 48, width: 48, alphas: alphas, weighting: .eigenvalue)
        let before = ColourPCA(rgb: photo.rgb.map(Double.init), pixels: 48 * 48), after = ColourPCA(rgb: shifted, pixels: 48 * 48)
        for c in 0..<3 {
            #expect(abs(after.mean[c] - before.mean[c] - offset[c]) < 1e-12)
            for d in 0..<3 { #expect(abs(after.covariance[c][d] - before.covariance[c][d]) < 1e-12) }
        }
        let expected = (0..<3).map { c in (0..<3).reduce(0.0) { $0 + before.eigenvectors[$1][c] * alphas[$1] * before.eigenvalues[$1] } }
        #expect(zip(offset, expected).allSatisfy { abs($0 - $1) < 1e-15 })
    }

    @Test("mirroring changes digits: a mirrored 2, 3, 4, 7 or 9 differs from the digit far more than a 1-pixel shift does")
    func mirroredDigitsAreOtherShapes() throws {
        let digits = try LabeledImages.loadDigits(directory: FixtureLocator.url("mnist-5k"), padding: 2)
        var mirrored = 0.0, shifted = 0.0
        for label in [2, 3, 4, 7, 9] {
            let index = digits.labels.firstIndex(of: label)!
            let x = Array(digits.images.data[index * 1024..<(index + 1) * 1024])
            let m = FastDistortions.apply(.mirror, to: x, channels: 1, height: 32, width: 32, fill: 0)
            let s = FastDistortions.apply(.crop(top: 0, left: 1, height: 32, width: 32), to: x, channels: 1, height: 32, width: 32, fill: 0)
            mirrored += zip(m, x).reduce(0) { $0 + Double(abs($1.0 - $1.1)) }
            shifted += zip(s, x).reduce(0) { $0 + Double(abs($1.0 - $1.1)) }
        }
        #expect(mirrored > shifted)
    }

    @Test("streamed and inline training see the same batches: LeNet-5 ends with the same weights, bit for bit")
    func streamedEqualsInline() throws {
        var digits = try LabeledImages.loadDigits(directory: FixtureLocator.url("mnist-5k"), padding: 2).subset(Array(0..<96))
        digits.normalize(mean: 0.1, std: 0.3)
        let augment = AugmentationLesson.augmenter([.crop, .rotation, .elastic], fill: -0.33)
        func train(streamed: Bool) throws -> [[Float]] {
            let net = AugmentationLesson.network(seed: 4)
            let sgd = SGD(parameters: net.parameters, learningRate: 0.01, momentum: 0.9)
            let plan = BatchPlan(data: digits, batchSize: 16, epochs: 2, seed: 9, augment: { augment($0, &$1) })
            if streamed {
                let stream = BatchStream(plan, capacity: 2)
                _ = try trainSteps(net, optimizer: sgd, source: stream.next)
            } else {
                _ = try trainSteps(net, optimizer: sgd, source: plan.next)
            }
            return net.parameters.map(\.value.data)
        }
        #expect(try train(streamed: true) == train(streamed: false))
    }
}

import Foundation
import Testing
@testable import ConvNetCore

/// Fixtures/torchvision-counts.json's "models": name -> {"parameters", "macs", "input", …}.
private func publishedCounts() throws -> [String: [String: Any]] {
    let url = FixtureLocator.url("torchvision-counts.json")
    let json = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any]
    return try #require(json?["models"] as? [String: [String: Any]])
}

private func integer(_ v: Any?) -> Int? {
    if let i = v as? Int { return i }
    if let n = v as? NSNumber { return n.intValue }
    return nil
}

@Suite("Architectures match the published parameter counts and MACs")
struct ArchitectureCountTests {
    @Test("every key of torchvision-counts.json is a zoo name with exactly its parameters and MACs")
    func everyPublishedCountMatches() throws {
        let counts = try publishedCounts()
        #expect(counts.count >= 28)
        for (name, published) in counts.sorted(by: { $0.key < $1.key }) {
            #expect(ModelZoo.names.contains(name), "\(name) is not a zoo name")
            let input = try #require((published["input"] as? [Any])?.compactMap(integer))
            let summary = try ModelZoo.summary(name, batch: input[0])
            #expect(summary.inputShape == input, "\(name): input \(summary.inputShape) vs published \(input)")
            #expect(summary.parameters == integer(published["parameters"]), "\(name): parameters \(summary.parameters) vs \(published["parameters"]!)")
            #expect(summary.macs == integer(published["macs"]), "\(name): MACs \(summary.macs) vs \(published["macs"]!)")
        }
    }

    @Test("GoogLeNet's two auxiliary classifiers bring it to its published 13,004,888 parameters, adding no inference MACs")
    func googLeNetWithAuxiliaryClassifiers() throws {
        let published = try #require(try publishedCounts()["googlenet"])
        let summary = try ModelZoo.summary("googlenet_aux")
        #expect(summary.parameters == integer(published["parameters_with_aux"]))
        #expect(summary.macs == integer(published["macs"]))
        #expect(summary.rows.contains { $0.trainingOnly && $0.name.hasPrefix("aux1.") })
    }

    @Test("Inception-v3's auxiliary head adds 3,326,696 parameters (torchvision's 27,161,264 in all)")
    func inceptionV3Auxiliary() throws {
        #expect(InceptionV3(auxiliaryClassifier: true).parameterCount == 27_161_264)
    }

    @Test("LeNet-5's C3 connection table: 1,516 C3 parameters, 151,600 connections, 60,806 in the net")
    func leNetPartialC3() throws {
        let summary = try ModelZoo.summary("lenet5_partial_c3")
        let c3 = try #require(summary.rows.first { $0.name == "c3" })
        #expect(c3.parameters == 1_516)
        #expect(c3.macs + 10 * 10 * 16 == 151_600)   // the paper counts the bias as a connection
        #expect(summary.parameters == 60_806)
        #expect(summary.macs == 326_520)
    }

    @Test("Network-in-Network for CIFAR-10 has 966,986 parameters and ends in 10 class scores")
    func networkInNetwork() throws {
        let summary = try ModelZoo.summary("nin_cifar10")
        #expect(summary.parameters == 966_986)
        #expect(summary.outputShape == [1, 10])
    }

    @Test("summary rows add up to the totals, for every zoo model")
    func rowsAddUp() throws {
        for name in ModelZoo.names {
            let s = try ModelZoo.summary(name)
            #expect(s.rows.reduce(0) { $0 + $1.parameters } == s.parameters, "\(name)")
            #expect(s.rows.filter { !$0.trainingOnly }.reduce(0) { $0 + $1.macs } == s.macs, "\(name)")
        }
    }

    @Test("every zoo model ends in one score per class, at batch 2")
    func outputShapes() throws {
        for name in ModelZoo.names {
            let s = try ModelZoo.summary(name, batch: 2)
            let classes = name.hasPrefix("cifar") || name.hasPrefix("lenet") || name.hasPrefix("nin") ? 10 : 1000
            #expect(s.outputShape == [2, classes], "\(name): \(s.outputShape)")
        }
    }

    @Test("summaries are built from shapes: no parameter is allocated")
    func summariesAllocateNothing() throws {
        let model = ResNet.resnet152()
        _ = model.summary(inputShape: [1, 3, 224, 224])
        #expect(model.parameters.allSatisfy { !$0.isMaterialized })
    }

    @Test("the fixture manifests' architectures build with their stated parameter counts")
    func fixtureArchitectures() throws {
        for suite in ["models-public", "grads-public"] {
            let url = FixtureLocator.url("\(suite)/manifest.json")
            let manifest = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
            for case let c as [String: Any] in try #require(manifest["cases"] as? [Any]) {
                let attrs = try #require(c["attrs"] as? [String: Any])
                let model = try ModelZoo.build(architecture: try #require(attrs["arch"] as? [String: Any]))
                #expect(model.parameterCount == integer(c["parameters"]), "\(c["name"]!)")
            }
        }
    }

    @Test("an unknown name or architecture family is a clear error")
    func unknownNames() {
        #expect(throws: ModelZooError.self) { try ModelZoo.summary("resnet51") }
        #expect(throws: ModelZooError.self) { try ModelZoo.build(architecture: ["family": "torchvision.vit"]) }
        #expect(throws: ModelZooError.self) {
            try ModelZoo.build(architecture: ["family": "torchvision.resnet", "block": "basic", "layers": [1, 1, 1, 1], "groups": 2])
        }
        #expect(throws: ModelZooError.self) { try ModelZoo.build(architecture: ["family": "cifar_resnet", "depth": 21]) }
        #expect(throws: ModelZooError.self) { try ModelZoo.build(architecture: ["family": "torchvision.densenet"]) }
    }
}

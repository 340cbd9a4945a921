// Inception-v3 (Szegedy et al. 2015, "Rethinking the Inception architecture"), exactly
// as `torchvision.models.inception.Inception3` builds it, with its tensor names, for
// 299x299 images. Its ideas: factorise a 5x5 into two 3x3 convolutions, an nxn into a
// 1xn followed by an nx1, and shrink the grid with parallel stride-2 branches.
//
// Branches here are "transparent" (registered with an empty name) so their layers are
// named directly in the module, as torchvision names them: `Mixed_5b.branch5x5_1.conv`.

/// Layers applied in sequence, named directly in the parent's namespace.
private func chain(_ layers: (String, Layer)...) -> (String, Layer) {
    ("", Sequential(named: layers))
}

/// 35x35 module: 1x1 | 1x1-5x5 | 1x1-3x3-3x3 | avgpool-1x1 (Figure 5 of the paper, with
/// torchvision's 5x5 branch).
public final class InceptionA: Concatenate {
    public init(_ inChannels: Int, poolFeatures: Int) {
        super.init(branches: [
            chain(("branch1x1", BasicConv2d(inChannels, 64, kernel: 1))),
            chain(("branch5x5_1", BasicConv2d(inChannels, 48, kernel: 1)),
                  ("branch5x5_2", BasicConv2d(48, 64, kernel: 5, padding: 2))),
            chain(("branch3x3dbl_1", BasicConv2d(inChannels, 64, kernel: 1)),
                  ("branch3x3dbl_2", BasicConv2d(64, 96, kernel: 3, padding: 1)),
                  ("branch3x3dbl_3", BasicConv2d(96, 96, kernel: 3, padding: 1))),
            chain(("avg_pool", AvgPool2d(kernel: 3, stride: 1, padding: 1)),
                  ("branch_pool", BasicConv2d(inChannels, poolFeatures, kernel: 1))),
        ])
    }
    public override var description: String { "InceptionA" }
}

/// Grid reduction 35x35 -> 17x17: 3x3/2 | 1x1-3x3-3x3/2 | maxpool/2.
public final class InceptionB: Concatenate {
    public init(_ inChannels: Int) {
        super.init(branches: [
            chain(("branch3x3", BasicConv2d(inChannels, 384, kernel: 3, stride: 2))),
            chain(("branch3x3dbl_1", BasicConv2d(inChannels, 64, kernel: 1)),
                  ("branch3x3dbl_2", BasicConv2d(64, 96, kernel: 3, padding: 1)),
                  ("branch3x3dbl_3", BasicConv2d(96, 96, kernel: 3, stride: 2))),
            chain(("max_pool", MaxPool2d(kernel: 3, stride: 2))),
        ])
    }
    public override var description: String { "InceptionB" }
}

/// 17x17 module with 7x7 convolutions factorised into 1x7 and 7x1 (Figure 6).
public final class InceptionC: Concatenate {
    public init(_ inChannels: Int, channels7x7 c7: Int) {
        super.init(branches: [
            chain(("branch1x1", BasicConv2d(inChannels, 192, kernel: 1))),
            chain(("branch7x7_1", BasicConv2d(inChannels, c7, kernel: 1)),
                  ("branch7x7_2", BasicConv2d(c7, c7, kernel: (1, 7), padding: (0, 3))),
                  ("branch7x7_3", BasicConv2d(c7, 192, kernel: (7, 1), padding: (3, 0)))),
            chain(("branch7x7dbl_1", BasicConv2d(inChannels, c7, kernel: 1)),
                  ("branch7x7dbl_2", BasicConv2d(c7, c7, kernel: (7, 1), padding: (3, 0))),
                  ("branch7x7dbl_3", BasicConv2d(c7, c7, kernel: (1, 7), padding: (0, 3))),
                  ("branch7x7dbl_4", BasicConv2d(c7, c7, kernel: (7, 1), padding: (3, 0))),
                  ("branch7x7dbl_5", BasicConv2d(c7, 192, kernel: (1, 7), padding: (0, 3)))),
            chain(("avg_pool", AvgPool2d(kernel: 3, stride: 1, padding: 1)),
                  ("branch_pool", BasicConv2d(inChannels, 192, kernel: 1))),
        ])
    }
    public override var description: String { "InceptionC" }
}

/// Grid reduction 17x17 -> 8x8.
public final class InceptionD: Concatenate {
    public init(_ inChannels: Int) {
        super.init(branches: [
            chain(("branch3x3_1", BasicConv2d(inChannels, 192, kernel: 1)),
                  ("branch3x3_2", BasicConv2d(192, 320, kernel: 3, stride: 2))),
            chain(("branch7x7x3_1", BasicConv2d(inChannels, 192, kernel: 1)),
                  ("branch7x7x3_2", BasicConv2d(192, 192, kernel: (1, 7), padding: (0, 3))),
                  ("branch7x7x3_3", BasicConv2d(192, 192, kernel: (7, 1), padding: (3, 0))),
                  ("branch7x7x3_4", BasicConv2d(192, 192, kernel: 3, stride: 2))),
            chain(("max_pool", MaxPool2d(kernel: 3, stride: 2))),
        ])
    }
    public override var description: String { "InceptionD" }
}

/// 8x8 module whose 3x3 branches split into parallel 1x3 and 3x1 (Figure 7).
public final class InceptionE: Concatenate {
    public init(_ inChannels: Int) {
        super.init(branches: [
            chain(("branch1x1", BasicConv2d(inChannels, 320, kernel: 1))),
            chain(("branch3x3_1", BasicConv2d(inChannels, 384, kernel: 1)),
                  ("", Concatenate(branches: [
                      ("branch3x3_2a", BasicConv2d(384, 384, kernel: (1, 3), padding: (0, 1))),
                      ("branch3x3_2b", BasicConv2d(384, 384, kernel: (3, 1), padding: (1, 0))),
                  ]))),
            chain(("branch3x3dbl_1", BasicConv2d(inChannels, 448, kernel: 1)),
                  ("branch3x3dbl_2", BasicConv2d(448, 384, kernel: 3, padding: 1)),
                  ("", Concatenate(branches: [
                      ("branch3x3dbl_3a", BasicConv2d(384, 384, kernel: (1, 3), padding: (0, 1))),
                      ("branch3x3dbl_3b", BasicConv2d(384, 384, kernel: (3, 1), padding: (1, 0))),
                  ]))),
            chain(("avg_pool", AvgPool2d(kernel: 3, stride: 1, padding: 1)),
                  ("branch_pool", BasicConv2d(inChannels, 192, kernel: 1))),
        ])
    }
    public override var description: String { "InceptionE" }
}

/// Inception-v3's auxiliary classifier on the 17x17 grid: 5x5/3 average pool, 1x1 conv
/// to 128, 5x5 conv to 768, global average pool, fc 768 -> classes.
public final class InceptionV3Aux: Sequential {
    public init(_ inChannels: Int, classes: Int) {
        super.init(named: [
            ("avg_pool", AvgPool2d(kernel: 5, stride: 3)),
            ("conv0", BasicConv2d(inChannels, 128, kernel: 1)),
            ("conv1", BasicConv2d(128, 768, kernel: 5)),
            ("adaptive_pool", AdaptiveAvgPool2d(1)),
            ("flatten", Flatten()),
            ("fc", Linear(768, classes)),
        ])
    }
    public override var description: String { "InceptionAux" }
}

/// torchvision's Inception-v3 (`Inception3`), 299x299 input:
///
///     Conv2d_1a_3x3 /2, Conv2d_2a_3x3, Conv2d_2b_3x3, maxpool    73x73x64
///     Conv2d_3b_1x1, Conv2d_4a_3x3, maxpool                      35x35x192
///     Mixed_5b, 5c, 5d (InceptionA)                              35x35x288
///     Mixed_6a (B), 6b..6e (C)  [AuxLogits]                      17x17x768
///     Mixed_7a (D), 7b, 7c (E)                                    8x8x2048
///     avgpool, dropout 0.5, fc 2048 -> classes
///
/// Without the auxiliary head it has 23,834,568 parameters (torchvision's published
/// count; `aux_logits=True`, torchvision's default, adds 3,326,696).
public final class InceptionV3: NetworkWithAuxiliaryHeads {
    public let hasAuxiliaryClassifier: Bool

    public init(classes: Int = 1000, auxiliaryClassifier: Bool = false, dropout: Float = 0.5) {
        hasAuxiliaryClassifier = auxiliaryClassifier
        let trunk: [(String, Layer)] = [
            ("Conv2d_1a_3x3", BasicConv2d(3, 32, kernel: 3, stride: 2)),
            ("Conv2d_2a_3x3", BasicConv2d(32, 32, kernel: 3)),
            ("Conv2d_2b_3x3", BasicConv2d(32, 64, kernel: 3, padding: 1)),
            ("maxpool1", MaxPool2d(kernel: 3, stride: 2)),
            ("Conv2d_3b_1x1", BasicConv2d(64, 80, kernel: 1)),
            ("Conv2d_4a_3x3", BasicConv2d(80, 192, kernel: 3)),
            ("maxpool2", MaxPool2d(kernel: 3, stride: 2)),
            ("Mixed_5b", InceptionA(192, poolFeatures: 32)),
            ("Mixed_5c", InceptionA(256, poolFeatures: 64)),
            ("Mixed_5d", InceptionA(288, poolFeatures: 64)),
            ("Mixed_6a", InceptionB(288)),
            ("Mixed_6b", InceptionC(768, channels7x7: 128)),
            ("Mixed_6c", InceptionC(768, channels7x7: 160)),
            ("Mixed_6d", InceptionC(768, channels7x7: 160)),
            ("Mixed_6e", InceptionC(768, channels7x7: 192)),
            ("Mixed_7a", InceptionD(768)),
            ("Mixed_7b", InceptionE(1280)),
            ("Mixed_7c", InceptionE(2048)),
            ("avgpool", AdaptiveAvgPool2d(1)),
            ("dropout", Dropout(probability: dropout)),
            ("flatten", Flatten()),
            ("fc", Linear(2048, classes)),
        ]
        let heads: [(name: String, after: String, head: Layer)] = auxiliaryClassifier
            ? [("AuxLogits", "Mixed_6e", InceptionV3Aux(768, classes: classes))] : []
        super.init(trunk: trunk, heads: heads)
    }

    public override var description: String { "InceptionV3" + (hasAuxiliaryClassifier ? "(auxiliary classifier)" : "") }
}

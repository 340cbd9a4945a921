// Models: composing the kernels into networks (an overview of this directory).
//
//     Layers/          Layer (the unit), Parameter and Buffer, the layers, containers,
//                      state dicts, initialisation, loss and SGD
//     Architectures/   every network of the course, each reading like its paper's table
//     Summary/         ModelSummary (layer tables from shapes) and ModelZoo (networks by name)
//     ModelCases.swift the model_forward / model_gradients fixture cases for `lesson verify`
//
// ## A layer
//
// `Layer` is a class, like `torch.nn.Module`. It has
//
// - `forward(x)`: computes y and remembers what backward needs (its input, batch statistics,
//   a dropout mask);
// - `backward(dy)`: returns dL/dx and **adds** dL/dparameter into each parameter's `gradient`
//   (so call `model.zeroGradients()` before each step);
// - named parameters, buffers and children, which give every tensor its torchvision name
//   (`layer1.0.conv1.weight`, `layer1.0.bn1.running_mean`, `…num_batches_tracked`);
// - `isTraining` (batch norm statistics, dropout) and `kernels` (`.fast` or `.naive`),
//   both set on the whole tree by setting them on the model;
// - `outputShape(for:)` and `summarize(_:into:)`, which route *shapes* the way `forward`
//   routes tensors, so a network can be counted without weights.
//
// Parameters know their shape when built and get values only from `initialize(seed:)` or
// `loadStateDict(_:)` / `load(from:)`; that is why `ModelZoo.summary("resnet152")` takes
// milliseconds and allocates nothing.
//
// Leaves: `Conv2d` (bias, stride, padding, groups, LeNet's connection table), `ConvTranspose2d`,
// `BatchNorm2d`, `ReLU`, `Tanh`, `Sigmoid`, `MaxPool2d`, `AvgPool2d`, `AdaptiveAvgPool2d`,
// `LocalResponseNorm`, `Linear`, `Flatten`, `Dropout`. Containers: `Sequential` (chained),
// `Concatenate` (parallel branches joined along the channels). Blocks: `BasicBlock`,
// `Bottleneck`, `CifarBlock`, `DenseLayer`/`DenseBlock`/`Transition`, `BasicConv2d`,
// `InceptionModule`, `InceptionA`…`E`, `InceptionAux`, `NetworkWithAuxiliaryHeads`.
//
// ## Building and training a model
//
//     let model = ResNet(block: .basic, layers: [2, 2, 2, 2], classes: 10)   // ResNet-18's table
//     model.initialize(seed: 1)                    // He (fan_out) convs; BN 1 and 0
//     let optimizer = SGD(parameters: model.parameters, learningRate: 0.1, momentum: 0.9, weightDecay: 5e-4)
//     for batch in batches {
//         let logits = model(batch.images)                          // training mode: batch statistics
//         let (loss, dLogits) = Loss.crossEntropy(logits, targets: batch.labels)
//         model.zeroGradients()
//         _ = model.backward(dLogits)
//         optimizer.step()
//     }
//     model.eval()                                 // running statistics, no dropout
//     let logits = model.infer(images)             // inference only: batch norm folded into the
//                                                  // convolutions, residual + ReLU fused (Inference.swift),
//                                                  // channel-blocked on AVX-512 (BlockedInference.swift)
//     try model.save(to: url)                      // safetensors, torchvision names
//
//     let pretrained = ResNet.resnet18()
//     try pretrained.load(from: URL(fileURLWithPath: "resnet18.safetensors"))   // from PyTorch
//
//     print(try ModelZoo.summary("vgg16").table)   // layer table: output shape, parameters, MACs
//     model.kernels = .naive                       // the same numbers, from the readable loops
//
// ## Conventions
//
// - MACs count the multiply-accumulates of convolutions and linear layers only (torchvision's
//   figures, `torch.utils.flop_counter` / 2); auxiliary heads run only in training and are
//   not in an inference pass's MACs, but their parameters are counted.
// - Where torchvision applies one `relu` module twice, each application here is its own
//   `ReLU` (it caches its own input for backward); they share the name `relu`.
// - Children registered with an empty name are "transparent": their tensors are named in
//   the parent's namespace (Inception-v3's `Mixed_5b.branch5x5_1.conv.weight`).

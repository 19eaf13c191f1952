// swift-tools-version: 6.2
// GLMCluster: GLM-130B inference on CPU clusters with MPI tensor parallelism.
import PackageDescription

/// Release builds target a portable AVX2/FMA baseline (Haswell); without a target CPU Swift emits SSE2 code and
/// vector FMAs become libm calls (see ../shared/STYLE.md). AVX-512 paths, when added, dispatch at run time.
let kernelFlags: [SwiftSetting] = [.unsafeFlags(["-target-cpu", "haswell"], .when(configuration: .release))]

let package = Package(
    name: "GLMCluster",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "glmcluster", targets: ["GLMClusterCLI"]),
        .executable(name: "glmcluster-fuzz", targets: ["GLMClusterFuzz"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0")
    ],
    targets: [
        // C shims: no logic, only what Swift cannot import directly.
        .systemLibrary(
            name: "CMPI", path: "Sources/CMPI", pkgConfig: "ompi",
            providers: [.apt(["libopenmpi-dev"])]),
        .systemLibrary(
            name: "CBLAS", path: "Sources/CBLAS", pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(
            name: "CDeflate", path: "Sources/CDeflate", pkgConfig: "libdeflate",
            providers: [.apt(["libdeflate-dev"])]),
        .target(
            name: "CSentencePiece", path: "Sources/CSentencePiece",
            cxxSettings: [.unsafeFlags(["-std=c++17"])],
            linkerSettings: [.linkedLibrary("sentencepiece"), .linkedLibrary("sentencepiece_train")]),
        .target(
            name: "CKernels", path: "Sources/CKernels",
            cSettings: [.unsafeFlags(["-O3", "-fno-math-errno"])]),

        // What full Foundation would give, for modules that import only FoundationEssentials (libFoundation and ICU
        // would cost each MPI rank about 6 MiB resident): printf formatting, whitespace trimming, stderr lines,
        // error text, a JSON value, input errors, float32 files.
        .target(name: "Basics"),
        // The coordinator protocol: how rank 0 shares what it builds and decides from every rank's report, in one
        // binary encoding.
        .target(name: "Coordination"),
        // How tensors split across ranks (partitions, layouts, a model's tensor list): shared by the model, the
        // checkpoint code and the weight stream.
        .target(name: "Partitioning"),
        // GLM-4's tokenizer in pure Swift: a tiktoken-format vocabulary, GLM-4's pre-split, byte-pair merges.
        .target(name: "BytePairEncoding"),

        // Typed Swift wrappers over the shims.
        .target(name: "Communication", dependencies: ["CMPI", "CKernels"]),
        .target(name: "SentencePiece", dependencies: ["CSentencePiece"]),
        .target(name: "Tensors", dependencies: ["CBLAS", "CKernels"], swiftSettings: kernelFlags),

        // Domain modules.
        .target(name: "Configuration", dependencies: ["Basics", "Coordination", "SentencePiece"]),
        .target(name: "CFileGuard"),
        .target(name: "Checkpoint", dependencies: ["Basics", "CDeflate", "CFileGuard", "Partitioning", "Tensors"]),
        .target(name: "Tokenization", dependencies: ["Basics", "BytePairEncoding", "SentencePiece", "Configuration"]),
        // The model: kernels and configuration only, no file formats.
        .target(
            name: "GLM", dependencies: ["Basics", "Tensors", "Configuration", "Partitioning"],
            swiftSettings: kernelFlags),
        // Stored tensors into model weights: a model source, checkpoints to GLMWeights, checkpoint conversion.
        .target(
            name: "ModelLoading",
            dependencies: ["Basics", "Checkpoint", "Configuration", "GLM", "Partitioning", "Tensors"]),
        .target(
            name: "Generation",
            dependencies: ["Basics", "Configuration", "Coordination", "GLM", "Tokenization", "Tensors"]),

        // The engine: a model opened on every rank from plain settings, and what it runs.
        .target(
            name: "Distributed",
            dependencies: [
                "Basics", "Communication", "Configuration", "Checkpoint", "Coordination", "GLM", "Generation",
                "ModelLoading", "Partitioning", "Tokenization",
            ]),
        .target(name: "Planning", dependencies: ["Basics", "Configuration", "GLM", "Partitioning"]),
        .target(
            name: "BatchJobs",
            dependencies: ["Basics", "Coordination", "Distributed", "GLM", "Generation", "Tokenization"]),
        .target(
            name: "Benchmarking",
            dependencies: [
                "Basics", "Communication", "Configuration", "Coordination", "Distributed", "GLM", "Generation",
                "ModelLoading", "Partitioning", "Planning", "Tensors", "Tokenization",
            ]),
        // The demo model (random weights, a tokenizer trained on the project's corpus): linked by `create-model`
        // and the tests, never by the engine.
        .target(
            name: "Demo",
            dependencies: [
                "Basics", "Checkpoint", "Configuration", "GLM", "Partitioning", "SentencePiece", "Tensors",
                "Tokenization",
            ]),

        // The front-end: parses options, calls one library entry point per command, prints.
        .executableTarget(
            name: "GLMClusterCLI",
            dependencies: [
                "BatchJobs", "Basics", "Benchmarking", "Checkpoint", "Configuration", "Demo", "Distributed",
                "Generation", "GLM", "ModelLoading", "Planning", "Tensors",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),

        // The inputs users hand the engine as files, as fuzz targets, and the binary that runs them under libFuzzer
        // (scripts/fuzz.sh) or replays saved inputs.
        .target(
            name: "FuzzTargets",
            dependencies: [
                "BatchJobs", "BytePairEncoding", "Checkpoint", "Configuration", "Coordination", "GLM", "Generation",
                "Partitioning", "Tokenization",
            ]),
        .executableTarget(name: "GLMClusterFuzz", dependencies: ["Basics", "FuzzTargets"]),

        // What several test targets share: the official fixture, logit comparison, the simulated rank group, the
        // reference sampler.
        .target(
            name: "TestSupport",
            dependencies: [
                "Checkpoint", "Configuration", "Coordination", "GLM", "Generation", "ModelLoading", "Tensors",
                "Tokenization",
            ],
            path: "Tests/TestSupport"),
        .testTarget(name: "BasicsTests", dependencies: ["Basics"]),
        .testTarget(name: "BytePairEncodingTests", dependencies: ["BytePairEncoding"]),
        .testTarget(name: "CoordinationTests", dependencies: ["Coordination", "TestSupport"]),
        .testTarget(name: "PartitioningTests", dependencies: ["Partitioning"]),
        .testTarget(name: "TensorsTests", dependencies: ["Tensors"]),
        .testTarget(name: "SentencePieceTests", dependencies: ["SentencePiece", "Demo", "TestSupport"]),
        .testTarget(name: "ConfigurationTests", dependencies: ["Configuration", "Coordination", "TestSupport"]),
        .testTarget(
            name: "CheckpointTests", dependencies: ["Checkpoint", "Partitioning", "TestSupport"],
            exclude: ["reference_reader.py"]),
        .testTarget(
            name: "TokenizationTests",
            dependencies: ["Basics", "Tokenization", "SentencePiece", "Configuration", "TestSupport"]),
        .testTarget(
            name: "GLMTests",
            dependencies: ["GLM", "Configuration", "Tensors", "Generation", "Tokenization", "TestSupport"]),
        .testTarget(
            name: "ModelLoadingTests",
            dependencies: [
                "ModelLoading", "Checkpoint", "Configuration", "GLM", "Partitioning", "Tensors", "Tokenization",
                "TestSupport",
            ]),
        .testTarget(
            name: "GenerationTests",
            dependencies: ["Generation", "Coordination", "GLM", "Tensors", "Tokenization", "TestSupport"]),
        .testTarget(
            name: "DistributedTests",
            dependencies: ["Distributed", "Coordination", "Generation", "TestSupport", "Tokenization"]),
        .testTarget(name: "BatchJobsTests", dependencies: ["BatchJobs", "Generation"]),
        .testTarget(name: "PlanningTests", dependencies: ["Planning", "Configuration", "GLM", "Partitioning"]),
        .testTarget(
            name: "BenchmarkingTests",
            dependencies: ["Benchmarking", "Configuration", "Coordination", "GLM", "Partitioning", "Tensors"]),
        .testTarget(name: "DemoTests", dependencies: ["Demo", "SentencePiece", "Tokenization"]),
        .testTarget(name: "FuzzTargetsTests", dependencies: ["FuzzTargets", "TestSupport"]),
        .testTarget(name: "EndToEndTests", dependencies: ["GLMClusterCLI", "Checkpoint", "TestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)

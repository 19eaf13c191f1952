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
        .executable(name: "glmcluster", targets: ["GLMClusterCLI"])
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
        .target(
            name: "CSentencePiece", path: "Sources/CSentencePiece",
            cxxSettings: [.unsafeFlags(["-std=c++17"])],
            linkerSettings: [.linkedLibrary("sentencepiece"), .linkedLibrary("sentencepiece_train")]),

        // What full Foundation would give, for modules that import only FoundationEssentials (libFoundation and ICU
        // would cost each MPI rank about 6 MiB resident): printf formatting, whitespace trimming, stderr lines,
        // error text, a JSON value.
        .target(name: "Basics"),

        // The coordinator protocol: how rank 0 shares what it builds and decides from every rank's report, in one
        // binary encoding.
        .target(name: "Coordination"),

        // Typed Swift wrappers over the shims.
        .target(name: "Communication", dependencies: ["CMPI"]),
        .target(name: "SentencePiece", dependencies: ["CSentencePiece"]),
        .target(
            name: "CKernels", path: "Sources/CKernels",
            cSettings: [.unsafeFlags(["-O3", "-fno-math-errno"])]),
        .target(name: "Tensors", dependencies: ["CBLAS", "CKernels"], swiftSettings: kernelFlags),

        // Domain modules.
        .target(name: "Configuration", dependencies: ["Basics"]),
        .target(name: "Checkpoint", dependencies: ["Basics"]),
        .target(name: "Tokenization", dependencies: ["Basics", "SentencePiece", "Configuration"]),
        .target(
            name: "GLM", dependencies: ["Basics", "Tensors", "Checkpoint", "Configuration"], swiftSettings: kernelFlags),
        .target(name: "Generation", dependencies: ["Basics", "Coordination", "GLM", "Tokenization", "Tensors"]),
        .target(name: "BatchJobs", dependencies: ["Basics"]),
        .target(
            name: "Distributed",
            dependencies: [
                "Basics", "Communication", "Configuration", "Checkpoint", "Coordination", "GLM", "Generation",
            ]),

        // The executable only wires the modules together.
        .executableTarget(
            name: "GLMClusterCLI",
            dependencies: [
                "Basics", "Communication", "Configuration", "Checkpoint", "GLM", "Distributed", "Tokenization",
                "Generation", "Tensors", "BatchJobs",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),

        // What several test targets share (logit comparisons).
        .target(name: "TestSupport", dependencies: ["Coordination", "Generation"], path: "Tests/TestSupport"),
        .testTarget(name: "CoordinationTests", dependencies: ["Coordination", "TestSupport"]),
        .testTarget(name: "BasicsTests", dependencies: ["Basics"]),
        .testTarget(name: "CheckpointTests", dependencies: ["Checkpoint"], exclude: ["reference_reader.py"]),
        .testTarget(name: "TokenizationTests", dependencies: ["Tokenization", "SentencePiece", "Configuration"]),
        .testTarget(name: "TensorsTests", dependencies: ["Tensors"]),
        .testTarget(
            name: "GLMTests",
            dependencies: [
                "GLM", "Checkpoint", "Configuration", "Tensors", "Generation", "Tokenization", "TestSupport",
            ]),
        .testTarget(name: "BatchJobsTests", dependencies: ["BatchJobs"]),
        .testTarget(name: "EndToEndTests", dependencies: ["GLMClusterCLI", "Checkpoint", "TestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)

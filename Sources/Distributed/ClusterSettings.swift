import Communication
import GLM
import Tensors

/// How this process takes part in a tensor-parallel job (`mpirun -np N glmcluster ...`) and how it computes.
public struct ClusterSettings: Sendable, Equatable {
    /// Where ranks get their weights.
    public enum WeightSource: String, Sendable, CaseIterable {
        /// Every rank memory-maps its own slice from a filesystem all ranks see.
        case shared
        /// Rank 0 reads the checkpoint and sends each rank its slice over MPI.
        case coordinator
    }

    /// Must equal the number of MPI ranks; nil: the world size.
    public var tensorParallelDegree: Int?
    /// Compute threads per rank, OpenBLAS included; nil: the CPUs this rank is bound to.
    public var threads: Int?
    public var weightSource: WeightSource
    public var precision: MatmulPrecision
    public var kvCacheFormat: KVCache.Format
    /// How the tensor-parallel partial sums travel between ranks (fp32: the official math).
    public var allreduceFormat: Communicator.SumFormat
    /// A local directory where ranks keep the weight parts rank 0 sent them, for the next start
    /// (`--weight-cache`; only with `--weights-from coordinator`).
    public var weightCache: String?
    /// What every rank must run identically besides these settings: the subcommand and the settings of its own
    /// that each rank applies locally (a batch's limits, a benchmark's sizes), as the front-end describes them.
    public var job: String
    /// Seconds without a heartbeat after which a rank counts as lost and the job ends (0: not watched).
    public var peerTimeout: Double
    /// The shortest `--peer-timeout` other than 0: four heartbeat intervals.
    public static let minimumPeerTimeout = 2.0

    public init(
        tensorParallelDegree: Int? = nil, threads: Int? = nil, weightSource: WeightSource = .shared,
        precision: MatmulPrecision = .exact, kvCacheFormat: KVCache.Format = .fp32,
        allreduceFormat: Communicator.SumFormat = .fp32, weightCache: String? = nil, job: String = "",
        peerTimeout: Double = ClusterSettings.defaultPeerTimeout
    ) {
        self.tensorParallelDegree = tensorParallelDegree
        self.threads = threads
        self.weightSource = weightSource
        self.precision = precision
        self.kvCacheFormat = kvCacheFormat
        self.allreduceFormat = allreduceFormat
        self.weightCache = weightCache
        self.job = job
        self.peerTimeout = peerTimeout
    }

    /// Long enough that a loaded node's scheduler or a slow filesystem never trips it (the heartbeat thread is
    /// independent of compute steps, however long), short enough that a lost node ends the job while its operator
    /// still watches.
    public static let defaultPeerTimeout = 10.0

    /// The job with these settings and the model's load-time quantization, which change the computation (not the
    /// thread count, which changes no result).
    public func jobDescription(quantization: QuantizationScheme?) -> String {
        "\(job) (--weights-from \(weightSource.rawValue), --precision \(precision.rawValue), --kv-cache "
            + "\(kvCacheFormat.rawValue), --allreduce \(allreduceFormat.rawValue)"
            + "\(quantization.map { ", --quantize \($0.rawValue)" } ?? ""))"
    }

    /// Compute threads a rank may start (a pool this large already exceeds any CPU a rank is bound to).
    public static let maximumThreads = 1024
    /// The largest tensor-parallel degree (more ranks than any model has heads).
    public static let maximumTensorParallelDegree = 4096

    /// The checks that need no model: degree and thread count in range.
    public func validate() throws(ClusterSettingsError) {
        if let tensorParallelDegree, tensorParallelDegree < 1 {
            throw ClusterSettingsError(description: "--tp must be positive, got \(tensorParallelDegree)")
        }
        if let threads, threads < 1 {
            throw ClusterSettingsError(description: "--threads must be positive, got \(threads)")
        }
        if let threads, threads > Self.maximumThreads {
            throw ClusterSettingsError(description: "--threads must be at most \(Self.maximumThreads), got \(threads)")
        }
        // Heartbeats go out twice a second: a shorter timeout would take a busy but healthy rank for a lost one.
        if !(peerTimeout == 0 || (peerTimeout >= Self.minimumPeerTimeout && peerTimeout <= 86_400)) {
            throw ClusterSettingsError(
                description: "--peer-timeout must be 0 (off) or between \(Int(Self.minimumPeerTimeout)) and 86400 "
                    + "seconds, got \(peerTimeout)")
        }
        if let weightCache {
            guard weightSource == .coordinator else {
                throw ClusterSettingsError(
                    description: "--weight-cache keeps the weights rank 0 sends: it needs --weights-from coordinator")
            }
            guard !weightCache.isEmpty else {
                throw ClusterSettingsError(description: "--weight-cache must name a directory")
            }
        }
        if let tensorParallelDegree, tensorParallelDegree > Self.maximumTensorParallelDegree {
            throw ClusterSettingsError(
                description: "--tp must be at most \(Self.maximumTensorParallelDegree), got \(tensorParallelDegree)")
        }
    }
}

/// Cluster settings that cannot work, named as the command line spells them.
public struct ClusterSettingsError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(description: String) { self.description = description }
}

import ArgumentParser
import Benchmarking
import Communication
import Distributed
import GLM
import Planning
import Tensors

// The library's option values, readable from the command line by their raw names.
extension MatmulPrecision: ExpressibleByArgument {}
extension KVCache.Format: ExpressibleByArgument {}
extension QuantizationScheme: ExpressibleByArgument {}
extension ClusterSettings.WeightSource: ExpressibleByArgument {}
extension Communicator.SumFormat: ExpressibleByArgument {}
extension BenchSettings.DType: ExpressibleByArgument {}
extension PlannedWeightFormat: ExpressibleByArgument {}
extension BenchSettings.OutputFormat: ExpressibleByArgument {}

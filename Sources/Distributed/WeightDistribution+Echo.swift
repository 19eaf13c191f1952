extension WeightDistributionError: EchoedFailure {
    /// A worker's "rank 0 failed: ..." repeats rank 0's own error, which `agree` reports instead.
    public var isEcho: Bool {
        if case .coordinatorFailed = self { return true }
        return false
    }
}

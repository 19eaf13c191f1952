/// The largest |a - b|, or infinity where a pair differs by NaN (`max` would keep the running value and let a NaN
/// output pass) or the lengths differ.
public func maxAbsDifference(_ a: [Float], _ b: [Float]) -> Float {
    guard a.count == b.count else { return .infinity }
    return zip(a, b).reduce(0) { worst, pair in
        let difference = abs(pair.0 - pair.1)
        return difference.isNaN ? .infinity : max(worst, difference)
    }
}

/// Where a blank's context ends and how its tokens are positioned and masked (spec section 5, the official
/// `get_masks_and_position_ids`).
///
/// The context holds `contextLength` tokens ending with `<sop>`. Tokens before `<sop>` see each other
/// bidirectionally; `<sop>` and generated tokens see everything before them causally. Positions are 1-D: plain
/// `0, 1, 2, ...` for `[gMASK]`; for `[MASK]`/`[sMASK]`, `<sop>` and every generated token take the mask's position.
public struct SequenceLayout: Sendable, Equatable {
    /// Context length including the trailing `<sop>`.
    public let contextLength: Int
    /// Index of the generation mask token inside the context.
    public let maskPosition: Int
    /// True for `[gMASK]` (plain positions), false for `[MASK]`/`[sMASK]`.
    public let useGMask: Bool

    public init(contextLength: Int, maskPosition: Int, useGMask: Bool) {
        self.contextLength = contextLength
        self.maskPosition = maskPosition
        self.useGMask = useGMask
    }

    /// Tokens `0 ..< bidirectionalPrefix` attend to each other in both directions.
    public var bidirectionalPrefix: Int { contextLength - 1 }

    /// The 1-D position id of the token at `index`.
    public func position(of index: Int) -> Int {
        useGMask || index < contextLength - 1 ? index : maskPosition
    }

    /// Whether the query at `row` may attend to the key at `column`.
    @inline(__always)
    public func allows(row: Int, column: Int) -> Bool {
        column < bidirectionalPrefix || column <= row
    }
}

import Passes

extension PassContext {
    /// What tests compile with: every pass's result is verified (`--verify-each`).
    static var checked: PassContext { checked() }

    static func checked(fusion: Bool = true) -> PassContext { PassContext(options: PassOptions(verifyEach: true, fusion: fusion)) }
}

import Foundation
import Runtime

extension World {
    nonisolated(unsafe) private static var installed: MPIGradientCommunicator?

    /// The communicator the all-reduce kernels use, installed on first call (nil in a world of
    /// one: the kernels then leave the gradients as they are).
    public func gradientCommunicator() -> MPIGradientCommunicator? {
        guard isDistributed else { return nil }
        if let c = World.installed { return c }
        let c = MPIGradientCommunicator(world: self)
        World.installed = c
        GradientExchange.communicator = c
        return c
    }

    /// Test hook: with `GRAPHC_TEST_KILL_RANK=R:S` in the environment, rank R kills itself with
    /// SIGKILL just before training step S (counted from 1), as a crashed or killed process
    /// would die, so tests can show the job then stops with an error naming the rank.
    public func killForTest(atStep step: Int) {
        guard isDistributed, let spec = ProcessInfo.processInfo.environment["GRAPHC_TEST_KILL_RANK"] else { return }
        let parts = spec.split(separator: ":").compactMap { Int($0) }
        guard parts.count == 2, parts[0] == rank, parts[1] == step else { return }
        kill(getpid(), SIGKILL)
    }
}

internal import CArgon2
import Dispatch
import Foundation
import Glibc

/// Argon2's working memory (19 MiB per hash at the default cost), reused across hashes.
///
/// With plain malloc, glibc raises its mmap threshold after the first large free and then keeps
/// every concurrent hash's buffer in its own arena: resident memory ratchets up with the most
/// logins ever seen at once. Here at most `concurrentHashes` hashes run at a time (more gain
/// nothing on a 1–2 core server) and their buffers are kept and reused, so memory is bounded and
/// later hashes skip the page faults of fresh memory.
enum Argon2Memory {
    static let concurrentHashes = 2
    static let slots = DispatchSemaphore(value: concurrentHashes)

    private struct Buffer: @unchecked Sendable {
        let pointer: UnsafeMutableRawPointer
        let size: Int
    }

    // An NSLock (a pthread mutex ThreadSanitizer can see) guards the idle buffers.
    private static let lock = NSLock()
    nonisolated(unsafe) private static var idleBuffers: [Buffer] = []

    private static func withIdle<Result>(_ body: (inout [Buffer]) -> Result) -> Result {
        lock.lock()
        defer { lock.unlock() }
        return body(&idleBuffers)
    }

    /// Runs `body` holding one of the hash slots.
    static func withSlot<T>(_ body: () throws -> T) rethrows -> T {
        slots.wait()
        defer { slots.signal() }
        return try body()
    }

    static let allocate: allocate_fptr = { memory, size in
        let reused = withIdle { buffers -> UnsafeMutableRawPointer? in
            guard let index = buffers.firstIndex(where: { $0.size == size }) else { return nil }
            return buffers.remove(at: index).pointer
        }
        guard let pointer = reused ?? malloc(size) else { return ARGON2_MEMORY_ALLOCATION_ERROR.rawValue }
        memory?.pointee = pointer.assumingMemoryBound(to: UInt8.self)
        return ARGON2_OK.rawValue
    }

    static let deallocate: deallocate_fptr = { memory, size in
        guard let memory else { return }
        let kept = withIdle { buffers -> Bool in
            // Keep one buffer per slot; a change of cost parameters replaces old sizes.
            for stale in buffers where stale.size != size { free(stale.pointer) }
            buffers.removeAll { $0.size != size }
            guard buffers.count < concurrentHashes else { return false }
            buffers.append(Buffer(pointer: UnsafeMutableRawPointer(memory), size: size))
            return true
        }
        if !kept { free(memory) }
    }
}

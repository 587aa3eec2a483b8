import Foundation

/// A value shared between worker threads behind one `NSLock`.
///
/// Not `Synchronization.Mutex`: on Linux its contended path runs in the toolchain's
/// uninstrumented library, so ThreadSanitizer cannot see the lock and reports false races; an
/// `NSLock` is a pthread mutex, which it sees.
final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) {
        self.value = value
    }

    func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}

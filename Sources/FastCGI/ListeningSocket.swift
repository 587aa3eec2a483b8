internal import CFastCGI
import Glibc

/// Where the responder takes connections from, in the order docs/ARCHITECTURE.md gives (Contracts).
public enum ListenAddress: Sendable, Equatable {
    /// An already listening socket on fd 0 (systemd `StandardInput=socket`).
    case inherited
    /// A unix socket created at this path with mode 0660.
    case unixSocket(path: String)
    /// A TCP socket, for development only.
    case tcp(host: String, port: Int)
}

public enum ListeningSocketError: Error, CustomStringConvertible {
    case cannotOpen(String, errno: Int32)
    case cannotSetMode(String, errno: Int32)
    case notListening

    public var description: String {
        switch self {
        case .cannotOpen(let address, let code):
            "cannot listen on \(address): \(String(cString: strerror(code))) — check the directory exists and is writable"
        case .cannotSetMode(let path, let code):
            "cannot set mode 0660 on \(path): \(String(cString: strerror(code)))"
        case .notListening:
            "no listening socket on fd 0 and neither --socket nor --listen given"
        }
    }
}

/// The listening socket shared by all workers.
public struct ListeningSocket: Sendable {
    public let descriptor: Int32
    public let address: ListenAddress

    /// True when fd 0 is a socket in the listening state, as systemd passes it.
    public static func standardInputIsListeningSocket() -> Bool {
        var info = stat()
        guard fstat(0, &info) == 0, (info.st_mode & S_IFMT) == S_IFSOCK else { return false }
        var accepting: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(0, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &length) == 0 else { return false }
        return accepting != 0
    }

    /// Opens (or adopts) the socket. `FCGX_Init` must have run.
    public static func open(_ address: ListenAddress, backlog: Int32 = 128) throws(ListeningSocketError) -> ListeningSocket {
        let descriptor: Int32
        switch address {
        case .inherited:
            guard standardInputIsListeningSocket() else { throw .notListening }
            descriptor = 0
        case .unixSocket(let path):
            var info = stat()
            if lstat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFSOCK {
                unlink(path)  // a stale socket from an earlier run
            }
            let opened = FCGX_OpenSocket(path, backlog)
            guard opened >= 0 else { throw .cannotOpen(path, errno: errno) }
            guard chmod(path, 0o660) == 0 else { throw .cannotSetMode(path, errno: errno) }
            descriptor = opened
        case .tcp(let host, let port):
            let spec = "\(host):\(port)"
            let opened = FCGX_OpenSocket(spec, backlog)
            guard opened >= 0 else { throw .cannotOpen(spec, errno: errno) }
            descriptor = opened
        }
        // Workers poll the socket and then accept; non-blocking so a worker that loses the
        // race for a connection returns to its poll (and sees a shutdown) instead of blocking.
        let flags = fcntl(descriptor, F_GETFL)
        _ = fcntl(descriptor, F_SETFL, flags | O_NONBLOCK)
        return ListeningSocket(descriptor: descriptor, address: address)
    }
}

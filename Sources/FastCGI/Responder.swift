internal import CCrashRecord
internal import CFastCGI
import Foundation
import Glibc
import Logging
import Synchronization

/// Something that turns a request into a response. Called concurrently from worker threads.
public protocol RequestHandler: Sendable {
    func handle(_ request: Request) -> Response
}

/// A FastCGI responder: a fixed pool of worker threads, each running `FCGX_Accept_r` on one
/// shared listening socket.
///
/// Signals: SIGTERM and SIGINT stop accepting, let in-flight requests finish and return from
/// `run()` (at most `drainTimeout` later); SIGHUP calls `onReload`. Signals are taken by one
/// dedicated thread with `sigwait`, so no worker is ever interrupted mid-request.
public final class Responder: Sendable {
    public let workerCount: Int
    public let bodyLimit: Int
    public let drainTimeout: Duration
    private let handler: any RequestHandler
    private let logger: Logger
    private let onReload: @Sendable () -> Void
    private let stopping = Atomic<Bool>(false)
    private let running = Atomic<Int>(0)

    public init(
        workers: Int, bodyLimit: Int = 64 * 1024, drainTimeout: Duration = .seconds(9),
        handler: any RequestHandler, logger: Logger, onReload: @escaping @Sendable () -> Void = {}
    ) {
        self.workerCount = max(1, workers)
        self.bodyLimit = bodyLimit
        self.drainTimeout = drainTimeout
        self.handler = handler
        self.logger = logger
        self.onReload = onReload
    }

    /// Initialises libfcgi. Call once, before opening a socket and before `run`.
    ///
    /// Debian's libfcgi installs its own SIGTERM, SIGUSR1 and SIGPIPE handlers here, so our
    /// signal set-up in `run` comes after it.
    public static func initializeLibrary() {
        _ = FCGX_Init()
    }

    /// Serves until SIGTERM or SIGINT, then drains. Returns true when every request finished.
    @discardableResult
    public func run(on socket: ListeningSocket) -> Bool {
        signal(SIGPIPE, SIG_IGN)
        var handled = sigset_t()
        sigemptyset(&handled)
        for number in [SIGTERM, SIGINT, SIGHUP, SIGUSR1] { sigaddset(&handled, number) }
        pthread_sigmask(SIG_BLOCK, &handled, nil)  // inherited by every thread started below

        let finished = DispatchGroup()
        for index in 0..<workerCount {
            finished.enter()
            let thread = Thread { [self] in
                self.work(on: socket.descriptor, worker: index)
                finished.leave()
            }
            thread.name = "fcgi-worker-\(index)"
            thread.start()
        }
        let signalSet = handled
        let signals = Thread { [self] in self.waitForSignals(signalSet) }
        signals.name = "signals"
        signals.start()
        logger.info("serving", metadata: ["workers": "\(workerCount)", "socket": "\(socket.address)"])

        while !stopping.load(ordering: .acquiring) { usleep(50_000) }
        let deadline = DispatchTime.now() + .milliseconds(Int(drainTimeout.components.seconds * 1000))
        let drained = finished.wait(timeout: deadline) == .success
        if drained {
            logger.info("stopped: all requests finished")
        } else {
            logger.warning(
                "stopped: requests still running after the drain timeout",
                metadata: ["running": "\(running.load(ordering: .relaxed))"])
        }
        return drained
    }

    /// Asks the responder to stop, as SIGTERM does.
    public func stop() {
        stopping.store(true, ordering: .releasing)
    }

    private func waitForSignals(_ set: sigset_t) {
        var set = set
        while !stopping.load(ordering: .acquiring) {
            var number: Int32 = 0
            guard sigwait(&set, &number) == 0 else { continue }
            switch number {
            case SIGHUP:
                logger.info("SIGHUP: reloading templates")
                onReload()
            case SIGTERM, SIGINT:
                logger.info("signal \(number): stopping, finishing in-flight requests")
                stop()
            default:
                continue
            }
        }
    }

    private func work(on descriptor: Int32, worker: Int) {
        var request = FCGX_Request()
        FCGX_InitRequest(&request, descriptor, 0)
        // One epoll set per worker with EPOLLEXCLUSIVE: a new connection wakes one idle worker
        // instead of all of them (poll(2) on a shared socket wakes every waiter).
        let events = epoll_create1(Int32(EPOLL_CLOEXEC))
        var interest = epoll_event()
        interest.events = EPOLLIN.rawValue | EPOLLEXCLUSIVE.rawValue
        interest.data.fd = descriptor
        let watching = events >= 0 && epoll_ctl(events, EPOLL_CTL_ADD, descriptor, &interest) == 0
        var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        var ready = epoll_event()
        var ids = RequestIDs()
        defer { if events >= 0 { close(events) } }
        while !stopping.load(ordering: .acquiring) {
            let count: Int32
            if watching {
                count = epoll_wait(events, &ready, 1, 200)
            } else {
                poller.revents = 0
                count = poll(&poller, 1, 200)
            }
            guard count > 0, !stopping.load(ordering: .acquiring) else { continue }
            // Lost the race for this connection to another worker, or garbage instead of a
            // FastCGI begin record: back to polling.
            guard FCGX_Accept_r(&request) >= 0 else { continue }
            running.add(1, ordering: .relaxed)
            crash_record_begin(Int32(worker), request.envp)
            serve(&request, id: ids.next())
            // Before the response is flushed: a client that has its answer is no longer in flight.
            crash_record_end(Int32(worker))
            FCGX_Finish_r(&request)
            running.subtract(1, ordering: .relaxed)
        }
        FCGX_Free(&request, 0)
    }

    private func serve(_ raw: inout FCGX_Request, id: String) {
        let (params, invalidEncoding) = Parameters.read(raw.envp)
        var body: [UInt8] = []
        var tooLarge = false
        let announced = params["CONTENT_LENGTH"].flatMap { Int($0) } ?? 0
        if announced > bodyLimit {
            tooLarge = true
        } else {
            // Read what arrives, up to one byte past the limit, whatever was announced.
            withUnsafeTemporaryAllocation(of: CChar.self, capacity: 16 * 1024) { buffer in
                while body.count <= bodyLimit {
                    let count = FCGX_GetStr(buffer.baseAddress!, Int32(buffer.count), raw.in)
                    guard count > 0 else { break }
                    body.append(
                        contentsOf: UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(buffer)[..<Int(count)]))
                }
            }
            if body.count > bodyLimit {
                tooLarge = true
                body = []
            }
        }
        let response = handler.handle(
            Request(
                params: params, body: body, id: id, bodyTooLarge: tooLarge,
                hasInvalidParameterEncoding: invalidEncoding))
        write(response, to: raw.out)
    }

    private func write(_ response: Response, to stream: UnsafeMutablePointer<FCGX_Stream>?) {
        let head = response.headBytes
        head.withUnsafeBufferPointer { pointer in
            pointer.baseAddress!.withMemoryRebound(to: CChar.self, capacity: pointer.count) {
                _ = FCGX_PutStr($0, Int32(pointer.count), stream)
            }
        }
        guard !response.body.isEmpty else { return }
        response.body.withUnsafeBufferPointer { pointer in
            pointer.baseAddress!.withMemoryRebound(to: CChar.self, capacity: pointer.count) {
                _ = FCGX_PutStr($0, Int32(pointer.count), stream)
            }
        }
    }

}

/// Request ids: 12 lowercase hex digits, from a generator each worker seeds once from the
/// system's random source (SplitMix64). They name a request in the log and on its error page,
/// so they need to be distinct, not secret: a system call per request bought nothing.
struct RequestIDs {
    private var state: UInt64

    init() {
        var system = SystemRandomNumberGenerator()
        state = system.next()
    }

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> String {
        state &+= 0x9E37_79B9_7F4A_7C15
        var mixed = state
        mixed = (mixed ^ (mixed >> 30)) &* 0xBF58_476D_1CE4_E5B9
        mixed = (mixed ^ (mixed >> 27)) &* 0x94D0_49BB_1331_11EB
        mixed ^= mixed >> 31
        let value = mixed & 0xFFFF_FFFF_FFFF
        let digits: StaticString = "0123456789abcdef"
        return String(unsafeUninitializedCapacity: 12) { buffer in
            for index in 0..<12 {
                buffer[index] = digits.utf8Start[Int((value >> UInt64(44 - 4 * index)) & 0xF)]
            }
            return 12
        }
    }
}

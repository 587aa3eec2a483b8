import ArgumentParser
import FastCGI
import Foundation
import Logging
import PortalStore
import PortalWeb

struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the FastCGI responder.",
        discussion: """
            Listens on, in this order: a listening socket inherited on fd 0 (systemd StandardInput=socket),
            else --socket PATH (a unix socket, mode 0660), else --listen HOST:PORT. Refuses a database
            whose schema is not current (run `lynx-portal migrate`; one migrated by a newer portal is
            never touched) and compiles every template first; a broken template stops start-up with
            its file name.
            SIGTERM: stop accepting, finish in-flight requests, exit 0. SIGHUP: reload templates.
            Exit status 78 (EX_CONFIG): the configuration, the schema, a template or the socket is wrong, and
            starting again will not help; the unit does not restart on it. A crash (a fatal signal)
            is written to stderr and to crash.log in the data directory; `doctor` reports it.
            """)

    /// sysexits.h's EX_CONFIG: the unit's RestartPreventExitStatus= names it.
    static let configurationError: Int32 = 78

    @Option(help: "Unix socket path to create (mode 0660).")
    var socket: String?

    @Option(help: "TCP HOST:PORT to listen on (development only; production uses the unix socket).")
    var listen: String?

    @Option(help: "Worker threads, each handling one request at a time.")
    var workers: Int = 4

    func validate() throws {
        guard (1...64).contains(workers) else { throw ValidationError("--workers must be between 1 and 64") }
    }

    func run() throws {
        LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        let logger = Logger(label: "lynx-portal")
        var configuration: PortalConfiguration
        do {
            configuration = try PortalConfiguration()
            configuration.build = .stamped
        } catch {
            fail("configuration: \(error)", code: Self.configurationError)
        }

        Responder.initializeLibrary()
        let address: ListenAddress
        if ListeningSocket.standardInputIsListeningSocket() {
            address = .inherited
        } else if let socket {
            address = .unixSocket(path: socket)
        } else if let listen {
            let parts = listen.split(separator: ":")
            guard parts.count == 2, let port = Int(parts[1]), (1...65535).contains(port) else {
                fail("--listen expects HOST:PORT, got '\(listen)'", code: Self.configurationError)
            }
            address = .tcp(host: String(parts[0]), port: port)
        } else {
            fail("no listening socket on fd 0 and neither --socket nor --listen given", code: Self.configurationError)
        }

        // The schema must be current: `lynx-portal migrate` is the only command that migrates.
        let database = SchemaGate.openCurrent(dataDirectory: configuration.dataDirectory, perThreadReaders: true)
        let crashFile = CrashRecord.file(inDataDirectory: configuration.dataDirectory)
        let opened = CrashRecord.install(file: crashFile, workers: workers)
        if opened != 0 {
            logger.warning(
                "crash record: cannot open \(crashFile): \(String(cString: strerror(opened))); crashes go to stderr only")
        }
        let templates: TemplateSet
        do {
            templates = try TemplateSet(
                directory: configuration.templatesDirectory,
                watchForChanges: configuration.reloadTemplatesOnChange, logger: logger)
        } catch {
            fail("template \(error)", code: Self.configurationError)
        }
        let listening: ListeningSocket
        do {
            listening = try ListeningSocket.open(address)
        } catch {
            fail("\(error)", code: Self.configurationError)
        }
        let portal = Portal(configuration: configuration, database: database, templates: templates, logger: logger)
        let responder = Responder(
            workers: workers, handler: portal, logger: logger, onReload: { templates.reload() })
        // Exit 0 either way: a stop is not a failure, and systemd must not restart a stopped unit.
        // A drain that timed out is logged by the responder.
        responder.run(on: listening)
        if case .unixSocket(let path) = address { unlink(path) }
        Foundation.exit(0)
    }
}

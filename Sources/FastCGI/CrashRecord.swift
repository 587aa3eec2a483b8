internal import CCrashRecord

/// What the process was doing when a fatal signal ended it, written as one line to stderr (the
/// journal under systemd) and appended to a crash file that `lynx-portal doctor` reads.
///
/// Each worker has a preallocated slot holding the method and path (never the query) of the
/// request it is serving; the signal handler only reads those slots and calls write(2).
public enum CrashRecord {
    /// Where the crash file lives in a data directory; `file + ".1"` holds the previous one.
    public static func file(inDataDirectory directory: String) -> String { directory + "/crash.log" }

    /// Installs the handlers for SIGILL, SIGTRAP, SIGABRT, SIGBUS, SIGFPE and SIGSEGV, with one
    /// slot per worker. Returns the errno of opening `file` (0 when it opened): without the file
    /// the line still goes to stderr.
    @discardableResult
    public static func install(file: String, workers: Int) -> Int32 {
        crash_record_install(file, Int32(workers))
    }
}

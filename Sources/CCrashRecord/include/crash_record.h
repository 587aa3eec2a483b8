#ifndef CRASH_RECORD_H
#define CRASH_RECORD_H

/// A record of what each worker is serving, written out by a fatal signal.
///
/// `crash_record_install` preallocates one slot per worker and installs handlers for SIGILL,
/// SIGTRAP, SIGABRT, SIGBUS, SIGFPE and SIGSEGV. A handler writes one line with write(2) to
/// stderr and appends it to the crash file (while that is under 128 KiB), naming the signal,
/// the time and the requests in flight (method and path, never the query), then lets the
/// signal take its default action. Everything the handler touches is allocated beforehand.

/// Opens (creates, mode 0640 before umask) `path` for appending, moving an existing file over
/// 64 KiB to `path.1` first, and installs the handlers. Returns 0, or an errno value.
int crash_record_install(const char *path, int workers);

/// Records that `worker` is serving the request whose FastCGI parameters are `envp`.
void crash_record_begin(int worker, char *const *envp);

/// Records that `worker` finished its request.
void crash_record_end(int worker);

#endif

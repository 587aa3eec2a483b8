#define _GNU_SOURCE
#include "crash_record.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum {
    slot_bytes = 160,
    line_bytes = 2048,
    rotate_at = 64 * 1024,
    stop_appending_at = 128 * 1024,
};

struct slot {
    /// 0 while idle; otherwise the length of `text`, stored after the text is written.
    _Atomic int length;
    char text[slot_bytes];
};

static struct slot *slots;
static int slot_count;
static int crash_file = -1;
static __thread int current_worker = -1;
static char line[line_bytes];
static atomic_flag writing = ATOMIC_FLAG_INIT;

static const int fatal_signals[] = {SIGILL, SIGTRAP, SIGABRT, SIGBUS, SIGFPE, SIGSEGV};

static const char *signal_name(int number) {
    switch (number) {
    case SIGILL: return "SIGILL";
    case SIGTRAP: return "SIGTRAP";
    case SIGABRT: return "SIGABRT";
    case SIGBUS: return "SIGBUS";
    case SIGFPE: return "SIGFPE";
    case SIGSEGV: return "SIGSEGV";
    default: return "signal";
    }
}

struct writer {
    char *buffer;
    int used;
    int capacity;
};

static void put(struct writer *w, const char *text, int length) {
    for (int i = 0; i < length && w->used < w->capacity; i++) w->buffer[w->used++] = text[i];
}

static void put_string(struct writer *w, const char *text) { put(w, text, (int)strlen(text)); }

static void put_number(struct writer *w, long long value, int width) {
    char digits[24];
    int count = 0;
    if (value < 0) value = 0;
    do {
        digits[count++] = (char)('0' + value % 10);
        value /= 10;
    } while (value > 0 && count < (int)sizeof digits);
    while (count < width && count < (int)sizeof digits) digits[count++] = '0';
    while (count > 0) put(w, &digits[--count], 1);
}

/// UTC calendar time from seconds since the epoch, without gmtime (not async-signal-safe).
static void put_time(struct writer *w, long long seconds) {
    long long days = seconds / 86400, rest = seconds % 86400;
    // Howard Hinnant's civil_from_days.
    long long z = days + 719468;
    long long era = z / 146097;
    long long doe = z - era * 146097;
    long long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long long mp = (5 * doy + 2) / 153;
    long long day = doy - (153 * mp + 2) / 5 + 1;
    long long month = mp < 10 ? mp + 3 : mp - 9;
    long long year = yoe + era * 400 + (month <= 2);
    put_number(w, year, 4);
    put(w, "-", 1);
    put_number(w, month, 2);
    put(w, "-", 1);
    put_number(w, day, 2);
    put(w, "T", 1);
    put_number(w, rest / 3600, 2);
    put(w, ":", 1);
    put_number(w, rest / 60 % 60, 2);
    put(w, ":", 1);
    put_number(w, rest % 60, 2);
    put(w, "Z", 1);
}

static void write_all(int descriptor, const char *buffer, int length) {
    while (length > 0) {
        ssize_t written = write(descriptor, buffer, (size_t)length);
        if (written < 0 && errno == EINTR) continue;
        if (written <= 0) return;
        buffer += written;
        length -= (int)written;
    }
}

static void on_fatal_signal(int number) {
    int saved = errno;
    // Two threads faulting at once: the second waits for nothing and just dies with its signal.
    if (!atomic_flag_test_and_set(&writing)) {
        struct writer w = {line, 0, line_bytes - 1};
        struct timespec now = {0, 0};
        clock_gettime(CLOCK_REALTIME, &now);
        put_string(&w, "lynx-portal: crashed: ");
        put_string(&w, signal_name(number));
        put_string(&w, " (signal ");
        put_number(&w, number, 1);
        put_string(&w, ") at ");
        put_time(&w, (long long)now.tv_sec);
        put_string(&w, " pid ");
        put_number(&w, (long long)getpid(), 1);
        int listed = 0;
        for (int index = 0; index < slot_count; index++) {
            int length = atomic_load(&slots[index].length);
            if (length <= 0) continue;
            put_string(&w, listed == 0 ? "; requests in flight: " : ", ");
            put(&w, slots[index].text, length < slot_bytes ? length : slot_bytes);
            if (index == current_worker) put_string(&w, " [this thread]");
            listed++;
        }
        if (listed == 0) put_string(&w, "; no request in flight");
        line[w.used++] = '\n';
        write_all(STDERR_FILENO, line, w.used);
        struct stat info;
        if (crash_file >= 0 && fstat(crash_file, &info) == 0 && info.st_size < stop_appending_at) {
            write_all(crash_file, line, w.used);
        }
    }
    // Default action from here on: the signal, pending until this handler returns, then ends
    // the process as if no handler had been installed (systemd sees the signal, not an exit).
    struct sigaction fallback;
    memset(&fallback, 0, sizeof fallback);
    fallback.sa_handler = SIG_DFL;
    sigemptyset(&fallback.sa_mask);
    sigaction(number, &fallback, NULL);
    raise(number);
    errno = saved;
}

int crash_record_install(const char *path, int workers) {
    if (workers < 1) workers = 1;
    slots = calloc((size_t)workers, sizeof *slots);
    if (slots == NULL) return ENOMEM;
    slot_count = workers;

    struct stat info;
    if (stat(path, &info) == 0 && info.st_size > rotate_at) {
        char older[4096];
        int length = snprintf(older, sizeof older, "%s.1", path);
        if (length > 0 && length < (int)sizeof older) rename(path, older);
    }
    crash_file = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
    int opened = crash_file >= 0 ? 0 : errno;

    // The handlers run on the thread's alternate stack (workers get one in crash_record_begin).
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_fatal_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_ONSTACK;
    for (size_t index = 0; index < sizeof fatal_signals / sizeof fatal_signals[0]; index++) {
        sigaction(fatal_signals[index], &action, NULL);
    }
    return opened;
}

static const char *parameter(char *const *envp, const char *name, size_t length) {
    if (envp == NULL) return NULL;
    for (; *envp != NULL; envp++) {
        if (strncmp(*envp, name, length) == 0 && (*envp)[length] == '=') return *envp + length + 1;
    }
    return NULL;
}

/// Gives the calling thread an alternate signal stack once, so that a stack overflow (deep
/// recursion on some input) still runs the handler instead of killing the process silently.
static void ensure_alternate_stack(void) {
    static __thread int done;
    if (done) return;
    done = 1;
    stack_t current;
    if (sigaltstack(NULL, &current) == 0 && !(current.ss_flags & SS_DISABLE)) return;
    stack_t alternate;
    alternate.ss_size = 64 * 1024;
    alternate.ss_sp = malloc(alternate.ss_size);
    alternate.ss_flags = 0;
    if (alternate.ss_sp != NULL && sigaltstack(&alternate, NULL) != 0) free(alternate.ss_sp);
}

void crash_record_begin(int worker, char *const *envp) {
    current_worker = worker;
    ensure_alternate_stack();
    if (slots == NULL || worker < 0 || worker >= slot_count) return;
    struct slot *slot = &slots[worker];
    atomic_store(&slot->length, 0);
    const char *method = parameter(envp, "REQUEST_METHOD", 14);
    const char *path = parameter(envp, "REQUEST_URI", 11);
    if (path == NULL || *path == '\0') path = parameter(envp, "DOCUMENT_URI", 12);
    int used = 0;
    // Method, one space, the path up to its query (which may carry a code): printable ASCII only.
    for (const char *c = method ? method : "?"; *c && used < 16; c++) {
        slot->text[used++] = (*c > ' ' && *c < 127) ? *c : '?';
    }
    slot->text[used++] = ' ';
    for (const char *c = path ? path : "?"; *c && *c != '?' && used < slot_bytes; c++) {
        slot->text[used++] = (*c > ' ' && *c < 127) ? *c : '?';
    }
    atomic_store(&slot->length, used);
}

void crash_record_end(int worker) {
    if (slots == NULL || worker < 0 || worker >= slot_count) return;
    atomic_store(&slots[worker].length, 0);
}

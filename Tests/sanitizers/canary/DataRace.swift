// A deliberate data race: scripts/sanitizers.sh builds this with -sanitize=thread and requires a
// ThreadSanitizer report from it, proving the toolchain's runtime and the script's report
// detection work before it trusts "no report" from the portal.
import Glibc

nonisolated(unsafe) var shared = 0

var threads = [pthread_t(), pthread_t()]
for index in threads.indices {
    pthread_create(
        &threads[index], nil,
        { _ in
            for _ in 0..<10_000 { shared += 1 }
            return nil
        }, nil)
}
for thread in threads { pthread_join(thread, nil) }
print("shared = \(shared)")

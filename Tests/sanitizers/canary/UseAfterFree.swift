// A deliberate heap use-after-free: scripts/sanitizers.sh builds this with -sanitize=address
// and requires an AddressSanitizer report from it, proving the toolchain's runtime and the
// script's report detection work before it trusts "no report" from the portal.
let numbers = UnsafeMutablePointer<Int>.allocate(capacity: 4)
numbers.initialize(repeating: 7, count: 4)
numbers.deallocate()
print("after free: \(numbers[1])")

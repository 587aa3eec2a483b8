import Testing

@testable import FastCGI

@Suite("Loopback clients")
struct LoopbackTests {
    @Test(
        "loopback addresses come from this machine",
        arguments: ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "::ffff:127.0.0.1", "0:0:0:0:0:0:0:1"])
    func loopbackAddressesComeFromThisMachine(address: String) {
        #expect(Request(params: ["REMOTE_ADDR": address], body: [], id: "t").comesFromLoopback)
    }

    @Test(
        "other addresses, names and missing addresses do not",
        arguments: [
            "192.0.2.2", "10.0.0.1", "::2", "::ffff:10.0.0.1", "fd00::1", "localhost", "127.0.0.1.example",
            "", "128.0.0.1",
        ])
    func otherAddressesDoNot(address: String) {
        #expect(!Request(params: ["REMOTE_ADDR": address], body: [], id: "t").comesFromLoopback)
    }

    @Test("a request without REMOTE_ADDR is not from loopback")
    func missingAddressIsNotLoopback() {
        #expect(!Request(params: [:], body: [], id: "t").comesFromLoopback)
    }
}

import PasswordHashing
import Testing

private let fast = Argon2Parameters(memoryKiB: 64, iterations: 1, parallelism: 1)
private let pepperOne = Pepper(id: "1", secret: Array("first pepper, 32 bytes or longer!".utf8))
private let pepperTwo = Pepper(id: "2", secret: Array("second pepper, also long enough!!".utf8))

private func hex(_ bytes: [UInt8]) -> String {
    bytes.map { byte in
        let digits = Array("0123456789abcdef")
        return String([digits[Int(byte >> 4)], digits[Int(byte & 0x0F)]])
    }.joined()
}

@Suite("Argon2id")
struct Argon2idTests {
    private let rfcParameters = Argon2Parameters(memoryKiB: 32, iterations: 3, parallelism: 4)

    /// RFC 9106 section 5.3: every input, including the secret, affects the tag.
    @Test func rfc9106TestVectorWithSecretAndAssociatedDataMatches() throws {
        let tag = try Argon2id.hash(
            password: [UInt8](repeating: 0x01, count: 32), salt: [UInt8](repeating: 0x02, count: 16),
            secret: [UInt8](repeating: 0x03, count: 8), associatedData: [UInt8](repeating: 0x04, count: 12),
            parameters: rfcParameters, length: 32)
        #expect(hex(tag) == "0d640df58d78766c08c037a34a8b53c9d01ef0452d75b65eb52520e96b01e659")
    }

    @Test func leavingOutTheSecretChangesTheTag() throws {
        let withoutSecret = try Argon2id.hash(
            password: [UInt8](repeating: 0x01, count: 32), salt: [UInt8](repeating: 0x02, count: 16),
            associatedData: [UInt8](repeating: 0x04, count: 12), parameters: rfcParameters, length: 32)
        #expect(withoutSecret.count == 32)
        #expect(hex(withoutSecret) != "0d640df58d78766c08c037a34a8b53c9d01ef0452d75b65eb52520e96b01e659")
    }

    @Test func differentSecretsGiveDifferentTags() throws {
        let password = Array("correct horse".utf8)
        let salt = [UInt8](repeating: 0x02, count: 16)
        let one = try Argon2id.hash(password: password, salt: salt, secret: pepperOne.secret, parameters: fast)
        let two = try Argon2id.hash(password: password, salt: salt, secret: pepperTwo.secret, parameters: fast)
        let again = try Argon2id.hash(password: password, salt: salt, secret: pepperOne.secret, parameters: fast)
        #expect(one != two)
        #expect(one == again)
    }

    @Test func tagLengthFollowsTheRequest() throws {
        let tag = try Argon2id.hash(
            password: Array("pw".utf8), salt: [UInt8](repeating: 7, count: 16), parameters: fast, length: 64)
        #expect(tag.count == 64)
    }

    @Test func impossibleParametersThrowInsteadOfCrashing() {
        #expect(throws: Argon2Error.self) {
            try Argon2id.hash(
                password: Array("pw".utf8), salt: [UInt8](repeating: 7, count: 16),
                parameters: Argon2Parameters(memoryKiB: 64, iterations: 0, parallelism: 1))
        }
        #expect(throws: Argon2Error.self) {
            try Argon2id.hash(password: Array("pw".utf8), salt: [1, 2, 3], parameters: fast)
        }
    }
}

@Suite("Password hasher")
struct PasswordHasherTests {
    private let hasher = PasswordHasher(parameters: fast, pepper: pepperOne)

    @Test func aHashVerifiesAgainstItsOwnPassword() throws {
        let stored = try hasher.hash("plum kettle orbit gravel")
        #expect(
            hasher.verify("plum kettle orbit gravel", against: stored, pepperID: "1") == .match(needsRehash: false, pepperID: "1")
        )
    }

    @Test(
        "a wrong password does not verify",
        arguments: ["plum kettle orbit grave", "Plum kettle orbit gravel", "plum kettle orbit gravel ", ""])
    func wrongPasswordIsAMismatch(attempt: String) throws {
        let stored = try hasher.hash("plum kettle orbit gravel")
        #expect(hasher.verify(attempt, against: stored, pepperID: "1") == .mismatch)
    }

    @Test func aDifferentPepperUnderTheSameIDIsAMismatch() throws {
        let stored = try hasher.hash("plum kettle orbit gravel")
        let otherServer = PasswordHasher(parameters: fast, pepper: Pepper(id: "1", secret: pepperTwo.secret))
        #expect(otherServer.verify("plum kettle orbit gravel", against: stored, pepperID: "1") == .mismatch)
    }

    @Test func hashesMadeWithLowerParametersVerifyAndAskForARehash() throws {
        let older = PasswordHasher(parameters: Argon2Parameters(memoryKiB: 64, iterations: 1, parallelism: 1), pepper: pepperOne)
        let stored = try older.hash("plum kettle orbit gravel")
        let raised = PasswordHasher(
            parameters: Argon2Parameters(memoryKiB: 128, iterations: 2, parallelism: 1), pepper: pepperOne)
        #expect(
            raised.verify("plum kettle orbit gravel", against: stored, pepperID: "1") == .match(needsRehash: true, pepperID: "1"))
        #expect(raised.verify("plum kettle orbit grave", against: stored, pepperID: "1") == .mismatch)
    }

    @Test func parametersAreReadBackFromTheStoredString() throws {
        let older = PasswordHasher(
            parameters: Argon2Parameters(memoryKiB: 8192, iterations: 1, parallelism: 1), pepper: pepperOne)
        let stored = try older.hash("plum kettle orbit gravel")
        #expect(stored.hasPrefix("$argon2id$v=19$m=8192,t=1,p=1$"))
        #expect(
            hasher.verify("plum kettle orbit gravel", against: stored, pepperID: "1") == .match(needsRehash: false, pepperID: "1")
        )
        let recommended = PasswordHasher(parameters: .recommended, pepper: pepperOne)
        #expect(
            recommended.verify("plum kettle orbit gravel", against: stored, pepperID: "1")
                == .match(needsRehash: true, pepperID: "1"))
    }

    @Test func aStoredHashBelowAnyOneConfiguredCostAsksForARehash() throws {
        let moreMemoryFewerPasses = PasswordHasher(
            parameters: Argon2Parameters(memoryKiB: 256, iterations: 1, parallelism: 1), pepper: pepperOne)
        let stored = try moreMemoryFewerPasses.hash("plum kettle orbit gravel")
        let configured = PasswordHasher(
            parameters: Argon2Parameters(memoryKiB: 64, iterations: 2, parallelism: 1), pepper: pepperOne)
        #expect(
            configured.verify("plum kettle orbit gravel", against: stored, pepperID: "1")
                == .match(needsRehash: true, pepperID: "1"))
    }

    @Test func anOlderPepperStillVerifiesAndAsksForARehash() throws {
        let stored = try hasher.hash("plum kettle orbit gravel")
        let rotated = PasswordHasher(parameters: fast, pepper: pepperTwo, previousPeppers: [pepperOne])
        #expect(
            rotated.verify("plum kettle orbit gravel", against: stored, pepperID: "1")
                == .match(needsRehash: true, pepperID: "1"))
        #expect(rotated.verify("plum kettle orbit gravel", against: stored, pepperID: "2") == .mismatch)
        #expect(rotated.verify("wrong password here", against: stored, pepperID: "1") == .mismatch)
    }

    @Test func withoutARecordedIDTheCurrentPepperIsTriedThenEachPreviousOne() throws {
        let stored = try hasher.hash("plum kettle orbit gravel")
        #expect(
            hasher.verify("plum kettle orbit gravel", against: stored, pepperID: nil)
                == .match(needsRehash: false, pepperID: "1"))
        let third = Pepper(id: "3", secret: Array("a third pepper, long enough too!!".utf8))
        let rotated = PasswordHasher(parameters: fast, pepper: pepperTwo, previousPeppers: [third, pepperOne])
        #expect(rotated.maximumHashesPerVerification == 3)
        #expect(
            rotated.verify("plum kettle orbit gravel", against: stored, pepperID: nil)
                == .match(needsRehash: true, pepperID: "1"))
        #expect(rotated.verify("wrong password here", against: stored, pepperID: nil) == .mismatch)
        let dropped = PasswordHasher(parameters: fast, pepper: pepperTwo, previousPeppers: [third])
        #expect(dropped.verify("plum kettle orbit gravel", against: stored, pepperID: nil) == .mismatch)
    }

    @Test func theCurrentPepperListedAsPreviousTooIsTriedOnce() {
        let doubled = PasswordHasher(parameters: fast, pepper: pepperOne, previousPeppers: [pepperOne, pepperTwo])
        #expect(doubled.previousPeppers.map(\.id) == ["2"])
        #expect(doubled.maximumHashesPerVerification == 2)
    }

    @Test func anUnknownPepperIDIsAMismatch() throws {
        let stored = try hasher.hash("plum kettle orbit gravel")
        #expect(hasher.verify("plum kettle orbit gravel", against: stored, pepperID: "9") == .mismatch)
        #expect(hasher.verify("plum kettle orbit gravel", against: stored, pepperID: "") == .mismatch)
    }

    @Test func aMalformedStoredStringIsAMismatch() {
        #expect(hasher.verify("plum kettle orbit gravel", against: "not a hash", pepperID: "1") == .mismatch)
        #expect(hasher.verify("plum kettle orbit gravel", against: "", pepperID: "1") == .mismatch)
    }

    @Test func recommendedParametersProduceAPHCStringThatVerifies() throws {
        let recommended = PasswordHasher(pepper: pepperOne)
        #expect(recommended.parameters == Argon2Parameters(memoryKiB: 19456, iterations: 2, parallelism: 1))
        let stored = try recommended.hash("plum kettle orbit gravel")
        let format = /\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+\/]{22}\$[A-Za-z0-9+\/]{43}/
        #expect(stored.wholeMatch(of: format) != nil, "\(stored)")
        let phc = try #require(PHCString(parsing: stored))
        #expect(phc.salt.count == 16)
        #expect(phc.hash.count == 32)
        #expect(
            recommended.verify("plum kettle orbit gravel", against: stored, pepperID: "1")
                == .match(needsRehash: false, pepperID: "1"))
        #expect(recommended.verify("plum kettle orbit grave", against: stored, pepperID: "1") == .mismatch)
    }

    @Test func twoHashesOfTheSamePasswordDiffer() throws {
        let first = try #require(PHCString(parsing: try hasher.hash("plum kettle orbit gravel")))
        let second = try #require(PHCString(parsing: try hasher.hash("plum kettle orbit gravel")))
        #expect(first.salt != second.salt)
        #expect(first.hash != second.hash)
    }
}

@Suite("PHC strings")
struct PHCStringTests {
    private let canonical = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"

    @Test func aWellFormedStringParses() throws {
        let phc = try #require(PHCString(parsing: canonical))
        #expect(phc.parameters == .recommended)
        #expect(phc.salt == Array("saltsaltsaltsalt".utf8))
        #expect(phc.hash == Array("hashhashhashhashhashhashhashhash".utf8))
    }

    @Test func encodingRoundTrips() throws {
        #expect(try #require(PHCString(parsing: canonical)).encoded == canonical)
        let made = PHCString(
            parameters: Argon2Parameters(memoryKiB: 64, iterations: 3, parallelism: 2),
            salt: [UInt8](0..<16), hash: [UInt8](100..<132))
        #expect(made.encoded.hasPrefix("$argon2id$v=19$m=64,t=3,p=2$"))
        let fields = made.encoded.split(separator: "$")
        #expect(fields.count == 5)
        #expect(!fields[3].contains("=") && !fields[4].contains("="))
        #expect(PHCString(parsing: made.encoded) == made)
    }

    @Test(
        "malformed strings are rejected",
        arguments: [
            "",
            "argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
            "$argon2i$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
            "$argon2d$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
            "$scrypt$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
            "$argon2id$v=16$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
            "$argon2id$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA",
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$",
            "$argon2id$v=19$m=19456,t=2,p=1$$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g$extra",
            "$argon2id$v=19$m=19456,t=2$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
            "$argon2id$v=19$m=19456,t=2,p=1,k=5$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
            "$argon2id$v=19$m=19456,m=19456,t=2$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
            "$argon2id$v=19$m=lots,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
            "$argon2id$v=19$m=-1,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
            "$argon2id$v=19$m=19456,t=0,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
            "$argon2id$v=19$m=19456,t=2,p=0$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
            "$argon2id$v=19$m=7,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaA",
            "$argon2id$v=19$m=19456,t=2,p=1$c2Fs!HNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFz aGhhc2hoYXNoaGFzaGhhc2g",
        ])
    func malformedStringsAreRejected(text: String) {
        #expect(PHCString(parsing: text) == nil)
    }
}

@Suite("Constant-time comparison")
struct ConstantTimeTests {
    @Test func equalBytesCompareEqual() {
        #expect(ConstantTime.equal([1, 2, 3], [1, 2, 3]))
        #expect(ConstantTime.equal([UInt8](), []))
        #expect(ConstantTime.equal("csrf-token", "csrf-token"))
    }

    @Test func anyDifferenceCompareUnequal() {
        #expect(!ConstantTime.equal([1, 2, 3], [1, 2, 4]))
        #expect(!ConstantTime.equal([1, 2, 3], [0, 2, 3]))
        #expect(!ConstantTime.equal([1, 2, 3], [1, 2]))
        #expect(!ConstantTime.equal([1, 2], [1, 2, 3]))
        #expect(!ConstantTime.equal([UInt8](), [0]))
        #expect(!ConstantTime.equal("csrf-token", "csrf-tokeN"))
        #expect(!ConstantTime.equal("csrf-token", "csrf-token "))
    }
}

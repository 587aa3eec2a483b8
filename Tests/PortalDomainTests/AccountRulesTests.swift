import Testing

@testable import PortalDomain

@Suite("Password policy")
struct PasswordPolicyTests {
    /// 13 characters with no run, repeat or common word; repeated it stays non-trivial.
    private static let phrase = "lantern moss "

    private static func phraseOfLength(_ length: Int) -> String {
        String(String(repeating: phrase, count: length / phrase.count + 1).prefix(length))
    }

    @Test func fourteenCharactersAreTooShort() {
        let password = "river otter ja"
        #expect(password.count == 14)
        #expect(PasswordPolicy.check(password, username: "ada") == .tooShort(minimum: 15))
    }

    @Test func fifteenCharactersAreEnough() {
        let password = "river otter jam"
        #expect(password.count == 15)
        #expect(PasswordPolicy.check(password, username: "ada") == nil)
    }

    @Test func twoHundredFiftySixCharactersAreAccepted() {
        let password = Self.phraseOfLength(256)
        #expect(password.count == 256)
        #expect(PasswordPolicy.check(password, confirmation: password, username: "ada") == nil)
    }

    @Test func twoHundredFiftySevenCharactersAreTooLong() {
        #expect(PasswordPolicy.check(Self.phraseOfLength(257), username: "ada") == .tooLong(maximum: 256))
    }

    @Test func lengthIsCountedInCharactersNotBytes() {
        let fifteen = "🦊🐢🌲🍄🎈🚲🧭🪁🌵🐙🍋🎻🛶🧀🌙"
        #expect(fifteen.count == 15)
        #expect(fifteen.utf8.count == 60)
        #expect(PasswordPolicy.check(fifteen, username: "ada") == nil)
        #expect(PasswordPolicy.check(String(fifteen.dropLast()), username: "ada") == .tooShort(minimum: 15))
        let accented = String(repeating: "é", count: 7) + "ñandú viejo"
        #expect(accented.count == 18)
        #expect(PasswordPolicy.check(String(accented.prefix(14)), username: "ada") == .tooShort(minimum: 15))
    }

    @Test func longPasswordsAreNeverTruncated() {
        let base = Self.phraseOfLength(299)
        #expect(PasswordPolicy.check(base + "a", username: "ada") == .tooLong(maximum: 256))
        #expect(PasswordPolicy.check(base + "b", username: "ada") == .tooLong(maximum: 256))
        let longest = Self.phraseOfLength(255)
        #expect(PasswordPolicy.check(longest + "x", confirmation: longest + "y", username: "ada") == .confirmationDiffers)
        #expect(PasswordPolicy.check(longest + "x", confirmation: longest + "x", username: "ada") == nil)
    }

    @Test(
        "a password containing the username is refused",
        arguments: [
            ("ada", "ada loves the engine"),
            ("ada", "The ADA engine notes"),
            ("ada.lovelace", "my name is Ada.Lovelace"),
            ("grace", "amazinggracehopper"),
        ])
    func passwordContainingTheUsernameIsRefused(username: String, password: String) {
        #expect(PasswordPolicy.check(password, username: username) == .containsUsername)
    }

    @Test func anEmptyUsernameDoesNotRefuseEverything() {
        #expect(PasswordPolicy.check("plum kettle orbit gravel", username: "") == nil)
    }

    @Test(
        "common passwords are refused, whatever their case",
        arguments: [
            "passwordpassword", "PasswordPassword", "correct horse battery staple", "123456789012345", "qwertyuiop123456",
        ])
    func commonPasswordsAreRefused(password: String) {
        #expect(PasswordPolicy.check(password, username: "ada") == .common)
    }

    @Test(
        "trivial repeats and runs are refused",
        arguments: [
            "aaaaaaaaaaaaaaa",
            "zzzzzzzzzzzzzzzzzzzz",
            "ZZZZZZZZZZZZZZZZ",
            "abababababababab",
            "abcabcabcabcabcabc",
            "wxyzwxyzwxyzwxyz",
            "bcdefghijklmnopq",
            "zyxwvutsrqponmlk",
            "BCDEFGHIJKLMNOPQ",
        ])
    func trivialPasswordsAreRefused(password: String) {
        #expect(PasswordPolicy.check(password, username: "ada") == .common)
    }

    @Test func aMismatchedConfirmationIsRefusedFirst() {
        let mismatch = PasswordPolicy.check("plum kettle orbit gravel", confirmation: "plum kettle orbit grave", username: "ada")
        #expect(mismatch == .confirmationDiffers)
        #expect(PasswordPolicy.check("short", confirmation: "other", username: "ada") == .confirmationDiffers)
    }

    @Test(
        "good passphrases are accepted",
        arguments: ["plum kettle orbit gravel", "Seven tired walruses sang", "ich mag grüne Äpfel sehr", "1984 was not a manual"])
    func goodPassphrasesAreAccepted(password: String) {
        #expect(PasswordPolicy.check(password, confirmation: password, username: "ada") == nil)
    }

    @Test func everyProblemExplainsItselfInWords() {
        #expect(PasswordProblem.tooShort(minimum: 15).description.contains("15"))
        #expect(PasswordProblem.tooLong(maximum: 256).description.contains("256"))
        #expect(!PasswordProblem.common.description.isEmpty)
    }
}

@Suite("Common passwords")
struct CommonPasswordTests {
    /// Every 500th entry of the packaged list, in frequency order.
    static let sample = CommonPasswords.corpusText.split(separator: "\n").enumerated().filter { $0.offset % 500 == 0 }
        .map { String($0.element) }

    @Test func theCorpusHoldsAtLeastTenThousandPackagedEntries() {
        #expect(CommonPasswords.corpusCount >= 10_000)
        #expect(CommonPasswords.corpus.count >= CommonPasswords.corpusCount)
        #expect(Self.sample.count == (CommonPasswords.corpusCount + 499) / 500)
    }

    @Test(
        "listed passwords repeated to the minimum length are refused, whatever their case and spacing",
        arguments: sample)
    func listedPasswordsRepeatedAreRefused(entry: String) {
        let repeated = String(repeating: entry, count: 15 / entry.count + 1)
        #expect(PasswordPolicy.check(repeated, username: "ada") == .common)
        let spaced = Array(repeating: entry.uppercased(), count: 15 / entry.count + 1).joined(separator: " ")
        #expect(PasswordPolicy.check(spaced, username: "ada") == .common)
    }

    @Test(
        "listed passwords with a letter, padded with digits to the minimum length, are refused",
        arguments: sample.filter { $0.contains(where: \.isLetter) })
    func listedPasswordsPaddedWithDigitsAreRefused(entry: String) {
        let digits = String("9081726354321098".prefix(max(1, 15 - entry.count)))
        #expect(PasswordPolicy.check(entry + digits, username: "ada") == .common)
        #expect(PasswordPolicy.check(digits + "-" + entry, username: "ada") == .common)
        #expect(PasswordPolicy.check(digits + entry + "2024", username: "ada") == .common)
    }

    @Test(
        "typical padded and repeated forms are refused",
        arguments: [
            "password123456789", "Password 1234567", "passwordpassword", "pass-word-pass-word", "2024sunshine2024",
            "iloveyouiloveyou", "monkey monkey monkey", "dragon_dragon_dragon", "qwertyuiop123456", "696969696969696",
            "Correct Horse Battery Staple",
        ])
    func typicalFormsAreRefused(password: String) {
        #expect(PasswordPolicy.check(password, username: "ada") == .common)
    }

    @Test(
        "passphrases that only contain listed words are accepted",
        arguments: [
            "password is not my password", "dragon sunshine monkey", "football in the rain 2024", "123456 apples and pears",
            "shadow master of the dusk", "839204756120398",
        ])
    func passphrasesOfListedWordsAreAccepted(password: String) {
        #expect(PasswordPolicy.check(password, username: "ada") == nil)
    }
}

@Suite("Usernames")
struct UsernameTests {
    @Test(
        "valid usernames are accepted and lowercased",
        arguments: [
            ("ada", "ada"),
            ("Ada", "ada"),
            ("ADA.LOVELACE", "ada.lovelace"),
            ("ab", "ab"),
            ("a1", "a1"),
            ("grace_hopper", "grace_hopper"),
            ("mary-somerville", "mary-somerville"),
            ("k2.b_c-d", "k2.b_c-d"),
            (String(repeating: "x", count: 32), String(repeating: "x", count: 32)),
        ])
    func validUsernamesAreAcceptedAndLowercased(raw: String, stored: String) throws {
        let username = try #require(Username(raw))
        #expect(username.value == stored)
        #expect(username.description == stored)
    }

    @Test(
        "invalid usernames are refused",
        arguments: [
            "", "a", String(repeating: "x", count: 33), "1ada", ".ada", "_ada", "-ada", "ada lovelace", "ada@example",
            "adà", "äda", "ada/..", "ada\n", "ada\u{0}", "админ",
        ])
    func invalidUsernamesAreRefused(raw: String) {
        #expect(Username(raw) == nil)
    }

    @Test func usernamesDifferingOnlyInCaseAreTheSame() {
        #expect(Username("Ada") == Username("aDA"))
    }
}

@Suite("Setup codes")
struct SetupCodeTests {
    @Test func generatedCodesHaveSixteenCharactersFromTheAlphabet() {
        for _ in 0..<50 {
            let code = SetupCode.generate()
            #expect(code.normalized.count == 16)
            #expect(code.normalized.allSatisfy { SetupCode.alphabet.contains($0) })
        }
    }

    @Test func theAlphabetHasNoLookAlikes() {
        #expect(SetupCode.alphabet.count == 32)
        #expect(Set(SetupCode.alphabet).count == 32)
        for lookAlike in "IO01" {
            #expect(!SetupCode.alphabet.contains(lookAlike))
        }
    }

    @Test func descriptionIsGroupedInFours() throws {
        let code = try #require(SetupCode(typed: "ABCDEFGHJKLMNPQR"))
        #expect(code.description == "ABCD-EFGH-JKLM-NPQR")
        let generated = SetupCode.generate().description
        #expect(generated.wholeMatch(of: /[A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4}/) != nil)
    }

    @Test(
        "typing is forgiving about case, spaces and dashes",
        arguments: [
            "ABCD-EFGH-JKLM-NPQR", "abcd-efgh-jklm-npqr", "abcd efgh jklm npqr", "  AbCdEfGhJkLmNpQr  ",
            "ab-cd-ef-gh-jk-lm-np-qr",
        ])
    func typingIsForgiving(typed: String) throws {
        #expect(try #require(SetupCode(typed: typed)).normalized == "ABCDEFGHJKLMNPQR")
    }

    @Test func aGeneratedCodeIsRecognisedWhenTypedBack() throws {
        let code = SetupCode.generate()
        #expect(SetupCode(typed: code.description) == code)
        #expect(SetupCode(typed: code.description.lowercased()) == code)
    }

    @Test(
        "codes of the wrong length or with letters outside the alphabet are refused",
        arguments: [
            "", "ABCD-EFGH-JKLM-NPQ", "ABCD-EFGH-JKLM-NPQRS", "ABCD-EFGH-JKLM-NPQI", "ABCD-EFGH-JKLM-NPQO",
            "ABCD-EFGH-JKLM-NPQ0", "ABCD-EFGH-JKLM-NPQ1", "ABCD_EFGH_JKLM_NPQR", "ABCD-EFGH-JKLM-NPQ!", "ABCD\tEFGH\tJKLM\tNPQR",
        ])
    func wrongCodesAreRefused(typed: String) {
        #expect(SetupCode(typed: typed) == nil)
    }

    @Test func aThousandGeneratedCodesAreDistinct() {
        let codes = Set((0..<1000).map { _ in SetupCode.generate().normalized })
        #expect(codes.count == 1000)
    }
}

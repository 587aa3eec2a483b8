/// The quiz file formats the portal imports (Moodle's Aiken and GIFT).
public enum QuizFormat: String, Sendable, CaseIterable {
    case aiken, gift

    /// The format of a quiz file: `.gift` is GIFT and `.aiken` is Aiken; any other name (`.txt` included)
    /// is decided from the content: Aiken when it has an option line (`A. text`) and an `ANSWER: X`
    /// line, GIFT otherwise.
    public static func detect(fileName: String, text: String) -> QuizFormat {
        let lowered = fileName.lowercased()
        if lowered.hasSuffix(".gift") { return .gift }
        if lowered.hasSuffix(".aiken") { return .aiken }
        return looksLikeAiken(text) ? .aiken : .gift
    }

    public func parse(_ text: String) throws(QuizFormatError) -> QuizDocument {
        switch self {
        case .aiken: try AikenParser.parse(text)
        case .gift: try GIFTParser.parse(text)
        }
    }

    private static func looksLikeAiken(_ text: String) -> Bool {
        var hasOption = false
        var hasAnswer = false
        for rawLine in QuizText.lines(of: text) {
            let line = QuizText.trimmed(rawLine)
            let characters = Array(line.prefix(3))
            if characters.count == 3, characters[0].isASCII, characters[0].isUppercase,
                characters[1] == "." || characters[1] == ")", characters[2].isWhitespace
            {
                hasOption = true
            }
            if line.hasPrefix("ANSWER") {
                let value = line.dropFirst("ANSWER".count).drop(while: \.isWhitespace)
                if value.first == ":", QuizText.trimmed(value.dropFirst()).count == 1 { hasAnswer = true }
            }
        }
        return hasOption && hasAnswer
    }
}

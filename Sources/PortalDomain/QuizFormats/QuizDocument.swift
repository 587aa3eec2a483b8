/// A parsed quiz file: an optional title and its questions, in file order.
public struct QuizDocument: Sendable, Equatable {
    /// GIFT: the text of the first `// title: ...` comment line; Aiken: always nil.
    public var title: String?
    public var questions: [QuizQuestion]

    public init(title: String? = nil, questions: [QuizQuestion]) {
        self.title = title
        self.questions = questions
    }
}

/// One single-answer question: a prompt, two or more options, exactly one of them right.
public struct QuizQuestion: Sendable, Equatable {
    /// Stable identity across re-imports: the GIFT `::name::` when given, else the prompt text with whitespace collapsed.
    public var key: String
    public var prompt: String
    /// Two or more options, exactly one with `isCorrect == true`.
    public var options: [QuizOption]
    public var generalFeedback: String?
    /// The 1-based line where the question starts.
    public var line: Int

    public init(key: String, prompt: String, options: [QuizOption], generalFeedback: String? = nil, line: Int) {
        self.key = key
        self.prompt = prompt
        self.options = options
        self.generalFeedback = generalFeedback
        self.line = line
    }

    /// The key a question without an explicit name gets: its prompt with every run of whitespace
    /// collapsed to one space, so re-wrapping or re-indenting the prompt keeps the key.
    public static func key(forPrompt prompt: String) -> String {
        prompt.split(whereSeparator: \.isWhitespace).joined(separator: " ")
    }

    /// The index of the right option.
    public var correctOptionIndex: Int? { options.firstIndex(where: \.isCorrect) }
}

/// One answer a learner can choose, with the feedback shown when they choose it.
public struct QuizOption: Sendable, Equatable {
    public var text: String
    public var isCorrect: Bool
    public var feedback: String?

    public init(text: String, isCorrect: Bool, feedback: String? = nil) {
        self.text = text
        self.isCorrect = isCorrect
        self.feedback = feedback
    }
}

/// Why a quiz file was refused, with the 1-based line to look at.
public struct QuizFormatError: Error, Equatable, Sendable, CustomStringConvertible {
    public var line: Int
    public var message: String

    public init(line: Int, message: String) {
        self.line = line
        self.message = message
    }

    public var description: String { "line \(line): \(message)" }
}

extension QuizDocument {
    /// Checks the rules every format shares (at least one question, unique keys) and builds the document.
    static func validated(title: String?, questions: [QuizQuestion]) throws(QuizFormatError) -> QuizDocument {
        guard !questions.isEmpty else {
            throw QuizFormatError(line: 1, message: "no questions found")
        }
        var firstLineByKey: [String: Int] = [:]
        for question in questions {
            if let firstLine = firstLineByKey[question.key] {
                throw QuizFormatError(
                    line: question.line,
                    message:
                        "duplicate question key '\(question.key)' on lines \(firstLine) and \(question.line): "
                        + "give one of them a different '::name::' or prompt"
                )
            }
            firstLineByKey[question.key] = question.line
        }
        return QuizDocument(title: title, questions: questions)
    }
}

/// Line splitting and trimming shared by the parsers, without Foundation.
enum QuizText {
    /// The lines of `text`, treating `\n`, `\r\n` and `\r` alike and dropping a leading byte-order mark.
    static func lines(of text: String) -> [Substring] {
        var body = Substring(text)
        if body.first == "\u{FEFF}" { body = body.dropFirst() }
        return body.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline)
    }

    static func trimmed(_ text: some StringProtocol) -> String {
        guard let first = text.firstIndex(where: { !$0.isWhitespace }),
            let last = text.lastIndex(where: { !$0.isWhitespace })
        else { return "" }
        return String(text[first...last])
    }
}

/// Parses Moodle's Aiken format: one or more lines of question text, then options `A. text` or
/// `A) text`, then `ANSWER: B`. Blank lines separate questions; a blank line (or the end of the
/// file) before a question's `ANSWER:` line is an error. Aiken has no feedback and no names, so
/// every key is the prompt with whitespace collapsed.
public enum AikenParser {
    public static func parse(_ text: String) throws(QuizFormatError) -> QuizDocument {
        var questions: [QuizQuestion] = []
        var pending: PendingQuestion?
        for (index, rawLine) in QuizText.lines(of: text).enumerated() {
            let lineNumber = index + 1
            let line = QuizText.trimmed(rawLine)
            if line.isEmpty {
                if let pending { throw pending.incompleteError() }
                continue
            }
            if let answer = try answerLetter(in: line, lineNumber: lineNumber) {
                guard let question = pending else {
                    throw QuizFormatError(line: lineNumber, message: "'ANSWER:' line without a question above it")
                }
                questions.append(try question.finished(answer: answer, answerLine: lineNumber))
                pending = nil
                continue
            }
            if let option = option(in: line) {
                guard var question = pending else {
                    throw QuizFormatError(
                        line: lineNumber,
                        message: "option '\(option.letter)' before a question: write the question text on the line above it"
                    )
                }
                try question.add(option, lineNumber: lineNumber)
                pending = question
                continue
            }
            if var question = pending {
                guard question.options.isEmpty else {
                    throw QuizFormatError(
                        line: lineNumber,
                        message:
                            "expected another option ('X. text') or the 'ANSWER: X' line "
                            + "of the question on line \(question.line)"
                    )
                }
                question.promptLines.append(line)
                pending = question
            } else {
                pending = PendingQuestion(line: lineNumber, promptLines: [line])
            }
        }
        if let pending { throw pending.incompleteError() }
        return try QuizDocument.validated(title: nil, questions: questions)
    }

    private struct Option {
        var letter: Character
        var text: String
    }

    private struct PendingQuestion {
        var line: Int
        var promptLines: [String]
        var options: [(option: Option, line: Int)] = []

        mutating func add(_ option: Option, lineNumber: Int) throws(QuizFormatError) {
            if let earlier = options.first(where: { $0.option.letter == option.letter }) {
                throw QuizFormatError(
                    line: lineNumber,
                    message: "duplicate option letter '\(option.letter)' (already used on line \(earlier.line))"
                )
            }
            guard !option.text.isEmpty else {
                throw QuizFormatError(line: lineNumber, message: "option '\(option.letter)' has no text")
            }
            options.append((option, lineNumber))
        }

        func finished(answer: Character, answerLine: Int) throws(QuizFormatError) -> QuizQuestion {
            guard options.count >= 2 else {
                throw QuizFormatError(
                    line: answerLine,
                    message:
                        "a question needs at least 2 options before its ANSWER line; "
                        + "the question on line \(line) has \(options.count)"
                )
            }
            guard options.contains(where: { $0.option.letter == answer }) else {
                let letters = options.map { String($0.option.letter) }.joined(separator: ", ")
                throw QuizFormatError(
                    line: answerLine,
                    message: "ANSWER '\(answer)' names no option of this question (its options are \(letters))"
                )
            }
            let prompt = promptLines.joined(separator: "\n")
            return QuizQuestion(
                key: QuizQuestion.key(forPrompt: prompt),
                prompt: prompt,
                options: options.map { QuizOption(text: $0.option.text, isCorrect: $0.option.letter == answer) },
                line: line
            )
        }

        func incompleteError() -> QuizFormatError {
            if options.isEmpty {
                return QuizFormatError(
                    line: line,
                    message: "question has no options: add lines like 'A. text' and an 'ANSWER: A' line below it"
                )
            }
            return QuizFormatError(line: line, message: "missing 'ANSWER: X' line for this question")
        }
    }

    /// The letter of an `ANSWER: X` line, nil when the line is not an answer line.
    private static func answerLetter(in line: String, lineNumber: Int) throws(QuizFormatError) -> Character? {
        guard line.hasPrefix("ANSWER") else { return nil }
        let afterKeyword = line.dropFirst("ANSWER".count).drop(while: \.isWhitespace)
        guard afterKeyword.first == ":" else { return nil }
        let value = QuizText.trimmed(afterKeyword.dropFirst())
        guard value.count == 1, let letter = value.first, letter.isASCII, letter.isLetter else {
            throw QuizFormatError(
                line: lineNumber,
                message: "ANSWER must name one option letter, like 'ANSWER: B' (found '\(value)')"
            )
        }
        return Character(letter.uppercased())
    }

    /// `A. text` or `A) text`: an uppercase ASCII letter, `.` or `)`, then whitespace or the end of the line.
    private static func option(in line: String) -> Option? {
        var characters = line.makeIterator()
        guard let letter = characters.next(), letter.isASCII, letter.isUppercase,
            let separator = characters.next(), separator == "." || separator == ")"
        else { return nil }
        let rest = line.dropFirst(2)
        guard rest.first?.isWhitespace ?? true else { return nil }
        return Option(letter: letter, text: QuizText.trimmed(rest))
    }
}

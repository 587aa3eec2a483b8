/// Parses the subset of Moodle's GIFT format that maps onto single-answer questions.
///
/// Supported:
/// - questions separated by blank lines; `//` comment lines (anywhere) and `$CATEGORY:` lines are ignored;
///   the first `// title: ...` comment becomes the document title;
/// - an optional `::name::` before the question text, which becomes the question's key;
/// - a leading `[html]`, `[markdown]`, `[moodle]` or `[plain]` marker on the question text, which is
///   dropped (the text is kept as plain text; the portal escapes it on output);
/// - escapes `\~ \= \# \{ \} \: \\` and `\n` (a line break);
/// - multiple choice with exactly one right answer, `{=right ~wrong ~wrong}`, with per-answer
///   feedback (`~wrong#why not`) and general feedback (`####general`), on one line or spread over lines;
/// - true/false, `{T}`, `{TRUE}`, `{F}`, `{FALSE}`, optionally `{T#shown when answered wrong#shown when
///   answered right}`, as the two options "True" and "False" with that feedback on the matching option;
/// - text after the answer block ("fill in the blank", as Moodle's missing-word questions): the block is
///   replaced by `_____` in the prompt.
///
/// Rejected, with the line of the answer block or the offending answer: short answer (only `=` answers),
/// matching (`->`), numeric (`{#...}`), essay (`{}`), several right answers, percentage weights
/// (`~%50%`), a missing closing brace, a second answer block, a question without an answer block, and
/// duplicate question keys in one file.
public enum GIFTParser {
    public static func parse(_ text: String) throws(QuizFormatError) -> QuizDocument {
        var title: String?
        var blocks: [[Unit]] = []
        var current: [Unit] = []
        for (index, rawLine) in QuizText.lines(of: text).enumerated() {
            let lineNumber = index + 1
            let line = QuizText.trimmed(rawLine)
            if line.hasPrefix("//") {
                if title == nil { title = titleComment(line) }
                continue
            }
            if line.uppercased().hasPrefix("$CATEGORY:") { continue }
            if line.isEmpty {
                if !current.isEmpty { blocks.append(current) }
                current = []
                continue
            }
            if let last = current.last {
                current.append(Unit(character: "\n", isEscaped: false, line: last.line))
            }
            current.append(contentsOf: units(of: line, lineNumber: lineNumber))
        }
        if !current.isEmpty { blocks.append(current) }

        var questions: [QuizQuestion] = []
        for block in blocks {
            questions.append(try question(from: block))
        }
        return try QuizDocument.validated(title: title, questions: questions)
    }

    /// One character of a question, remembering whether it was escaped (and so is never syntax) and its line.
    struct Unit {
        var character: Character
        var isEscaped: Bool
        var line: Int

        func isSyntax(_ character: Character) -> Bool { !isEscaped && self.character == character }
    }

    static func units(of line: String, lineNumber: Int) -> [Unit] {
        var result: [Unit] = []
        var characters = Array(line)[...]
        while let character = characters.popFirst() {
            guard character == "\\", let next = characters.first else {
                result.append(Unit(character: character, isEscaped: false, line: lineNumber))
                continue
            }
            switch next {
            case "~", "=", "#", "{", "}", ":", "\\":
                result.append(Unit(character: next, isEscaped: true, line: lineNumber))
                characters.removeFirst()
            case "n":
                result.append(Unit(character: "\n", isEscaped: true, line: lineNumber))
                characters.removeFirst()
            default:
                result.append(Unit(character: character, isEscaped: false, line: lineNumber))
            }
        }
        return result
    }

    private static func titleComment(_ line: String) -> String? {
        let comment = QuizText.trimmed(line.dropFirst(2))
        guard comment.lowercased().hasPrefix("title:") else { return nil }
        let title = QuizText.trimmed(comment.dropFirst("title:".count))
        return title.isEmpty ? nil : title
    }

    private static func text(_ units: ArraySlice<Unit>) -> String {
        String(units.map(\.character))
    }

    private static func firstSyntax(_ character: Character, in units: ArraySlice<Unit>) -> Int? {
        units.firstIndex { $0.isSyntax(character) }
    }

    /// The index of the first unescaped occurrence of `pattern` (two or more characters).
    private static func firstSyntax(_ pattern: String, in units: ArraySlice<Unit>) -> Int? {
        let pattern = Array(pattern)
        guard units.count >= pattern.count else { return nil }
        var index = units.startIndex
        while index + pattern.count <= units.endIndex {
            if pattern.indices.allSatisfy({ units[index + $0].isSyntax(pattern[$0]) }) { return index }
            index += 1
        }
        return nil
    }

    private static func question(from block: [Unit]) throws(QuizFormatError) -> QuizQuestion {
        var units = block[...].drop { $0.character.isWhitespace && !$0.isEscaped }
        let startLine = units.first?.line ?? block[0].line

        var name: String?
        if units.count >= 2, units[units.startIndex].isSyntax(":"), units[units.startIndex + 1].isSyntax(":") {
            let afterOpening = units.dropFirst(2)
            guard let closing = firstSyntax("::", in: afterOpening) else {
                throw QuizFormatError(line: startLine, message: "question name '::' is not closed with '::'")
            }
            let named = QuizText.trimmed(text(afterOpening[..<closing]))
            guard !named.isEmpty else {
                throw QuizFormatError(line: startLine, message: "question name between '::' and '::' is empty")
            }
            name = named
            units = units[(closing + 2)...]
        }

        guard let open = firstSyntax("{", in: units) else {
            throw QuizFormatError(
                line: startLine,
                message: "question has no answer block: add '{=right ~wrong}' or '{T}' / '{F}' "
                    + "(descriptions are not supported)"
            )
        }
        if let stray = firstSyntax("}", in: units[..<open]) {
            throw QuizFormatError(
                line: units[stray].line,
                message: "'}' without an opening '{' (write '\\}' for a literal brace)"
            )
        }
        let openLine = units[open].line
        let afterOpen = units[(open + 1)...]
        let firstBrace = afterOpen.firstIndex { $0.isSyntax("}") || $0.isSyntax("{") }
        guard let close = firstBrace, units[close].isSyntax("}") else {
            if let nested = firstBrace {
                throw QuizFormatError(
                    line: units[nested].line,
                    message: "'{' inside the answer block opened on line \(openLine) (write '\\{' for a literal brace)"
                )
            }
            throw QuizFormatError(
                line: openLine,
                message: "missing closing brace '}' for the answer block opened on this line"
            )
        }
        let trailing = units[(close + 1)...]
        if let second = firstSyntax("{", in: trailing) {
            throw QuizFormatError(line: units[second].line, message: "a question may have only one answer block '{…}'")
        }
        if let stray = firstSyntax("}", in: trailing) {
            throw QuizFormatError(
                line: units[stray].line,
                message: "'}' without an opening '{' (write '\\}' for a literal brace)"
            )
        }

        let rawBefore = text(units[..<open])
        let before = QuizText.trimmed(withoutFormatMarker(QuizText.trimmed(rawBefore)))
        let after = text(trailing)
        let prompt: String
        if QuizText.trimmed(after).isEmpty {
            prompt = before
        } else {
            let gap = before.isEmpty || !(rawBefore.last?.isWhitespace ?? false) ? "" : " "
            prompt = QuizText.trimmed(before + gap + "_____" + after)
        }
        guard !prompt.isEmpty else {
            throw QuizFormatError(line: startLine, message: "question has no text before its answer block")
        }
        let answers = try answerBlock(units[(open + 1)..<close], openLine: openLine)
        return QuizQuestion(
            key: name ?? QuizQuestion.key(forPrompt: prompt),
            prompt: prompt,
            options: answers.options,
            generalFeedback: answers.generalFeedback,
            line: startLine
        )
    }

    private static func withoutFormatMarker(_ text: String) -> String {
        for marker in ["[html]", "[markdown]", "[moodle]", "[plain]"] where text.lowercased().hasPrefix(marker) {
            return String(text.dropFirst(marker.count))
        }
        return text
    }

    private static func optionalText(_ units: ArraySlice<Unit>) -> String? {
        let value = QuizText.trimmed(text(units))
        return value.isEmpty ? nil : value
    }

    private static func answerBlock(
        _ block: ArraySlice<Unit>,
        openLine: Int
    ) throws(QuizFormatError) -> (options: [QuizOption], generalFeedback: String?) {
        var answers = block
        var generalFeedback: String?
        if let marker = firstSyntax("####", in: block) {
            answers = block[..<marker]
            generalFeedback = optionalText(block[(marker + 4)...])
        }
        answers = answers.drop { $0.character.isWhitespace && !$0.isEscaped }
        guard let first = answers.first else {
            throw QuizFormatError(line: openLine, message: "essay questions ('{}') are not supported")
        }
        if first.isSyntax("#") {
            throw QuizFormatError(line: openLine, message: "numeric questions ('{#...}') are not supported")
        }
        if let arrow = firstSyntax("->", in: answers) {
            throw QuizFormatError(line: answers[arrow].line, message: "matching questions ('->') are not supported")
        }
        if let options = try trueFalse(answers, openLine: openLine) {
            return (options, generalFeedback)
        }
        return (try multipleChoice(answers, openLine: openLine), generalFeedback)
    }

    /// `{T}`, `{TRUE}`, `{F}`, `{FALSE}`, each optionally followed by `#when answered wrong#when answered right`.
    private static func trueFalse(_ answers: ArraySlice<Unit>, openLine: Int) throws(QuizFormatError) -> [QuizOption]? {
        let firstHash = firstSyntax("#", in: answers) ?? answers.endIndex
        let isTrue: Bool
        switch QuizText.trimmed(text(answers[..<firstHash])).uppercased() {
        case "T", "TRUE": isTrue = true
        case "F", "FALSE": isTrue = false
        default: return nil
        }
        var feedbacks: [String?] = []
        var rest = answers[firstHash...]
        while let hash = rest.first, hash.isSyntax("#") {
            let body = rest.dropFirst()
            let end = firstSyntax("#", in: body) ?? body.endIndex
            feedbacks.append(optionalText(body[..<end]))
            rest = body[end...]
        }
        guard feedbacks.count <= 2 else {
            throw QuizFormatError(
                line: openLine,
                message: "true/false takes at most two feedbacks: '{T#shown when answered wrong#shown when answered right}'"
            )
        }
        let whenWrong = feedbacks.first ?? nil
        let whenRight = feedbacks.count > 1 ? feedbacks[1] : nil
        return [
            QuizOption(text: "True", isCorrect: isTrue, feedback: isTrue ? whenRight : whenWrong),
            QuizOption(text: "False", isCorrect: !isTrue, feedback: isTrue ? whenWrong : whenRight),
        ]
    }

    private static func multipleChoice(_ answers: ArraySlice<Unit>, openLine: Int) throws(QuizFormatError) -> [QuizOption] {
        let starts = answers.indices.filter { answers[$0].isSyntax("=") || answers[$0].isSyntax("~") }
        guard let firstStart = starts.first, QuizText.trimmed(text(answers[..<firstStart])).isEmpty else {
            throw QuizFormatError(
                line: openLine,
                message: "each answer must start with '=' (the right one) or '~' (a wrong one)"
            )
        }
        guard starts.contains(where: { answers[$0].isSyntax("~") }) else {
            throw QuizFormatError(
                line: openLine,
                message: "short-answer questions (only '=' answers) are not supported: add wrong options with '~'"
            )
        }
        var options: [QuizOption] = []
        var firstRightLine: Int?
        for (position, start) in starts.enumerated() {
            let end = position + 1 < starts.count ? starts[position + 1] : answers.endIndex
            let marker = answers[start]
            let body = answers[(start + 1)..<end]
            if QuizText.trimmed(text(body)).hasPrefix("%") {
                throw QuizFormatError(
                    line: marker.line,
                    message: "percentage weights ('~%50%') are not supported: "
                        + "mark one answer with '=' and the others with '~'"
                )
            }
            let hash = firstSyntax("#", in: body) ?? body.endIndex
            let answerText = QuizText.trimmed(text(body[..<hash]))
            guard !answerText.isEmpty else {
                throw QuizFormatError(line: marker.line, message: "empty answer after '\(marker.character)'")
            }
            let isCorrect = marker.character == "="
            if isCorrect {
                if let firstRightLine {
                    throw QuizFormatError(
                        line: marker.line,
                        message:
                            "multiple right answers are not supported (the first '=' is on line \(firstRightLine)): "
                            + "mark exactly one answer with '='"
                    )
                }
                firstRightLine = marker.line
            }
            let feedback = hash < body.endIndex ? optionalText(body[(hash + 1)...]) : nil
            options.append(QuizOption(text: answerText, isCorrect: isCorrect, feedback: feedback))
        }
        guard firstRightLine != nil else {
            throw QuizFormatError(line: openLine, message: "no right answer: mark exactly one answer with '='")
        }
        return options
    }
}

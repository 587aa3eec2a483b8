import Foundation
import Testing

@testable import PortalDomain

@Suite struct QuizFormatTests {
    /// A rejected file: the line the error must name and a fragment of its message.
    struct Rejection: Sendable, CustomStringConvertible {
        var name: String
        var text: String
        var line: Int
        var message: String

        var description: String { name }
    }

    private func expectRejection(_ rejection: Rejection, by parse: (String) throws(QuizFormatError) -> QuizDocument) {
        do {
            let document = try parse(rejection.text)
            Issue.record("\(rejection.name): expected an error, parsed \(document.questions.count) question(s)")
        } catch {
            #expect(error.line == rejection.line, "\(rejection.name): \(error)")
            #expect(error.message.contains(rejection.message), "\(rejection.name): \(error)")
            #expect(error.description == "line \(error.line): \(error.message)")
        }
    }

    // MARK: - Aiken

    @Test func aikenQuestionsBecomeOptionsWithTheAnsweredLetterRight() throws {
        let text = """
            What is the capital of France?
            A. Berlin
            B. Paris
            C) Madrid
            ANSWER: B

            Which command prints the working directory?
            A) ls
            B) pwd
            ANSWER: B
            """
        let document = try AikenParser.parse(text)
        #expect(document.title == nil)
        #expect(document.questions.count == 2)
        let first = try #require(document.questions.first)
        #expect(first.prompt == "What is the capital of France?")
        #expect(first.key == "What is the capital of France?")
        #expect(first.line == 1)
        #expect(
            first.options == [
                QuizOption(text: "Berlin", isCorrect: false),
                QuizOption(text: "Paris", isCorrect: true),
                QuizOption(text: "Madrid", isCorrect: false),
            ]
        )
        #expect(first.generalFeedback == nil)
        #expect(document.questions[1].line == 7)
        #expect(document.questions[1].correctOptionIndex == 1)
    }

    @Test func aikenPromptMaySpanSeveralLines() throws {
        let document = try AikenParser.parse(
            "Look at this command:\n  ls | wc -l\nWhat does it print?\nA. a count\nB. a list\nANSWER: A\n"
        )
        let question = try #require(document.questions.first)
        #expect(question.prompt == "Look at this command:\nls | wc -l\nWhat does it print?")
        #expect(question.key == "Look at this command: ls | wc -l What does it print?")
    }

    @Test func aikenAcceptsAQuestionRightAfterTheAnswerLineAndExtraBlankLines() throws {
        let text = "\n\nQ1?\nA. x\nB. y\nANSWER: a\nQ2?\nA. x\nB. y\nANSWER:B\n\n\n"
        let document = try AikenParser.parse(text)
        #expect(document.questions.map(\.line) == [3, 7])
        #expect(document.questions.map(\.correctOptionIndex) == [0, 1])
    }

    @Test func aikenReadsCRLFLineEndings() throws {
        let document = try AikenParser.parse("Q1?\r\nA. x\r\nB. y\r\nANSWER: B\r\n\r\nQ2?\r\nA. x\r\nB. y\r\nANSWER: A\r\n")
        #expect(document.questions.map(\.line) == [1, 6])
        #expect(document.questions[0].options.map(\.text) == ["x", "y"])
    }

    static let aikenRejections: [Rejection] = [
        Rejection(
            name: "option before a question",
            text: "A. x\nB. y\nANSWER: A",
            line: 1,
            message: "option 'A' before a question"
        ),
        Rejection(
            name: "option after a blank line",
            text: "Q?\nA. x\nB. y\nANSWER: A\n\nC. z",
            line: 6,
            message: "option 'C' before a question"
        ),
        Rejection(
            name: "missing ANSWER at a blank line",
            text: "Q1?\nA. x\nB. y\n\nQ2?\nA. x\nB. y\nANSWER: A",
            line: 1,
            message: "missing 'ANSWER: X' line"
        ),
        Rejection(
            name: "missing ANSWER at the end",
            text: "Q1?\nA. x\nB. y\nANSWER: A\n\nQ2?\nA. x\nB. y\n",
            line: 6,
            message: "missing 'ANSWER: X' line"
        ),
        Rejection(
            name: "question without options",
            text: "Q1?\n\nQ2?\nA. x\nB. y\nANSWER: A",
            line: 1,
            message: "question has no options"
        ),
        Rejection(
            name: "ANSWER letter with no such option",
            text: "Q?\nA. x\nB. y\nANSWER: D",
            line: 4,
            message: "ANSWER 'D' names no option of this question (its options are A, B)"
        ),
        Rejection(name: "fewer than 2 options", text: "Q?\nA. only\nANSWER: A", line: 3, message: "at least 2 options"),
        Rejection(name: "no options before ANSWER", text: "Q?\nANSWER: A", line: 2, message: "at least 2 options"),
        Rejection(
            name: "duplicate letters",
            text: "Q?\nA. x\nB. y\nB. z\nANSWER: A",
            line: 4,
            message: "duplicate option letter 'B' (already used on line 3)"
        ),
        Rejection(name: "ANSWER without a question", text: "ANSWER: A", line: 1, message: "'ANSWER:' line without a question"),
        Rejection(
            name: "ANSWER with several letters",
            text: "Q?\nA. x\nB. y\nANSWER: A, B",
            line: 4,
            message: "ANSWER must name one option letter"
        ),
        Rejection(name: "option without text", text: "Q?\nA.\nB. y\nANSWER: B", line: 2, message: "option 'A' has no text"),
        Rejection(
            name: "text between the options",
            text: "Q?\nA. x\nmore text\nB. y\nANSWER: A",
            line: 3,
            message: "expected another option"
        ),
        Rejection(name: "empty file", text: "", line: 1, message: "no questions found"),
        Rejection(name: "blank file", text: "\n  \n\n", line: 1, message: "no questions found"),
        Rejection(
            name: "duplicate prompt",
            text: "Same?\nA. x\nB. y\nANSWER: A\n\nSame?\nA. p\nB. q\nANSWER: B",
            line: 6,
            message: "duplicate question key 'Same?' on lines 1 and 6"
        ),
    ]

    @Test(arguments: aikenRejections) func aikenRejectsMalformedFilesWithTheLine(_ rejection: Rejection) {
        expectRejection(rejection, by: AikenParser.parse)
    }

    // MARK: - GIFT: supported constructs

    @Test func giftMultipleChoiceHasOneRightAnswerAndFeedbackOnEachOption() throws {
        let text = "::capital:: What is the capital of France? {=Paris#Yes. ~Berlin#That is Germany. ~Madrid}"
        let question = try #require(try GIFTParser.parse(text).questions.first)
        #expect(question.key == "capital")
        #expect(question.prompt == "What is the capital of France?")
        #expect(question.line == 1)
        #expect(
            question.options == [
                QuizOption(text: "Paris", isCorrect: true, feedback: "Yes."),
                QuizOption(text: "Berlin", isCorrect: false, feedback: "That is Germany."),
                QuizOption(text: "Madrid", isCorrect: false),
            ]
        )
        #expect(question.generalFeedback == nil)
    }

    @Test func giftAnswersMaySpreadOverLinesWithGeneralFeedback() throws {
        let text = """
            Which command lists files?
            {
                ~pwd#prints where you are
                =ls
                ~cd#changes directory
                ####ls is short for list.
            }
            """
        let question = try #require(try GIFTParser.parse(text).questions.first)
        #expect(question.prompt == "Which command lists files?")
        #expect(question.options.map(\.text) == ["pwd", "ls", "cd"])
        #expect(question.correctOptionIndex == 1)
        #expect(question.options.map(\.feedback) == ["prints where you are", nil, "changes directory"])
        #expect(question.generalFeedback == "ls is short for list.")
    }

    @Test(arguments: [("{T}", true), ("{TRUE}", true), ("{F}", false), ("{FALSE}", false), ("{ true }", true), ("{f}", false)])
    func giftTrueFalseBecomesTwoOptions(block: String, answer: Bool) throws {
        let question = try #require(try GIFTParser.parse("The sky is blue. \(block)").questions.first)
        #expect(question.prompt == "The sky is blue.")
        #expect(question.options.map(\.text) == ["True", "False"])
        #expect(question.options.map(\.isCorrect) == [answer, !answer])
        #expect(question.options.allSatisfy { $0.feedback == nil })
    }

    @Test func giftTrueFalseFeedbackGoesToTheWrongAndTheRightOption() throws {
        let text = """
            Git commits go to the server at once. {FALSE#No: only git push sends them.#Right, commits are local.####See git push.}

            pwd prints the working directory. {T#It does print it.#Yes.}
            """
        let questions = try GIFTParser.parse(text).questions
        #expect(
            questions[0].options == [
                QuizOption(text: "True", isCorrect: false, feedback: "No: only git push sends them."),
                QuizOption(text: "False", isCorrect: true, feedback: "Right, commits are local."),
            ]
        )
        #expect(questions[0].generalFeedback == "See git push.")
        #expect(
            questions[1].options == [
                QuizOption(text: "True", isCorrect: true, feedback: "Yes."),
                QuizOption(text: "False", isCorrect: false, feedback: "It does print it."),
            ]
        )
    }

    @Test func giftTextAfterTheAnswerBlockBecomesAFillInTheBlank() throws {
        let text = "Moodle costs {~lots of money =nothing ~a small amount} to download."
        let question = try #require(try GIFTParser.parse(text).questions.first)
        #expect(question.prompt == "Moodle costs _____ to download.")
        #expect(question.key == "Moodle costs _____ to download.")
        #expect(question.options.map(\.text) == ["lots of money", "nothing", "a small amount"])

        let atStart = try #require(try GIFTParser.parse("{=cd ~ls} changes directory.").questions.first)
        #expect(atStart.prompt == "_____ changes directory.")
    }

    @Test func giftEscapesAreLiteralCharacters() throws {
        let text = ##"""
            ::a\:\:b:: Is \{x\} \= 1 \~ 2 \# 3 a\\b\nnew line? {=yes \= 1 \~ 2#fine \# ok ~no\}}
            """##
        let question = try #require(try GIFTParser.parse(text).questions.first)
        #expect(question.key == "a::b")
        #expect(question.prompt == "Is {x} = 1 ~ 2 # 3 a\\b\nnew line?")
        #expect(
            question.options == [
                QuizOption(text: "yes = 1 ~ 2", isCorrect: true, feedback: "fine # ok"),
                QuizOption(text: "no}", isCorrect: false),
            ]
        )
    }

    @Test func giftIgnoresCommentsAndCategoriesAndTakesTheTitleComment() throws {
        let text = """
            // title: Phase 9 — tools
            // another comment
            $CATEGORY: $course$/Phase 9

            // a comment between questions
            Q1 http://example.org/x?
            // a comment inside a question
            {=a ~b}

            // title: not the title
            Q2? {=a ~b}
            """
        let document = try GIFTParser.parse(text)
        #expect(document.title == "Phase 9 — tools")
        #expect(document.questions.map(\.prompt) == ["Q1 http://example.org/x?", "Q2?"])
        #expect(document.questions.map(\.line) == [6, 11])
    }

    @Test func giftWithoutATitleCommentHasNoTitle() throws {
        #expect(try GIFTParser.parse("// just a note\nQ? {T}").title == nil)
    }

    @Test(arguments: ["[html]", "[markdown]", "[moodle]", "[plain]", "[HTML]"])
    func giftFormatMarkersAreDroppedAndTheTextKeptPlain(marker: String) throws {
        let question = try #require(try GIFTParser.parse("::m:: \(marker)Is <b>this</b> bold? {T}").questions.first)
        #expect(question.prompt == "Is <b>this</b> bold?")
    }

    @Test func giftReadsCRLFLineEndings() throws {
        let text = "// title: T\r\n::one:: Q1?\r\n{\r\n=a#ok\r\n~b\r\n}\r\n\r\nQ2 {=x ~y}\r\n"
        let document = try GIFTParser.parse(text)
        #expect(document.title == "T")
        #expect(document.questions.map(\.line) == [2, 8])
        #expect(
            document.questions[0].options == [
                QuizOption(text: "a", isCorrect: true, feedback: "ok"), QuizOption(text: "b", isCorrect: false),
            ]
        )
        let error = #expect(throws: QuizFormatError.self) { try GIFTParser.parse("Q1 {=a ~b}\r\n\r\nQ2 {=a ~b ~c\r\n") }
        #expect(error?.line == 3)
    }

    @Test func giftIgnoresALeadingByteOrderMark() throws {
        let document = try GIFTParser.parse("\u{FEFF}// title: T\nQ? {T}")
        #expect(document.title == "T")
        #expect(document.questions.first?.line == 2)
    }

    // MARK: - Keys

    @Test func keyStaysTheSameWhenOnlyThePromptsWhitespaceChanges() throws {
        let before = try GIFTParser.parse("Which  command\tprints the directory? {=pwd ~ls}")
        let after = try GIFTParser.parse("   Which command\nprints   the directory?\n{=pwd ~ls}")
        #expect(before.questions[0].key == "Which command prints the directory?")
        #expect(before.questions[0].key == after.questions[0].key)

        let aikenBefore = try AikenParser.parse("Which  command prints\tit?\nA. pwd\nB. ls\nANSWER: A")
        let aikenAfter = try AikenParser.parse("Which command\n  prints it?\nA. pwd\nB. ls\nANSWER: A")
        #expect(aikenBefore.questions[0].key == aikenAfter.questions[0].key)
    }

    @Test func namedKeySurvivesAPromptEdit() throws {
        let before = try GIFTParser.parse("::shell-pwd:: Which command prints the directory? {=pwd ~ls}")
        let after = try GIFTParser.parse("::shell-pwd::Which command shows where you are? {=pwd ~ls ~cd}")
        #expect(before.questions[0].key == "shell-pwd")
        #expect(after.questions[0].key == "shell-pwd")
        #expect(before.questions[0].prompt != after.questions[0].prompt)
    }

    // MARK: - GIFT: rejections

    static let giftRejections: [Rejection] = [
        Rejection(name: "short answer", text: "Two plus two? {=four =4}", line: 1, message: "short-answer questions"),
        Rejection(
            name: "single right answer only",
            text: "Q1? {T}\n\nTwo plus two?\n{=four}",
            line: 4,
            message: "short-answer questions"
        ),
        Rejection(
            name: "matching",
            text: "Match:\n{\n=cat -> meow\n=dog -> woof\n}",
            line: 3,
            message: "matching questions ('->') are not supported"
        ),
        Rejection(
            name: "numeric",
            text: "Q1? {T}\n\nWhen? {#1969}",
            line: 3,
            message: "numeric questions ('{#...}') are not supported"
        ),
        Rejection(name: "essay", text: "Write an essay. {}", line: 1, message: "essay questions ('{}') are not supported"),
        Rejection(name: "essay with general feedback", text: "Write. {####thanks}", line: 1, message: "essay questions"),
        Rejection(
            name: "multiple right answers",
            text: "Q?\n{\n=a\n~b\n=c\n}",
            line: 5,
            message: "multiple right answers are not supported (the first '=' is on line 3)"
        ),
        Rejection(name: "percentage weights", text: "Q?\n{\n=a\n~%50%b\n~c\n}", line: 4, message: "percentage weights"),
        Rejection(name: "percentage weight on the right answer", text: "Q? {=%100%a ~b}", line: 1, message: "percentage weights"),
        Rejection(name: "no right answer", text: "Q? {~a ~b}", line: 1, message: "no right answer"),
        Rejection(
            name: "missing closing brace",
            text: "Q1? {=a ~b}\n\nQ2?\n{=a\n~b\n\nQ3? {T}",
            line: 4,
            message: "missing closing brace '}'"
        ),
        Rejection(
            name: "brace inside the answer block",
            text: "Q? {=a ~b {",
            line: 1,
            message: "'{' inside the answer block opened on line 1"
        ),
        Rejection(name: "second answer block", text: "Q? {=a ~b} and\n{T}", line: 2, message: "only one answer block"),
        Rejection(
            name: "closing brace without an opening one",
            text: "Q} {=a ~b}",
            line: 1,
            message: "'}' without an opening '{'"
        ),
        Rejection(
            name: "no answer block",
            text: "Q1? {T}\n\nJust a description.",
            line: 3,
            message: "question has no answer block"
        ),
        Rejection(name: "answers without = or ~", text: "Q? {pwd}", line: 1, message: "each answer must start with '='"),
        Rejection(name: "empty answer", text: "Q?\n{=a\n~#why\n}", line: 3, message: "empty answer after '~'"),
        Rejection(name: "true/false with three feedbacks", text: "Q? {T#a#b#c}", line: 1, message: "at most two feedbacks"),
        Rejection(name: "unclosed name", text: "::name Q? {T}", line: 1, message: "question name '::' is not closed"),
        Rejection(name: "empty name", text: "\n:::: Q? {T}", line: 2, message: "question name between '::' and '::' is empty"),
        Rejection(name: "no prompt", text: "::n:: {=a ~b}", line: 1, message: "question has no text"),
        Rejection(name: "empty file", text: "", line: 1, message: "no questions found"),
        Rejection(
            name: "only comments",
            text: "// title: T\n// nothing else\n$CATEGORY: x\n",
            line: 1,
            message: "no questions found"
        ),
        Rejection(
            name: "duplicate names",
            text: "::q:: A? {T}\n\n::q:: B? {F}",
            line: 3,
            message: "duplicate question key 'q' on lines 1 and 3"
        ),
        Rejection(
            name: "duplicate prompts",
            text: "Same  prompt? {T}\n\n// comment\nSame\nprompt? {F}",
            line: 4,
            message: "duplicate question key 'Same prompt?' on lines 1 and 4"
        ),
    ]

    @Test(arguments: giftRejections) func giftRejectsUnsupportedConstructsWithTheLine(_ rejection: Rejection) {
        expectRejection(rejection, by: GIFTParser.parse)
    }

    @Test func anErrorAnywhereRejectsTheWholeFile() {
        let text = "Q1? {=a ~b}\n\nQ2? {=a ~b}\n\nQ3? {~a ~b}"
        #expect(throws: QuizFormatError(line: 5, message: "no right answer: mark exactly one answer with '='")) {
            try GIFTParser.parse(text)
        }
    }

    // MARK: - Format detection

    @Test(arguments: [
        ("quiz.gift", "Q?\nA. x\nB. y\nANSWER: A", QuizFormat.gift),
        ("QUIZ.GIFT", "", .gift),
        ("quiz.aiken", "Q? {T}", .aiken),
        ("quiz.txt", "Q?\nA. x\nB. y\nANSWER: A", .aiken),
        ("quiz.txt", "Q?\r\nA) x\r\nB) y\r\nANSWER:B\r\n", .aiken),
        ("quiz.txt", "::q:: Q? {=a ~b}", .gift),
        ("quiz", "// title: T\nQ? {T}", .gift),
        ("quiz.txt", "Q? {=A. x ~B. y}\n// ANSWER: A", .gift),
    ])
    func formatIsDetectedFromTheExtensionThenTheContent(fileName: String, text: String, expected: QuizFormat) {
        #expect(QuizFormat.detect(fileName: fileName, text: text) == expected)
    }

    @Test func formatParsesWithTheMatchingParser() throws {
        #expect(try QuizFormat.aiken.parse("Q?\nA. x\nB. y\nANSWER: B").questions[0].correctOptionIndex == 1)
        #expect(try QuizFormat.gift.parse("Q? {F}").questions[0].correctOptionIndex == 1)
        #expect(QuizFormat(rawValue: "gift") == .gift)
    }

    // MARK: - Course content

    @Test func phaseZeroQuizParsesWithOneRightAnswerPerQuestionAndUniqueKeys() throws {
        let testFile = String(#filePath)
        let parts = testFile.split(separator: "/", omittingEmptySubsequences: false)
        let repoRoot = parts.dropLast(3).joined(separator: "/")
        let path = repoRoot + "/quizzes/phase-0.gift"
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(QuizFormat.detect(fileName: path, text: text) == .gift)

        let document = try GIFTParser.parse(text)
        #expect(document.title == "Phase 0 — getting started with the course tools")
        #expect(document.questions.count >= 10)
        #expect(Set(document.questions.map(\.key)).count == document.questions.count)
        for question in document.questions {
            #expect(question.options.count >= 2, "\(question.key)")
            #expect(question.options.filter(\.isCorrect).count == 1, "\(question.key)")
            #expect(question.key.allSatisfy { $0.isLowercase || $0.isNumber || $0 == "-" }, "\(question.key) is not a ::name::")
            for option in question.options where !option.isCorrect {
                #expect(option.feedback?.isEmpty == false, "\(question.key): wrong option '\(option.text)' has no feedback")
            }
        }
    }
}

import ArgumentParser
import Foundation
import PortalDomain
import PortalStore

struct Quiz: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage quizzes.", subcommands: [Import.self])

    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Import or update a quiz from a Moodle Aiken or GIFT file.",
            discussion: """
                Idempotent: re-importing an edited file updates the quiz in place. Questions keep their
                identity by their GIFT ::name:: (or, without one, by their text); a question removed from
                the file is retired with its review cards, and learners' attempts are kept. Any error in
                the file aborts the whole import with its line number; nothing is half-imported.
                """)

        @Argument(help: "The quiz file (.gift, or Aiken as .txt/.aiken).")
        var file: String

        @Option(help: "The quiz's URL name, /quiz/SLUG (default: the file name without extension).")
        var slug: String?

        func run() throws {
            let url = URL(fileURLWithPath: file)
            let text: String
            do {
                text = try String(contentsOf: url, encoding: .utf8)
            } catch {
                fail("cannot read \(file) as UTF-8 text: \(error.localizedDescription)")
            }
            let name = slug ?? url.deletingPathExtension().lastPathComponent
            guard Self.isValidSlug(name) else {
                fail("'\(name)' cannot be a quiz slug: use lowercase letters, digits and '-' (pass --slug)")
            }
            let format = QuizFormat.detect(fileName: url.lastPathComponent, text: text)
            let document: QuizDocument
            do {
                document = try format.parse(text)
            } catch {
                fail("\(file): \(error) (read as \(format.rawValue.uppercased()); nothing imported)")
            }
            let directory = ProcessInfo.processInfo.dataDirectory
            let database = SchemaGate.openCurrent(dataDirectory: directory)
            do {
                let summary = try QuizStore(database: database).importQuiz(
                    document, slug: name, sourceName: url.lastPathComponent, now: Int64(Date().timeIntervalSince1970))
                print("imported \(summary)")
            } catch {
                fail("import into \(directory)/portal.db failed: \(error)")
            }
        }

        static func isValidSlug(_ slug: String) -> Bool {
            !slug.isEmpty && slug.count <= 64
                && slug.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" }
        }
    }
}

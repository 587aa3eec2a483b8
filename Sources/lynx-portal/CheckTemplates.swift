import ArgumentParser
import Foundation
import PortalWeb

struct CheckTemplates: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-templates",
        abstract: "Compile every template as start-up does; print the first error with its file and line.")

    @Option(help: "Templates directory (default $LYNX_TEMPLATES_DIR or /opt/lynx-portal/templates).")
    var dir: String?

    func run() throws {
        let directory =
            dir ?? ProcessInfo.processInfo.environment["LYNX_TEMPLATES_DIR"].flatMap { $0.isEmpty ? nil : $0 }
            ?? "/opt/lynx-portal/templates"
        do {
            _ = try TemplateSet.compile(directory: directory)
            print("templates ok: \(directory) (\(TemplateSet.required.count) pages present)")
        } catch {
            fail("template \(error)")
        }
    }
}

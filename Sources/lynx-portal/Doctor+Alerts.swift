import Foundation
import PortalStore
import PortalWeb

extension Doctor {
    /// The operator's alert conditions (PortalStore.OperatorChecks), one line each: backup,
    /// backup verify, disk space, certificate. An alert fails the run; `/healthz` lists the same.
    static func reportAlerts(into report: inout DoctorReport, dataDirectory: String, configuration: PortalConfiguration?) {
        let checks = OperatorChecks.run(
            dataDirectory: dataDirectory, thresholds: configuration?.alertThresholds ?? .standard,
            now: Int64(Date().timeIntervalSince1970))
        for check in checks {
            switch check.level {
            case .ok: report.pass(check.check, check.message)
            case .warning: report.warn(check.check, check.message)
            case .alert: report.fail(check.check, check.message)
            }
        }
    }
}

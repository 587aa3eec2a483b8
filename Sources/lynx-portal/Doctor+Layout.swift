import Foundation
import Glibc

/// The server layout `deploy/install.sh` creates (deploy/README.md, "Layout"): owner, group and
/// mode of every path. Code is root's and only readable by the portal; static files are Caddy's
/// to serve; data and logs are the portal's; secrets are root's alone; the socket's directory and
/// the socket are reachable by Caddy's group only.
struct ServerLayout {
    enum Kind: String { case directory, file, socket }

    struct Rule {
        let path: String
        let kind: Kind
        let owner: String
        let group: String
        let mode: mode_t
        /// Absent paths are only a failure when required.
        var required = true
    }

    /// Rules for whole trees: every directory and regular file below `root`.
    struct TreeRule {
        let root: String
        let owner: String
        let group: String
        let directoryMode: mode_t
        let fileMode: mode_t
    }

    var rules: [Rule]
    var trees: [TreeRule]

    /// True where install.sh has run: the secrets directory exists.
    static var isInstalledSystem: Bool {
        var info = stat()
        return stat("/etc/lynx-portal", &info) == 0
    }

    static var systemdIsRunning: Bool {
        var info = stat()
        return stat("/run/systemd/system", &info) == 0
    }

    static func installed(dataDirectory: String, templatesDirectory: String, withSocket: Bool) -> ServerLayout {
        var rules: [Rule] = [
            Rule(path: "/opt/lynx-portal", kind: .directory, owner: "root", group: "root", mode: 0o755),
            Rule(path: "/opt/lynx-portal/bin", kind: .directory, owner: "root", group: "portal", mode: 0o750),
            Rule(path: "/opt/lynx-portal/bin/lynx-portal", kind: .file, owner: "root", group: "portal", mode: 0o750),
            Rule(path: "/usr/local/bin/lynx-portal", kind: .file, owner: "root", group: "root", mode: 0o755),
            Rule(path: "/etc/lynx-portal", kind: .directory, owner: "root", group: "portal", mode: 0o750),
            Rule(path: "/etc/lynx-portal/portal.env", kind: .file, owner: "root", group: "root", mode: 0o600),
            Rule(path: "/etc/lynx-portal/borg.env", kind: .file, owner: "root", group: "root", mode: 0o600),
            Rule(path: dataDirectory, kind: .directory, owner: "portal", group: "portal", mode: 0o750),
            Rule(path: dataDirectory + "/portal.db", kind: .file, owner: "portal", group: "portal", mode: 0o640),
            Rule(
                path: dataDirectory + "/portal.db-wal", kind: .file, owner: "portal", group: "portal", mode: 0o640,
                required: false),
            Rule(
                path: dataDirectory + "/portal.db-shm", kind: .file, owner: "portal", group: "portal", mode: 0o640,
                required: false),
            Rule(path: "/var/log/lynx-portal", kind: .directory, owner: "portal", group: "portal", mode: 0o750),
        ]
        if withSocket {
            rules += [
                Rule(path: "/run/lynx-portal", kind: .directory, owner: "root", group: "caddy", mode: 0o750),
                Rule(path: "/run/lynx-portal/portal.sock", kind: .socket, owner: "root", group: "caddy", mode: 0o660),
            ]
        }
        let trees = [
            TreeRule(root: templatesDirectory, owner: "root", group: "portal", directoryMode: 0o750, fileMode: 0o640),
            TreeRule(root: "/opt/lynx-portal/quizzes", owner: "root", group: "portal", directoryMode: 0o750, fileMode: 0o640),
            TreeRule(root: "/opt/lynx-portal/static", owner: "root", group: "caddy", directoryMode: 0o750, fileMode: 0o640),
            TreeRule(root: dataDirectory + "/audit", owner: "portal", group: "portal", directoryMode: 0o750, fileMode: 0o640),
        ]
        return ServerLayout(rules: rules, trees: trees)
    }

    /// Every difference from the layout, as an operator-readable line.
    func problems() -> (checked: Int, problems: [String]) {
        var problems: [String] = []
        var checked = 0
        for rule in rules {
            checked += 1
            if let problem = Self.problem(rule) { problems.append(problem) }
        }
        for tree in trees {
            checked += 1
            if let problem = Self.problem(
                Rule(path: tree.root, kind: .directory, owner: tree.owner, group: tree.group, mode: tree.directoryMode))
            {
                problems.append(problem)
                continue
            }
            guard let entries = FileManager.default.enumerator(atPath: tree.root) else {
                problems.append("\(tree.root): cannot list it (run doctor as root: sudo lynx-portal doctor)")
                continue
            }
            for case let relative as String in entries {
                let path = tree.root + "/" + relative
                var info = stat()
                guard lstat(path, &info) == 0 else { continue }
                let isDirectory = (info.st_mode & S_IFMT) == S_IFDIR
                checked += 1
                let rule = Rule(
                    path: path, kind: isDirectory ? .directory : .file, owner: tree.owner, group: tree.group,
                    mode: isDirectory ? tree.directoryMode : tree.fileMode)
                if let problem = Self.problem(rule) { problems.append(problem) }
            }
        }
        return (checked, problems)
    }

    static func problem(_ rule: Rule) -> String? {
        var info = stat()
        guard lstat(rule.path, &info) == 0 else {
            if errno == ENOENT { return rule.required ? "\(rule.path) is missing (re-run deploy/install.sh)" : nil }
            return "\(rule.path): \(String(cString: strerror(errno))) (run doctor as root: sudo lynx-portal doctor)"
        }
        let kind: Kind? =
            switch info.st_mode & S_IFMT {
            case S_IFDIR: .directory
            case S_IFREG: .file
            case S_IFSOCK: .socket
            default: nil
            }
        guard kind == rule.kind else { return "\(rule.path) is not a \(rule.kind.rawValue)" }
        let owner = userName(info.st_uid)
        let group = groupName(info.st_gid)
        let mode = info.st_mode & 0o7777
        guard owner == rule.owner, group == rule.group, mode == rule.mode else {
            return "\(rule.path) is \(owner):\(group) \(octal(mode)), expected \(rule.owner):\(rule.group) \(octal(rule.mode))"
        }
        return nil
    }

    static func userName(_ id: uid_t) -> String {
        guard let entry = getpwuid(id), let name = entry.pointee.pw_name else { return "\(id)" }
        return String(cString: name)
    }

    static func groupName(_ id: gid_t) -> String {
        guard let entry = getgrgid(id), let name = entry.pointee.gr_name else { return "\(id)" }
        return String(cString: name)
    }

    static func octal(_ mode: mode_t) -> String {
        let digits = String(mode, radix: 8)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }

    /// The portal user must not be able to log in.
    static func portalUserProblem() -> String? {
        guard let entry = getpwnam("portal") else { return "there is no portal user (re-run deploy/install.sh)" }
        let shell = entry.pointee.pw_shell.map { String(cString: $0) } ?? ""
        return shell == "/usr/sbin/nologin" ? nil : "the portal user has the login shell \(shell), expected /usr/sbin/nologin"
    }
}

extension Doctor {
    /// One line for the whole layout: how many paths were checked, or the first few differences.
    static func layout(_ layout: ServerLayout) throws -> String {
        var (checked, problems) = layout.problems()
        if let problem = ServerLayout.portalUserProblem() { problems.insert(problem, at: 0) }
        guard problems.isEmpty else {
            let shown = problems.prefix(4).joined(separator: "; ")
            let more = problems.count > 4 ? "; and \(problems.count - 4) more" : ""
            throw DoctorFailure("\(shown)\(more)")
        }
        return "\(checked) paths have the owners and modes of deploy/README.md; portal has no login shell"
    }
}

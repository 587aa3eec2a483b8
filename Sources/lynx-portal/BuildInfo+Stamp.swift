import CBuildInfo
import PortalWeb

extension BuildInfo {
    /// This binary's stamp (scripts/stamp-build.sh), or "dev"/"unknown" for an unstamped build.
    static let stamped = BuildInfo(
        version: String(cString: lynx_build_version()), commit: String(cString: lynx_build_commit()))
}

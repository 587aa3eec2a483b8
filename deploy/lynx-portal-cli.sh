#!/usr/bin/env bash
# Installed as /usr/local/bin/lynx-portal: runs the portal's command-line tool the way the service
# runs, with the settings of /etc/lynx-portal/portal.env, as the portal user, so that files it
# creates in /var/lib/lynx-portal stay portal-owned (0640).
# Usage: sudo lynx-portal COMMAND [ARGS...]   (e.g. user add NAME --tz ZONE, doctor, --help)
#
# Files the operator names (quiz import FILE, check-templates --dir DIR, snapshot verify FILE
# --manifest FILE, snapshot compare --manifest FILE) are read as root, relative to the directory
# the command was typed in, and handed to the portal user as a private copy (a 0700 directory of
# its own under /run, same file names, removed afterwards): a file in root's home stays root's.
# Paths the command writes (snapshot take --to/--manifest, --database, end-sessions FILE) are
# made absolute against that directory and used in place.
set -euo pipefail

binary=/opt/lynx-portal/bin/lynx-portal
env_file=/etc/lynx-portal/portal.env

if [ "$(id -u)" -ne 0 ]; then
    echo "lynx-portal: run as root (sudo lynx-portal $*): it reads $env_file and drops to the portal user" >&2
    exit 2
fi
[ -x "$binary" ] || { echo "lynx-portal: $binary is missing: run deploy/install.sh" >&2; exit 1; }
[ -r "$env_file" ] || { echo "lynx-portal: $env_file is missing: run deploy/install.sh" >&2; exit 1; }

# KEY=VALUE lines as systemd's EnvironmentFile= reads them (comments and blank lines skipped,
# one pair of surrounding quotes removed); parsed, never executed as shell.
while IFS= read -r line || [ -n "$line" ]; do
    [[ $line =~ ^[[:space:]]*([A-Za-z_][A-Za-z0-9_]*)=(.*)$ ]] || continue
    key=${BASH_REMATCH[1]} value=${BASH_REMATCH[2]}
    if [[ $value =~ ^\"(.*)\"$ || $value =~ ^\'(.*)\'$ ]]; then value=${BASH_REMATCH[1]}; fi
    export "$key=$value"
done <"$env_file"

# --- the operator's files ---------------------------------------------------------------------
operator_dir=$PWD
staging=""
# shellcheck disable=SC2317 # called by the traps
cleanup() {
    if [ -n "$staging" ]; then rm -rf -- "$staging"; fi
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT
trap 'cleanup; exit 143' TERM

absolute() {
    case "$1" in
        /*) printf '%s' "$1" ;;
        *) printf '%s/%s' "${operator_dir%/}" "$1" ;;
    esac
}

# stage TYPED KIND (file|dir): copies what the operator named into the private directory and sets
# $staged to the copy's path. The copy keeps the base name (quiz ids come from file names).
staged=""
stage() {
    local typed=$1 kind=$2 source name slot
    source=$(absolute "$typed")
    if [ "$kind" = dir ]; then
        [ -d "$source" ] || { echo "lynx-portal: $typed: no such directory (looked for $source)" >&2; exit 1; }
    else
        [ -e "$source" ] || { echo "lynx-portal: $typed: no such file (looked for $source)" >&2; exit 1; }
        [ -f "$source" ] || { echo "lynx-portal: $typed: not a regular file" >&2; exit 1; }
    fi
    if [ -z "$staging" ]; then
        staging=$(mktemp -d "$(if [ -w /run ]; then echo /run; else echo /tmp; fi)/lynx-portal-cli.XXXXXXXX")
        chown portal:portal "$staging"
        chmod 0700 "$staging"
    fi
    # One sub-directory per argument: two files of the same name do not collide.
    slot=$(mktemp -d "$staging/arg.XXXX")
    name=$(basename -- "$source")
    [ "$name" != / ] && [ "$name" != . ] || name=templates
    cp -RL -- "$source" "$slot/$name" || { echo "lynx-portal: $typed: cannot read it" >&2; exit 1; }
    chown -R portal:portal "$slot"
    find "$slot" -type d -exec chmod 0700 {} + -o -type f -exec chmod 0600 {} +
    staged="$slot/$name"
}

# The arguments, with each path replaced. Options take their value as `--opt VALUE` or
# `--opt=VALUE`, as the binary's argument parser accepts.
args=()
command_name="${1:-} ${2:-}"
# Which options and positional arguments are paths: "stage-file", "stage-dir" or "absolute".
declare -A option_kind=()
positional_kind=""
case "$command_name" in
    "quiz import") positional_kind=stage-file ;;
    "check-templates "*) option_kind[--dir]=stage-dir ;;
    "snapshot verify")
        positional_kind=stage-file
        option_kind[--manifest]=stage-file
        ;;
    "snapshot compare")
        option_kind[--manifest]=stage-file
        option_kind[--database]=absolute
        ;;
    "snapshot take")
        option_kind[--to]=absolute
        option_kind[--manifest]=absolute
        option_kind[--database]=absolute
        ;;
    "snapshot end-sessions") positional_kind=absolute ;;
    "doctor "* | "serve "*) option_kind[--socket]=absolute ;;
esac

# path_arg KIND VALUE: sets $converted.
converted=""
path_arg() {
    case "$1" in
        stage-file) stage "$2" file; converted=$staged ;;
        stage-dir) stage "$2" dir; converted=$staged ;;
        absolute) converted=$(absolute "$2") ;;
    esac
}

verify_file="" manifest_given=no
if [ -n "$positional_kind" ] || [ "${#option_kind[@]}" -gt 0 ]; then
    # The subcommand's words stay as they are.
    case "$command_name" in
        "check-templates "* | "doctor "* | "serve "*) args=("$1"); shift ;;
        *) args=("$1" "$2"); shift 2 ;;
    esac
    while [ $# -gt 0 ]; do
        argument=$1
        shift
        case "$argument" in
            --*=*)
                option=${argument%%=*}
                if [ -n "${option_kind[$option]:-}" ]; then
                    path_arg "${option_kind[$option]}" "${argument#*=}"
                    args+=("$option=$converted")
                    [ "$option" != --manifest ] || manifest_given=yes
                else
                    args+=("$argument")
                fi
                ;;
            --*)
                if [ -n "${option_kind[$argument]:-}" ] && [ $# -gt 0 ]; then
                    path_arg "${option_kind[$argument]}" "$1"
                    shift
                    args+=("$argument" "$converted")
                    [ "$argument" != --manifest ] || manifest_given=yes
                elif [ "$argument" = --slug ] && [ $# -gt 0 ]; then
                    args+=("$argument" "$1")
                    shift
                else
                    args+=("$argument")
                fi
                ;;
            -*) args+=("$argument") ;;
            *)
                if [ -n "$positional_kind" ]; then
                    [ "$command_name" != "snapshot verify" ] || verify_file=$argument
                    path_arg "$positional_kind" "$argument"
                    args+=("$converted")
                else
                    args+=("$argument")
                fi
                ;;
        esac
    done
    # snapshot verify reads manifest.json beside the snapshot unless told otherwise.
    if [ -n "$verify_file" ] && [ "$manifest_given" = no ]; then
        beside="$(dirname -- "$(absolute "$verify_file")")/manifest.json"
        if [ -f "$beside" ]; then
            stage "$beside" file
            args+=(--manifest "$staged")
        fi
    fi
else
    args=("$@")
fi

umask 0027
cd /
# doctor also joins Caddy's group: it checks the socket exactly as Caddy reaches it.
groups=(-g portal)
if [ "${args[0]:-}" = doctor ] && getent group caddy >/dev/null; then groups+=(-G caddy); fi
if [ -z "$staging" ]; then
    exec runuser -u portal "${groups[@]}" -- "$binary" "${args[@]}"
fi
# A staged copy is removed afterwards (the EXIT trap), so the binary is not exec'd.
status=0
runuser -u portal "${groups[@]}" -- "$binary" "${args[@]}" || status=$?
exit "$status"

#!/usr/bin/env bash
# Gradescope runs this once, as root, while it builds the autograder image, with the bundle
# unpacked in /autograder/source. It installs the system packages (bubblewrap for the sandbox),
# a venv, and the grader from this folder (editable: the grader runs from this tree, which
# run_autograder makes root-only, and the venv that student code uses holds none of it).
#
# Settings (environment variables; the defaults are Gradescope's layout):
#   DLGRADE_VENV         where the venv goes (default /autograder/venv)
#   DLGRADE_BASE_PYTHON  the Python >= 3.11 that creates it (default: the first of python3,
#                        python3.13, python3.12, python3.11 that is recent enough)
#   DLGRADE_SKIP_APT=1   install no system packages
#   DLGRADE_OFFLINE=1    install only the grader itself, without a package index or its
#                        dependencies (they must already be importable in the venv)
# gradescope.env (written by `dlgrade gradescope`) names the pip extras and the exercises.
set -euo pipefail

SOURCE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="${DLGRADE_VENV:-/autograder/venv}"
# shellcheck source=/dev/null
. "$SOURCE/gradescope.env"

log() { printf 'setup.sh: %s\n' "$*"; }

can_apt() {
    [ "${DLGRADE_SKIP_APT:-0}" != 1 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1
}

apt_install() {
    log "apt-get install $*"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
}

# config.py reads course.toml with tomllib: Python 3.11 or newer (Ubuntu 22.04 ships 3.10).
recent_enough() {
    "$1" -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1
}

pick_python() {
    local candidate
    if [ -n "${DLGRADE_BASE_PYTHON:-}" ]; then
        recent_enough "$DLGRADE_BASE_PYTHON" && { printf '%s\n' "$DLGRADE_BASE_PYTHON"; return 0; }
        return 1
    fi
    for candidate in python3 python3.13 python3.12 python3.11; do
        if command -v "$candidate" >/dev/null 2>&1 && recent_enough "$candidate"; then
            printf '%s\n' "$candidate"
            return 0
        fi
    done
    return 1
}

if can_apt; then
    log "apt-get update"
    apt-get update -qq
    apt_install ca-certificates python3 python3-venv python3-pip bubblewrap
fi

if [ -x "$VENV/bin/python" ] && recent_enough "$VENV/bin/python"; then
    log "using the existing venv $VENV"
else
    if ! base=$(pick_python); then
        if can_apt; then
            apt_install python3.11 python3.11-venv
        fi
        base=$(pick_python) || {
            log "no Python >= 3.11 found (set DLGRADE_BASE_PYTHON, or choose the Ubuntu 24.04 base image)" >&2
            exit 1
        }
    fi
    log "creating the venv $VENV with $base"
    "$base" -m venv "$VENV"
fi

target="$SOURCE"
if [ -n "${DLGRADE_EXTRAS:-}" ]; then
    target="${SOURCE}[${DLGRADE_EXTRAS}]"
fi
pip=("$VENV/bin/python" -m pip install --disable-pip-version-check --no-input)
if [ "${DLGRADE_OFFLINE:-0}" = 1 ]; then
    log "pip install -e $target (offline: no index, no dependencies)"
    "${pip[@]}" -q --no-deps --no-index --no-build-isolation -e "$target"
else
    "${pip[@]}" -q --upgrade pip
    log "pip install -e $target"
    "${pip[@]}" -q -e "$target"
fi
# Student code runs as an unprivileged uid with this venv's Python: it must be able to read it.
chmod -R a+rX "$VENV"

case ",${DLGRADE_EXTRAS:-}," in
    *,tf,*)
        # The CNN's data, downloaded now: there may be no network while grading.
        log "fetching Fashion-MNIST"
        "$VENV/bin/python" -c 'from keras.datasets import fashion_mnist; fashion_mnist.load_data()' \
            || log "could not fetch Fashion-MNIST now; grading will try again" >&2
        ;;
esac

cd "$SOURCE"
"$VENV/bin/python" -m autograder.gradescope.run --check --exercises "$DLGRADE_EXERCISES"
log "done"

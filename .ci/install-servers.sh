#!/usr/bin/env bash
# Installs the real servers the end-to-end tests run against (tests/e2e): nginx, wrk and
# Prometheus, from the distribution's packages.
#
# Never fails the CI run: when a package cannot be installed (no apt-get, no root, no
# network, a package missing from the release) it says why and exits 0, and the tests that
# need the missing program are skipped with a reason naming it. Safe to run again: what is
# already installed is left alone, and `apt-get update` runs at most once.
set -u

PACKAGES=(nginx wrk prometheus)
# Package -> the program the tests look for (in PATH, /usr/sbin, /usr/local/sbin, /sbin).
declare -A PROGRAM=([nginx]=nginx [wrk]=wrk [prometheus]=prometheus)

have() {
    command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/usr/local/sbin/$1" ] || [ -x "/sbin/$1" ]
}

missing=()
for package in "${PACKAGES[@]}"; do
    have "${PROGRAM[$package]}" || missing+=("$package")
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "install-servers: nginx, wrk and prometheus are already installed"
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-servers: apt-get not found; not installing ${missing[*]} (their end-to-end tests will be skipped)"
    exit 0
fi

as_root=()
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        as_root=(sudo -n)
    else
        echo "install-servers: not root and no password-less sudo; not installing ${missing[*]} (their end-to-end tests will be skipped)"
        exit 0
    fi
fi

export DEBIAN_FRONTEND=noninteractive
# Wait for another apt run holding the lock rather than failing at once; bound every step.
APT=("${as_root[@]}" timeout 600 apt-get -o DPkg::Lock::Timeout=120 -qq)
# --no-install-recommends: Prometheus recommends the node exporter and its disk tools,
# which the tests do not need (and which more than double the download).
INSTALL=("${APT[@]}" install -y --no-install-recommends)

started=$(date +%s)
if ! "${APT[@]}" update >/dev/null 2>&1; then
    echo "install-servers: apt-get update failed (no network or no package mirror?); trying the package lists already present"
fi

if ! "${INSTALL[@]}" "${missing[@]}" >/dev/null 2>&1; then
    # One unavailable package must not keep the others out: try them one by one.
    for package in "${missing[@]}"; do
        if ! "${INSTALL[@]}" "$package" >/dev/null 2>&1; then
            echo "install-servers: could not install $package (not in this release's package lists, or the download failed); its end-to-end tests will be skipped"
        fi
    done
fi
echo "install-servers: apt took $(( $(date +%s) - started ))s"

for package in "${PACKAGES[@]}"; do
    program=${PROGRAM[$package]}
    if have "$program"; then
        version=$(dpkg-query -W -f='${Version}' "$package" 2>/dev/null || echo "?")
        echo "install-servers: $program ready ($package $version)"
    else
        echo "install-servers: $program is not available; its end-to-end tests will be skipped"
    fi
done
exit 0

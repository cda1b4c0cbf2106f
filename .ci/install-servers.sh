#!/usr/bin/env bash
# Installs, from Debian's packages, everything the test suite needs besides Python packages:
# the venv module, the servers and programs the tests start (nginx, wrk, Prometheus,
# Alertmanager, PostgreSQL, openssl, logrotate, tmux) and the log tools operators compare
# warroom with (lnav, goaccess).
#
# Fails (non-zero) when anything cannot be installed: under CI=true a missing program is a
# test failure anyway, and this says which package at the start of the log instead.
# Safe to run again: apt-get leaves installed packages alone.
set -euo pipefail

PACKAGES=(
    python3-venv             # `python3 -m venv` on Debian's python3
    openssl                  # the TLS tests make their own certificate
    nginx wrk                # tests/e2e/test_nginx.py: a real nginx under real load
    prometheus               # tests/e2e/test_prometheus.py
    prometheus-alertmanager  # notifications to a real Alertmanager
    postgresql               # rooms on PostgreSQL (the tests start their own cluster)
    logrotate                # rotation exactly as logrotate does it
    tmux                     # the app driven as an operator would
    lnav goaccess            # the log tools operators compare warroom with
)

as_root=()
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        as_root=(sudo -n)
    else
        echo "install-servers: needs root or password-less sudo to install ${PACKAGES[*]}" >&2
        exit 1
    fi
fi

export DEBIAN_FRONTEND=noninteractive
# Wait for another apt run holding the lock rather than failing at once; bound every step.
APT=("${as_root[@]}" timeout 900 apt-get -o DPkg::Lock::Timeout=120 -qq)
started=$(date +%s)
"${APT[@]}" update
# --no-install-recommends: Prometheus recommends the node exporter and its disk tools and
# PostgreSQL its contrib and client extras, which the tests do not use.
"${APT[@]}" install -y --no-install-recommends "${PACKAGES[@]}" >/dev/null
echo "install-servers: apt took $(( $(date +%s) - started ))s"

missing=()
for package in "${PACKAGES[@]}"; do
    if [ "$(dpkg-query -W -f='${db:Status-Status}' "$package" 2>/dev/null)" = installed ]; then
        echo "install-servers: $package $(dpkg-query -W -f='${Version}' "$package")"
    else
        missing+=("$package")
    fi
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "install-servers: not installed: ${missing[*]}" >&2
    exit 1
fi

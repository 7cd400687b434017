#!/usr/bin/env bash
# Installs what the tests need when it is missing: the Debian packages that
# provide the Linux peers of the interop tests, and the Go modules.
# Without root or apt-get it says what is missing; those tests then skip.
set -euo pipefail

# tool -> Debian package
declare -A pkg=(
  [ip]=iproute2
  [ping]=iputils-ping
  [arping]=arping
  [socat]=socat
  [tshark]=tshark
  [iperf]=iperf
  [curl]=curl
  [wrk]=wrk
  [radvd]=radvd
  [traceroute]=traceroute
)

missing=()
for tool in "${!pkg[@]}"; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("${pkg[$tool]}")
done
# Python modules the tests run with Debian's python3 -> package
if ! /usr/bin/python3 -c 'import scapy.all' >/dev/null 2>&1; then
  missing+=(python3-scapy)
fi

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "missing Debian packages (interop tests that need them will skip): ${missing[*]}"
  fi
fi

go mod download

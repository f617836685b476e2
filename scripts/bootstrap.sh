#!/usr/bin/env bash
# Brings a fresh machine to a built tree: the wasm toolchain (Debian packages, or rustup's wasm32 target when it is
# already there), npm packages, then the wasm and TypeScript builds. Every step is
# skipped when its result is already present, so running it again costs a few seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf 'bootstrap: %s\n' "$*" >&2; }
have() { command -v "$1" >/dev/null 2>&1; }

as_root_apt_install() {
  if [ "$(id -u)" != 0 ] || ! have apt-get; then
    log "missing system packages: $*"
    log "install them (Debian/Ubuntu: sudo apt-get install -y $*) or use rustup: rustup target add wasm32-unknown-unknown"
    exit 1
  fi
  log "apt-get install $*"
  if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mmin -1440 2>/dev/null | head -1)" ]; then
    apt-get update -qq
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# 1. A Rust toolchain that can target wasm32.
rustup_wasm=false
if have rustup && rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then rustup_wasm=true; fi
if [ "$rustup_wasm" = false ]; then
  missing=()
  for p in rustc-web cargo-web rust-web-src lld-22; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then as_root_apt_install "${missing[@]}"; fi
fi
if ! have cargo; then
  log "cargo not found: install Rust (rustup) or Debian's cargo-web"
  exit 1
fi

# 2. No wasm-bindgen CLI to install: scripts/build-wasm.mjs builds the workspace's own (crates/tnn-bindgen) from
#    Cargo.lock. wasm-pack is used when it is already installed (the rustup route), never installed from here.
export PATH="$HOME/.cargo/bin:$PATH"

# 2b. Debian's Chromium for the browser runtime test (test/runtime-chromium.test.ts drives it with playwright-core;
#     a downloaded browser is never used). Optional: without root or apt, only that test fails, with this hint.
if ! have chromium && [ ! -x /usr/bin/chromium ] && [ -z "${CHROMIUM_PATH:-}" ]; then
  if [ "$(id -u)" = 0 ] && have apt-get; then
    as_root_apt_install chromium
  else
    log "chromium not found: the browser test needs it (Debian/Ubuntu: sudo apt-get install -y chromium, or set CHROMIUM_PATH)"
  fi
fi

# 2c. Debian's Firefox ESR for the other browser engine (test/runtime-firefox.test.ts drives it over WebDriver BiDi).
#     Optional in the same way.
if ! have firefox-esr && [ ! -x /usr/bin/firefox-esr ] && [ -z "${FIREFOX_PATH:-}" ]; then
  if [ "$(id -u)" = 0 ] && have apt-get; then
    as_root_apt_install firefox-esr
  else
    log "firefox-esr not found: the Firefox test needs it (Debian: sudo apt-get install -y firefox-esr, or set FIREFOX_PATH)"
  fi
fi

# 3. npm packages, from the lock file.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  log "npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi

# 3b. Everything from here runs under Node >= 22.12 (scripts/node.sh): the system's when it is new enough, else the
#     Node 22 that npm ci just installed (devDependency node22), which is then worth a line in the log.
system_node="$(node --version 2>/dev/null || echo none)"
tool_node="$(bash scripts/node.sh --version)"
if [ "$system_node" != "$tool_node" ]; then log "system Node is $system_node; the build and tests run under Node $tool_node from node_modules"; fi

# 4. The builds (each skips itself when up to date).
npm run --silent build:wasm
npm run --silent build:ts

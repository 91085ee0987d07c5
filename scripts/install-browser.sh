#!/usr/bin/env bash
# Installs Debian's Chromium for the web board's browser test, where this machine allows it.
# Never fails: without a browser that one test skips with its reason.
command -v chromium >/dev/null 2>&1 && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "install-browser: installing Debian chromium for the browser test" >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null 2>&1 \
    || echo "install-browser: could not install chromium; the browser test will skip" >&2
fi
exit 0

#!/usr/bin/env bash
# Installs Debian's PostgreSQL server binaries for the store tests, where this machine allows it.
# The tests start a private server themselves (initdb in a temp dir, as the postgres user);
# this never starts or enables the system service. Never fails: without a server those
# tests skip with their reason.
if command -v initdb >/dev/null 2>&1 || compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "install-postgres: installing Debian postgresql for the store tests" >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
     postgresql) >/dev/null 2>&1 \
    || echo "install-postgres: could not install postgresql; the store tests will skip" >&2
fi
exit 0

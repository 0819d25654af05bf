#!/usr/bin/env bash
# Finds a PostgreSQL for make run and make test and prints its URL on stdout.
#   1. DATABASE_URL, when set;
#   2. else a server answering on ROUNDTRIP_LOCAL_PG (default 127.0.0.1:5432), user postgres;
#   3. else a private cluster under .data/postgres, made and started with the machine's
#      initdb and pg_ctl (on PATH or under /usr/lib/postgresql/*/bin).
# The database named by ROUNDTRIP_DB (default roundtrip) is created when missing.
# 'build/postgres.sh stop' stops the private cluster.
set -euo pipefail
cd "$(dirname "$0")/.."

db=${ROUNDTRIP_DB:-roundtrip}
probe=${ROUNDTRIP_LOCAL_PG:-127.0.0.1:5432}
data=$PWD/.data/postgres
port=${ROUNDTRIP_PRIVATE_PG_PORT:-55432}

say() { echo "postgres: $*" >&2; }

find_bin() {
  if command -v "$1" >/dev/null 2>&1; then command -v "$1"; return; fi
  local b
  for b in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$b/$1" ]; then echo "$b/$1"; return; fi
  done
  return 1
}

# as_owner runs a server tool as a non-root user: PostgreSQL refuses to run as root.
as_owner() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

answers() { (exec 3<>"/dev/tcp/${1%:*}/${1#*:}") 2>/dev/null; }

if [ "${1:-}" = stop ]; then
  if [ -f "$data/postmaster.pid" ]; then as_owner "$(find_bin pg_ctl)" -D "$data" -m fast -w stop >&2; fi
  exit 0
fi

ensure_db() { # $1: server URL without database
  local psql
  if psql=$(find_bin psql); then
    if ! "$psql" "$1/postgres?sslmode=disable" -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1; then
      "$psql" "$1/postgres?sslmode=disable" -qc "CREATE DATABASE \"$db\"" >&2
      say "created database $db"
    fi
  fi
}

if [ -n "${DATABASE_URL:-}" ]; then
  echo "$DATABASE_URL"
  exit 0
fi

if answers "$probe"; then
  ensure_db "postgres://postgres@$probe"
  echo "postgres://postgres@$probe/$db?sslmode=disable"
  exit 0
fi

say "nothing answers on $probe; using a private cluster under .data/postgres"
if ! initdb=$(find_bin initdb) || ! pg_ctl=$(find_bin pg_ctl); then
  cat >&2 <<MSG
postgres: no PostgreSQL found. Either
  - set DATABASE_URL=postgres://user@host:5432/roundtrip?sslmode=disable, or
  - start a server on $probe, or
  - install PostgreSQL (Debian/Ubuntu: apt-get install -y postgresql; macOS: brew install postgresql)
    and run this again: a private cluster is then made under .data/postgres.
MSG
  exit 1
fi
if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
  useradd --system --no-create-home postgres
fi
mkdir -p "$data"
[ "$(id -u)" = 0 ] && chown postgres "$data" && chmod 700 "$data"
if [ ! -f "$data/PG_VERSION" ]; then
  as_owner "$initdb" -D "$data" -U postgres -A trust -E UTF8 --no-locale >/dev/null
  say "initialised $data"
fi
if ! answers "127.0.0.1:$port"; then
  as_owner "$pg_ctl" -D "$data" -l "$data/server.log" -w \
    -o "-p $port -c listen_addresses=127.0.0.1 -k $data -c max_connections=200 -c fsync=off" start >&2
fi
ensure_db "postgres://postgres@127.0.0.1:$port"
echo "postgres://postgres@127.0.0.1:$port/$db?sslmode=disable"

#!/usr/bin/env bash
# make run: the whole product on local defaults with demo data. Finds or starts
# PostgreSQL (build/postgres.sh), starts stripe-mock on a free loopback port when no
# STRIPE_SECRET_KEY is set, loads the demo merchant, and serves until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."

DATABASE_URL=$(build/postgres.sh)
export DATABASE_URL
go build -o bin/roundtrip ./cmd/roundtrip

free_port() { # first port from $1 that nothing answers on
  local p=$1
  while (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; do p=$((p + 1)); done
  echo "$p"
}

if [ -z "${STRIPE_SECRET_KEY:-}" ]; then
  go build -o bin/stripe-mock github.com/stripe/stripe-mock
  port=$(free_port 12111)
  bin/stripe-mock -http-addr "127.0.0.1:$port" >/dev/null 2>&1 &
  mock=$!
  trap 'kill $mock 2>/dev/null || true' EXIT
  export STRIPE_SECRET_KEY=sk_test_123 STRIPE_API_BASE="http://127.0.0.1:$port"
  echo "stripe-mock on $STRIPE_API_BASE (no STRIPE_SECRET_KEY was set)"
fi

addr=${ROUNDTRIP_ADDR:-127.0.0.1:$(free_port 8080)}
export ROUNDTRIP_ADDR=$addr
base=${ROUNDTRIP_BASE_URL:-http://$addr}

bin/roundtrip demo
cat <<MSG

  Shopper portal:  $base/portal/northwind   (order NW-1001, ada@example.com)
  Scan station:    $base/warehouse          (sign in as ana)
  Finance:         $base/finance            (sign in as fin)
  Admin console:   $base/admin              (sign in as admin)
  API docs:        $base/docs
  Health:          $base/healthz
  Try the API:     curl -H "Authorization: Bearer <demo admin key above>" $base/v1/merchant

MSG
bin/roundtrip serve

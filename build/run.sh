#!/usr/bin/env bash
# make run: the whole product on local defaults with demo data. Finds or starts
# PostgreSQL (build/postgres.sh), starts stripe-mock on a free loopback port when no
# STRIPE_SECRET_KEY is set, starts mailpit (a local web inbox that catches the
# shopper's emails) when no ROUNDTRIP_SMTP_URL is set, loads the demo merchant, and
# serves until Ctrl-C. Webhook endpoints may be plain http on this machine.
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

children=()
cleanup() {
  for pid in "${children[@]}"; do
    kill -- "-$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true
  done
}
trap cleanup EXIT
trap 'exit 143' TERM

if [ -z "${STRIPE_SECRET_KEY:-}" ]; then
  go build -o bin/stripe-mock github.com/stripe/stripe-mock
  port=$(free_port 12111)
  bin/stripe-mock -http-addr "127.0.0.1:$port" >/dev/null 2>&1 &
  children+=($!)
  export STRIPE_SECRET_KEY=sk_test_123 STRIPE_API_BASE="http://127.0.0.1:$port" STRIPE_MOCK=true
  echo "stripe-mock on $STRIPE_API_BASE (no STRIPE_SECRET_KEY was set)"
fi

# mailpit catches the shopper's emails in a web inbox. It is run at a pinned version
# and is not a dependency of the product (not in go.mod); Go builds it the first
# time, which takes a few minutes. Without it make run still works, with no emails.
inbox=""
if [ -z "${ROUNDTRIP_SMTP_URL:-}" ]; then
  mkdir -p .data
  smtp_port=$(free_port 1025)
  ui_port=$(free_port 8025)
  echo "starting mailpit, the local inbox (the first time Go builds it: a few minutes)…"
  setsid go run github.com/axllent/mailpit@v1.33.1 --smtp "127.0.0.1:$smtp_port" --listen "127.0.0.1:$ui_port" \
    --smtp-auth-accept-any --smtp-auth-allow-insecure --disable-version-check --quiet >.data/mailpit.log 2>&1 &
  mailpit=$!
  children+=($mailpit)
  up=""
  for _ in $(seq 1 600); do
    if ! kill -0 "$mailpit" 2>/dev/null; then break; fi
    if (exec 3<>"/dev/tcp/127.0.0.1/$smtp_port") 2>/dev/null; then up=1; break; fi
    sleep 1
  done
  if [ -n "$up" ]; then
    export ROUNDTRIP_SMTP_URL="smtp://127.0.0.1:$smtp_port" ROUNDTRIP_MAIL_FROM="${ROUNDTRIP_MAIL_FROM:-returns@roundtrip.localhost}"
    inbox="http://127.0.0.1:$ui_port"
    echo "mailpit catches the emails: SMTP on 127.0.0.1:$smtp_port, inbox at $inbox"
  else
    echo "warning: mailpit did not start (see .data/mailpit.log); the demo runs without emails" >&2
    kill -- "-$mailpit" 2>/dev/null || true
  fi
fi
# local webhook receivers (a request bin on this machine) are allowed
export ROUNDTRIP_WEBHOOKS_ALLOW_HTTP=${ROUNDTRIP_WEBHOOKS_ALLOW_HTTP:-true}
export ROUNDTRIP_WEBHOOKS_ALLOW_PRIVATE=${ROUNDTRIP_WEBHOOKS_ALLOW_PRIVATE:-true}

addr=${ROUNDTRIP_ADDR:-127.0.0.1:$(free_port 8080)}
export ROUNDTRIP_ADDR=$addr
base=${ROUNDTRIP_BASE_URL:-http://$addr}

if [ -n "$inbox" ]; then
  mailnote="$inbox   (every email to shoppers lands here)"
elif [ -n "${ROUNDTRIP_SMTP_URL:-}" ]; then
  mailnote="sent through your ROUNDTRIP_SMTP_URL"
else
  mailnote="off (mailpit did not start: .data/mailpit.log)"
fi

bin/roundtrip demo
cat <<MSG

  Shopper portal:  $base/portal/northwind   (order NW-1001, ada@example.com)
  Scan station:    $base/warehouse          (sign in as ana)
  Finance:         $base/finance            (sign in as fin)
  Admin console:   $base/admin              (sign in as admin)
  Emails (inbox):  $mailnote
  API docs:        $base/docs
  Health:          $base/healthz
  Try the API:     curl -H "Authorization: Bearer <demo admin key above>" $base/v1/merchant

MSG
bin/roundtrip serve

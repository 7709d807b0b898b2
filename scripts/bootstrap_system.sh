#!/usr/bin/env bash
# Make sure the system services Conveyor needs are installed and running on this machine:
# PostgreSQL, RabbitMQ, nginx (the gateway), Apertium with its language pairs, espeak-ng (test speech),
# Node.js with npm (newman runs the Postman collections), Chromium (the browser tests drive it), a font
# for burned-in subtitles (fontconfig, DejaVu).
# Installs from Debian when something is missing and we are root; otherwise says what to install.
# Uses what already runs. Set CONVEYOR_SKIP_SYSTEM=1 to manage these services yourself.
set -euo pipefail

[ "${CONVEYOR_SKIP_SYSTEM:-0}" = "1" ] && { echo "bootstrap: CONVEYOR_SKIP_SYSTEM=1, leaving system services alone"; exit 0; }

# /dev/null must be a null device everyone may write. A gunicorn access log pointed at it once
# made it 0600 (fixed in deploy/gunicorn.conf.py): tools that run as another user (rabbitmqctl runs
# as rabbitmq) then could not open it and hung, and a CI run lost an hour. Put it right.
if [ ! -c /dev/null ] || [ "$(stat -c %a /dev/null)" != 666 ]; then
  echo "bootstrap: /dev/null is not a null device everyone may write ($(stat -c '%F %a' /dev/null))" >&2
  if [ "$(id -u)" = "0" ]; then
    { [ -c /dev/null ] || { rm -f /dev/null && mknod /dev/null c 1 3; }; } && chmod 666 /dev/null \
      && echo "bootstrap: restored /dev/null" >&2
  else
    echo "bootstrap: ask root to run: rm -f /dev/null && mknod -m 666 /dev/null c 1 3" >&2; exit 1
  fi
fi

APERTIUM_PAIRS="apertium-eng-spa apertium-eng-cat apertium-fr-es apertium-es-pt apertium-spa-ita"
MODES=/usr/share/apertium/modes
missing=()
command -v pg_ctlcluster >/dev/null && ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || missing+=(postgresql)
command -v psql >/dev/null || missing+=(postgresql-client)
command -v rabbitmq-server >/dev/null || missing+=(rabbitmq-server)
command -v nginx >/dev/null || missing+=(nginx-light)
command -v espeak-ng >/dev/null || missing+=(espeak-ng)
# npm installs newman, which runs the Postman collections in make test
command -v npm >/dev/null || missing+=(nodejs npm)
# wrk drives the HTTP benchmarks (make bench)
command -v wrk >/dev/null || missing+=(wrk)
# the browser tests (tests/e2e/test_browser_*.py) drive Debian's Chromium through Playwright
command -v chromium >/dev/null || missing+=(chromium)
# burning subtitles into a video: ffmpeg's libass finds a font through fontconfig's configuration
[ -f /etc/fonts/fonts.conf ] || missing+=(fontconfig-config)
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || missing+=(fonts-dejavu-core)
command -v apertium >/dev/null || missing+=(apertium)
[ -f $MODES/eng-spa.mode ] || missing+=(apertium-eng-spa)
[ -f $MODES/eng-cat.mode ] || missing+=(apertium-eng-cat)
[ -f $MODES/fr-es.mode ] || missing+=(apertium-fr-es)
[ -f $MODES/es-pt.mode ] || missing+=(apertium-es-pt)
[ -f $MODES/spa-ita.mode ] || missing+=(apertium-spa-ita)

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
    echo "bootstrap: installing ${missing[*]} from Debian"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # Services may not start from their install scripts in a container; we start them below.
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "bootstrap: missing system packages: ${missing[*]}" >&2
    echo "bootstrap: install them (Debian/Ubuntu: sudo apt-get install ${missing[*]}) and run again," >&2
    echo "           or set CONVEYOR_SKIP_SYSTEM=1 and point DATABASE_URL / AMQP_URL at your own servers." >&2
    exit 1
  fi
fi

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() {  # name port seconds
  for _ in $(seq "$3"); do port_open "$2" && return 0; sleep 1; done
  echo "bootstrap: $1 did not open port $2 within $3 s" >&2; return 1
}

if ! port_open 5432; then
  echo "bootstrap: starting PostgreSQL"
  version=$(ls /etc/postgresql | sort -V | tail -1)
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || pg_ctlcluster "$version" main start
  wait_port PostgreSQL 5432 30
fi

if ! port_open 5672; then
  echo "bootstrap: starting RabbitMQ"
  rabbitmq-server -detached
  wait_port RabbitMQ 5672 90
  rabbitmqctl await_startup >/dev/null 2>&1 || true
fi

psql_admin() {
  if psql -h 127.0.0.1 -U postgres -d postgres -tAc "SELECT 1" >/dev/null 2>&1; then
    psql -h 127.0.0.1 -U postgres -d postgres -v ON_ERROR_STOP=1 -tA "$@"
  elif [ "$(id -u)" = "0" ]; then
    runuser -u postgres -- psql -d postgres -v ON_ERROR_STOP=1 -tA "$@"
  else
    sudo -u postgres psql -d postgres -v ON_ERROR_STOP=1 -tA "$@"
  fi
}

# The development role and databases (the production stack brings its own credentials).
if [ "$(psql_admin -c "SELECT 1 FROM pg_roles WHERE rolname='conveyor'")" != "1" ]; then
  psql_admin -c "CREATE ROLE conveyor LOGIN PASSWORD 'conveyor' CREATEDB" >/dev/null
fi
for database in conveyor conveyor_test; do
  if [ "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname='$database'")" != "1" ]; then
    psql_admin -c "CREATE DATABASE $database OWNER conveyor" >/dev/null
  fi
done
echo "bootstrap: PostgreSQL, RabbitMQ, nginx and Apertium are ready"

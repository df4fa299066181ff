#!/usr/bin/env bash
# The system packages the tests need, named in one place; `make test` and `.ci/run` run this.
#
# Everything present: prints nothing, runs no apt-get, takes a few milliseconds.
# Something missing: as root, installs it with apt-get (Debian, non-interactive, quiet);
# otherwise names the missing packages and the command that installs them, and exits 1.
# With CI=true it also makes sure PostgreSQL answers on 127.0.0.1:5432 (the store's tests must
# run there, not skip): it starts the machine's cluster if one is installed, or says how.
#
# Usage: bash scripts/setup-system.sh        (PYTHON=python3.12 to check another interpreter)
set -euo pipefail

PYTHON=${PYTHON:-python3}

have_chromium() {  # the binaries listonosz.render.screenshot.find_chromium looks for
  if [[ -n ${LISTONOSZ_CHROMIUM:-} ]]; then
    command -v "$LISTONOSZ_CHROMIUM" || test -f "$LISTONOSZ_CHROMIUM"
    return
  fi
  command -v chromium || command -v chromium-browser || command -v google-chrome ||
    command -v google-chrome-stable
}

need() {  # need PACKAGE COMMAND...: the Debian package is missing while COMMAND fails
  local package=$1
  shift
  "$@" >/dev/null 2>&1 || missing+=("$package")
}

check() {  # fills `missing`
  missing=()
  need make command -v make
  need python3-venv "$PYTHON" -c 'import ensurepip, venv'  # make creates .venv with it
  need chromium have_chromium  # `listonosz preview --screenshots`, tests/integration/test_preview.py
  need fonts-liberation test -d /usr/share/fonts/truetype/liberation  # Arial's metrics, for them
  need wrk command -v wrk  # the load generator of benchmarks/web.py (and of its test)
  # The bounce tests' mail stack (tests/mailstack.py): Postfix and Dovecot, run from private
  # configurations on free loopback ports; the machine's own mail system stays unconfigured.
  need postfix command -v postfix
  need dovecot-imapd command -v dovecot
}

preseed() {  # Postfix asks what kind of mail system the machine is: none (the tests bring theirs)
  if [[ " ${missing[*]} " == *" postfix "* ]] && command -v debconf-set-selections >/dev/null; then
    echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  fi
}

check
if ((${#missing[@]})); then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    echo "setup-system: installing ${missing[*]}"
    log=$(mktemp)
    preseed
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -qq -o Dpkg::Use-Pty=0 "${missing[@]}"; } >"$log" 2>&1; then
      tail -n 40 "$log" >&2
      echo "setup-system: apt-get could not install ${missing[*]} (output above)" >&2
      rm -f "$log"
      exit 1
    fi
    rm -f "$log"
    installed=("${missing[@]}")
    check
    if ((${#missing[@]})); then
      echo "setup-system: installed ${installed[*]}, but still missing: ${missing[*]}" >&2
      exit 1
    fi
  else
    {
      echo "setup-system: the tests need these system packages, which are missing: ${missing[*]}"
      echo "Install them as root (Debian or Ubuntu), then run make test again:"
      echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}"
    } >&2
    exit 1
  fi
fi

# CI runs the PostgreSQL store tests; elsewhere they skip, saying how to enable them.
if [[ ${CI:-} == true ]]; then
  pg_answers() {
    if command -v pg_isready >/dev/null; then
      pg_isready -q -h 127.0.0.1 -p 5432 -t 3
    else
      timeout 3 bash -c ': </dev/tcp/127.0.0.1/5432' 2>/dev/null
    fi
  }
  if ! pg_answers; then
    if [[ $(id -u) -eq 0 ]] && command -v pg_ctlcluster >/dev/null && [[ -d /etc/postgresql ]]; then
      echo "setup-system: starting PostgreSQL"
      for version in /etc/postgresql/*/; do
        pg_ctlcluster --skip-systemctl-redirect "$(basename "$version")" main start || true
      done
      for _ in $(seq 20); do pg_answers && break || sleep 0.5; done
    fi
    if ! pg_answers; then
      {
        echo "setup-system: CI=true, but no PostgreSQL answers on 127.0.0.1:5432; the store's"
        echo "PostgreSQL tests must run in CI. Start the server (as root):"
        echo "  pg_ctlcluster --skip-systemctl-redirect \$(ls /etc/postgresql) main start"
        echo "or install one: apt-get install postgresql (trust authentication on loopback)"
      } >&2
      exit 1
    fi
  fi
fi

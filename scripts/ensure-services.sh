#!/usr/bin/env bash
# Make sure PostgreSQL (127.0.0.1:5432, trust auth for postgres) and Redis (127.0.0.1:6379) answer.
# Uses running servers; otherwise starts the Debian ones; installs them with apt when absent.
set -euo pipefail

answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for() {
  local port=$1 name=$2
  for _ in $(seq 1 60); do answers "$port" && return 0; sleep 0.5; done
  echo "error: $name did not come up on 127.0.0.1:$port" >&2
  exit 1
}

apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  if [ -z "${APT_UPDATED:-}" ]; then apt-get update -qq; APT_UPDATED=1; fi
  apt-get install -y -qq "$@" >/dev/null
}

if ! answers 5432; then
  if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
    echo "PostgreSQL is not installed: installing it with apt"
    apt_install postgresql
    hba=$(ls /etc/postgresql/*/main/pg_hba.conf)
    # Local test server only: let postgres connect over loopback without a password.
    sed -i '1i host all postgres 127.0.0.1/32 trust' "$hba"
  fi
  echo "Starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
  wait_for 5432 PostgreSQL
fi

if ! answers 6379; then
  if ! command -v redis-server >/dev/null; then
    echo "Redis is not installed: installing it with apt"
    apt_install redis-server
  fi
  echo "Starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
  wait_for 6379 Redis
fi
echo "PostgreSQL and Redis answer on 127.0.0.1"

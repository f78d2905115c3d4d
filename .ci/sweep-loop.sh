#!/usr/bin/env bash
# Run the clock sweep every minute beside `make run`, so the demo escalates without cron.
KUAISU=${1:-kuaisu}
while sleep 60; do "$KUAISU" sla sweep >/dev/null 2>&1 || true; done

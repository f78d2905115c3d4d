#!/usr/bin/env bash
# Beside `make run`: every minute run the clock sweep, retry notifications and take queued
# poster jobs, so the demo escalates and notifies without cron.
KUAISU=${1:-kuaisu}
while sleep 60; do
  "$KUAISU" sla sweep >/dev/null 2>&1 || true
  "$KUAISU" insight refresh >/dev/null 2>&1 || true
  "$KUAISU" notify send >/dev/null 2>&1 || true
  "$KUAISU" photos process >/dev/null 2>&1 || true
  "$KUAISU" posters work >/dev/null 2>&1 || true
  "$KUAISU" report weekly >/dev/null 2>&1 || true
done

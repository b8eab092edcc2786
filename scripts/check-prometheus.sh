#!/usr/bin/env bash
# The alerting rules: syntax and semantics (promtool check rules), then their unit tests
# (promtool test rules: series in, which alerts fire when). promtool comes with Debian's
# `prometheus` package; .ci/run installs it when missing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
command -v promtool >/dev/null || { echo "promtool not found: apt-get install prometheus" >&2; exit 1; }
promtool --version | head -n 1
promtool check rules ops/prometheus/alerts.yml
promtool test rules ops/prometheus/alerts.test.yml

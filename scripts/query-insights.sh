#!/usr/bin/env bash
# An entity's latest 10 insights, newest first: timestamp, prediction_type,
# risk_score, explanation.
#   scripts/query-insights.sh [ENTITY_ID] [--json] [--period 2025-01] [--limit N]
# ENTITY_ID defaults to stu_test_001. Target: AWS_ENDPOINT_URL if set,
# TARGET=aws for an AWS account, else the local target.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_admin.sh"
entity="stu_test_001"
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
  entity="$1"
  shift
fi
admin insights "$entity" "$@"

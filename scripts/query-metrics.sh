#!/usr/bin/env bash
# Students with health_score < 70 (EntityTypeHealthIndex), worst first:
# student_id, health_score, sessions_7d, ib_calls_14d.
#   scripts/query-metrics.sh [--json] [--below N] [--type tutor] [-c tableName=...]
# Target: AWS_ENDPOINT_URL if set, TARGET=aws for an AWS account, else the local target.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_admin.sh"
admin low-health "$@"

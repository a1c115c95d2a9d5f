#!/usr/bin/env bash
# The action's one step (see action.yml): GitHub sets GITHUB_ACTION_PATH,
# GITHUB_BASE_REF, GITHUB_STEP_SUMMARY, GITHUB_OUTPUT and RUNNER_TEMP.
set -euo pipefail

python="${RATCHET_PYTHON:-python}"
if [ "${RATCHET_INSTALL:-true}" = "true" ]; then
    "$python" -m pip install -q "$GITHUB_ACTION_PATH"
fi
base="${RATCHET_BASE:-}"
if [ -z "$base" ]; then
    if [ -z "${GITHUB_BASE_REF:-}" ]; then
        echo "::error title=coverage-ratchet::no base branch: run on pull_request, or set the base input"
        exit 2
    fi
    base="origin/$GITHUB_BASE_REF"
fi
proposed="${RUNNER_TEMP:-${TMPDIR:-/tmp}}/coverage-baseline.proposed.toml"
rm -f "$proposed"
status=0
"$python" -m ratchet check --base "$base" --format github \
    --summary "${GITHUB_STEP_SUMMARY:-/dev/null}" --propose "$proposed" || status=$?
if [ -f "$proposed" ] && [ -n "${GITHUB_OUTPUT:-}" ]; then
    echo "proposed=$proposed" >> "$GITHUB_OUTPUT"
fi
exit "$status"

#!/usr/bin/env bash
# The user's path, as a new user walks it: a fresh clone, an empty home and PREFECT_HOME, no
# PREFECT_* or TASTEMAKER_* variable (but the data folder), both cores kept busy by another job.
#
#   1. first-run: the README's first Quickstart command, read from README.md and run as written.
#      Must exit 0, print no traceback, and print at most FIRST_RUN_MAX_LINES lines.
#   2. drift-mail: a drifted world, `tastemaker run`, then `tastemaker drift --email` against a
#      real SMTP server on loopback with default settings: exactly one mail must arrive.
#
# Run it by hand before stopping: `bash .ci/user_path.sh` (about 6 minutes). .ci/run runs it after
# the test suite. Set USER_PATH_STEPS="first-run" to run one step. With both steps, drift-mail runs
# beside first-run in its own clone: real work that keeps the cores busy too, and the two steps
# take the time of the longer one.
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$(pwd)"

FIRST_RUN_MAX_LINES=60
# The drift-mail step: with default settings a drifted world sends exactly one mail, whose
# subject says ALERT and whose first lines name every planted column (the truth's `planted`).
# (It was "xfail" until the drift-alerts issue: 5 of 41 columns drifted, below the 0.30 dataset
# share, against an adjacent reference window already inside the shift.)
DRIFT_MAIL_EXPECT="pass"
steps="${USER_PATH_STEPS:-first-run drift-mail}"

work="$(mktemp -d /tmp/tastemaker-user-path.XXXXXX)"
load_pids=()
cleanup() {
  for pid in "${load_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  [ -n "${smtp_pid:-}" ] && kill "$smtp_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# The user's environment: this machine's (its certificates and package registry settings are
# what any user here has) without a single PREFECT_* or TASTEMAKER_* variable (the data folder
# excepted) and without an active virtualenv; an empty HOME, so Prefect's home is new too. The
# package cache is shared, so the clone's install does not download the locked packages again.
# PYTHONDONTWRITEBYTECODE goes too: this machine's shell exports it, a user's Python does not,
# and with it every process of the run (the CLI, Prefect's server, dbt) compiled prefect,
# pandas, sklearn... from source again instead of reusing the .pyc the first one wrote.
data_dir="${TASTEMAKER_DATA_DIR:-}"
[ -z "$data_dir" ] && [ -d ../shared/data ] && data_dir="$(cd ../shared/data && pwd)"
uv_cache="$(uv cache dir 2>/dev/null || true)"
mkdir -p "$work/home"
clean_env=(env)
while IFS='=' read -r name _; do
  case "$name" in
    PREFECT_*|TASTEMAKER_*|VIRTUAL_ENV|UV_PROJECT_ENVIRONMENT|PYTHONDONTWRITEBYTECODE)
      clean_env+=(-u "$name") ;;
  esac
done < <(env)
clean_env+=("HOME=$work/home" "TERM=dumb" "UV_PYTHON_DOWNLOADS=never")
[ -n "$uv_cache" ] && clean_env+=("UV_CACHE_DIR=$uv_cache")
[ -n "$data_dir" ] && clean_env+=("TASTEMAKER_DATA_DIR=$data_dir")

git clone -q --no-hardlinks "$repo" "$work/clone"
if ! git -C "$repo" diff --quiet HEAD 2>/dev/null; then
  echo "user-path: note: uncommitted changes in $repo are not in the clone (it tests HEAD)"
fi

busy_cores() {
  for _ in $(seq "$(nproc)"); do
    (exec yes > /dev/null) &
    load_pids+=("$!")
  done
}

# The README's first command: the first line of the first ```bash block under "## Quickstart".
readme_command() {
  awk '/^## Quickstart/{q=1} q && /^```bash/{b=1; next} b && /^```/{exit} b && NF{print; exit}' \
    "$work/clone/README.md"
}

failures=0

step_first_run() {
  local cmd lines start wall rc=0
  cmd="$(readme_command)"
  [ -n "$cmd" ] || { echo "user-path: no command found in README's Quickstart"; return 1; }
  echo "user-path: first-run: \`$cmd\` in a fresh clone, empty HOME, $(nproc) cores busy"
  busy_cores
  start=$(date +%s)
  (cd "$work/clone" && "${clean_env[@]}" bash -c "$cmd") > "$work/first-run.log" 2>&1 || rc=$?
  wall=$(( $(date +%s) - start ))
  for pid in "${load_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  load_pids=()
  # pip's and uv's install chatter is not the run's output: count from the run's first line.
  lines=$(awk '/^Tastemaker home:/{s=1} s' "$work/first-run.log" | wc -l)
  echo "----- first-run output (from 'Tastemaker home:') -----"
  awk '/^Tastemaker home:/{s=1} s' "$work/first-run.log"
  echo "-------------------------------------------------------"
  echo "user-path: first-run: exit $rc, ${wall} s wall, $lines lines (budget $FIRST_RUN_MAX_LINES)"
  local ok=1
  if [ "$rc" -ne 0 ]; then echo "user-path: FAIL first-run exited $rc"; ok=0; fi
  if grep -q "Traceback" "$work/first-run.log"; then
    echo "user-path: FAIL first-run printed a traceback:"; cat "$work/first-run.log"; ok=0
  fi
  if [ "$lines" -gt "$FIRST_RUN_MAX_LINES" ]; then
    echo "user-path: FAIL first-run printed $lines lines (> $FIRST_RUN_MAX_LINES)"; ok=0
  fi
  [ "$ok" -eq 1 ]
}

step_drift_mail() {
  # it may run in a background subshell, where the EXIT trap does not see its SMTP server
  local rc=0
  drift_mail_body || rc=$?
  [ -n "${smtp_pid:-}" ] && kill "$smtp_pid" 2>/dev/null
  return "$rc"
}

drift_mail_body() {
  local port mailbox home count rc=0 start
  start=$(date +%s)
  home="$work/drift-home"
  mailbox="$work/mailbox"
  local clone="$work/drift-clone"
  git clone -q --no-hardlinks "$repo" "$clone"
  port=$(python3 -c \
    'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  # a whole Maildir: Python's mailbox.Maildir (aiosmtpd's Mailbox handler) makes tmp/, new/ and
  # cur/ only when it creates the folder itself, so a bare folder refuses every message
  mkdir -p "$mailbox/tmp" "$mailbox/new" "$mailbox/cur"
  (cd "$clone" && exec "${clean_env[@]}" uv run --locked python -m aiosmtpd -n \
    -l "127.0.0.1:$port" -c aiosmtpd.handlers.Mailbox "$mailbox") > "$work/smtp.log" 2>&1 &
  smtp_pid=$!
  # its own empty HOME (so its own PREFECT_HOME): it runs beside first-run, and two fresh
  # Prefect homes must not be one database migrated twice at once
  mkdir -p "$work/drift-user"
  local tm=("${clean_env[@]}" "HOME=$work/drift-user" "TASTEMAKER_HOME=$home"
    uv run --locked tastemaker)
  local mail=("TASTEMAKER_SMTP__HOST=127.0.0.1" "TASTEMAKER_SMTP__PORT=$port"
    "TASTEMAKER_SMTP__STARTTLS=false" "TASTEMAKER_SMTP__RECIPIENTS=data-team@example.com")
  echo "user-path: drift-mail: generate --drift, run, drift --email to SMTP on 127.0.0.1:$port"
  # generate and run must work whatever the mail does: only the mail count may be an xfail.
  if ! (
    cd "$clone"
    "${tm[@]}" generate --drift --no-progress > /dev/null
    "${tm[@]}" run > /dev/null
  ) > "$work/drift-run.log" 2>&1; then
    echo "user-path: FAIL drift-mail: generate --drift or run failed"; cat "$work/drift-run.log"
    return 1
  fi
  (cd "$clone" && env "${mail[@]}" "${tm[@]}" drift --email) > "$work/drift-mail.log" 2>&1 \
    || rc=$?
  count=$(find "$mailbox" -type f -path '*/new/*' 2>/dev/null | wc -l)
  tail -n 15 "$work/drift-mail.log"
  echo "user-path: drift-mail: exit $rc, $count mail(s) arrived, $(( $(date +%s) - start )) s"
  if [ "$rc" -ne 0 ]; then
    echo "user-path: FAIL drift-mail: the drift command exited $rc"; return 1
  fi
  local ok=0
  [ "$count" -eq 1 ] && ok=1
  if [ "$DRIFT_MAIL_EXPECT" = "xfail" ]; then
    if [ "$ok" -eq 1 ]; then
      echo "user-path: XPASS drift-mail now sends its mail: set DRIFT_MAIL_EXPECT=pass"
      return 1
    fi
    echo "user-path: XFAIL drift-mail (expected until the drift-alerts issue lands)"
    return 0
  fi
  [ "$ok" -eq 1 ] || { echo "user-path: FAIL drift-mail"; cat "$work/drift-mail.log"; return 1; }
  # the one mail names the planted shift: ALERT in the subject, every planted column in the
  # title and headline (the plain-text part's first lines)
  python3 - "$(find "$mailbox" -type f -path '*/new/*')" "$home/truth/drift.json" <<'PY' || {
import email, json, sys
from email import policy
msg = email.message_from_binary_file(open(sys.argv[1], "rb"), policy=policy.default)
top = "\n".join(msg.get_body(preferencelist=("plain",)).get_content().splitlines()[:5])
planted = sorted(json.load(open(sys.argv[2]))["planted"])
missing = [c for c in planted if c not in top]
print(f"user-path: drift-mail subject: {msg['Subject']}")
if missing:
    print(f"user-path: planted columns not named in the mail's first lines: {missing}\n{top}")
sys.exit(1 if "ALERT" not in msg["Subject"] or missing else 0)
PY
    echo "user-path: FAIL drift-mail: the mail does not name the planted shift"; return 1
  }
}

for step in $steps; do
  case "$step" in first-run|drift-mail) ;; *) echo "user-path: unknown step $step"; exit 2 ;; esac
done
drift_pid=""
if [[ " $steps " == *" drift-mail "* ]]; then
  if [[ " $steps " == *" first-run "* ]]; then
    step_drift_mail > "$work/drift-step.out" 2>&1 &
    drift_pid=$!
  else
    step_drift_mail || failures=$((failures + 1))
  fi
fi
if [[ " $steps " == *" first-run "* ]]; then
  step_first_run || failures=$((failures + 1))
fi
if [ -n "$drift_pid" ]; then
  drift_rc=0
  wait "$drift_pid" || drift_rc=$?
  cat "$work/drift-step.out"
  [ "$drift_rc" -eq 0 ] || failures=$((failures + 1))
fi
echo "user-path: $failures failed step(s)"
[ "$failures" -eq 0 ]

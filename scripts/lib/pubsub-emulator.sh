# Pub/Sub emulator helpers for scripts (sourced, not run): ./scripts/run-local and
# ./scripts/load-bench start the emulator and create their topics the same way.
#
#   source scripts/lib/pubsub-emulator.sh
#   pubsub_emulator_start 8085 "$WORK"      # sets PUBSUB_EMULATOR_PID, waits until it answers
#   pubsub_emulator_start 8085 "$WORK" 1    # the same, the JVM kept to core 1
#   pubsub_create_topic 8085 hermes-local low-stock [low-stock-local]
#   pubsub_example_topics                   # the topics examples/ Tags publish to
#   pubsub_create_example_topics 8085 hermes-local [relay]   # creates those (and more)
#   export PUBSUB_EMULATOR_HOST=127.0.0.1:8085

PUBSUB_EMULATOR_BIN="${PUBSUB_EMULATOR_BIN:-/usr/lib/google-cloud-sdk/platform/pubsub-emulator/bin/cloud-pubsub-emulator}"

# Starts the emulator on 127.0.0.1:PORT with its data and log under DIR, in its own session
# (so the JVM and its children stop together), and waits up to a minute for it to answer.
# With CPUS (a taskset list), the JVM and every thread it starts run on those cores only.
# Fails, with the log's tail, if it does not.
pubsub_emulator_start() {
  local port="$1" dir="$2" cpus="${3:-}"
  local pin=()
  [[ -n "$cpus" ]] && pin=(taskset -c "$cpus")
  mkdir -p "$dir/pubsub"
  setsid "${pin[@]}" "$PUBSUB_EMULATOR_BIN" --host=127.0.0.1 --port="$port" --data-dir="$dir/pubsub" \
    >"$dir/emulator.log" 2>&1 &
  PUBSUB_EMULATOR_PID=$!
  for _ in $(seq 1 120); do
    if curl -fsS "http://127.0.0.1:$port/" >/dev/null 2>&1; then
      return 0
    fi
    if ! kill -0 "$PUBSUB_EMULATOR_PID" 2>/dev/null; then
      break
    fi
    sleep 0.5
  done
  echo "error: the Pub/Sub emulator did not start on 127.0.0.1:$port; its log:" >&2
  tail -n 20 "$dir/emulator.log" >&2
  return 1
}

# Stops the emulator started by pubsub_emulator_start (its whole session) and waits for it.
pubsub_emulator_stop() {
  if [[ -n "${PUBSUB_EMULATOR_PID:-}" ]]; then
    kill -- "-$PUBSUB_EMULATOR_PID" 2>/dev/null || kill "$PUBSUB_EMULATOR_PID" 2>/dev/null || true
    wait "$PUBSUB_EMULATOR_PID" 2>/dev/null || true
    PUBSUB_EMULATOR_PID=""
  fi
}

# Creates projects/PROJECT/topics/TOPIC on the emulator at PORT, and the subscription
# SUBSCRIPTION to it when one is named. Non-zero when either request fails: explicit,
# since a caller's `||` turns errexit off inside the function.
pubsub_create_topic() {
  local port="$1" project="$2" topic="$3" subscription="${4:-}"
  local api="http://127.0.0.1:$port/v1/projects/$project"
  curl -fsS -X PUT "$api/topics/$topic" >/dev/null || return 1
  if [[ -n "$subscription" ]]; then
    curl -fsS -X PUT -H 'content-type: application/json' \
      -d "{\"topic\":\"projects/$project/topics/$topic\"}" \
      "$api/subscriptions/$subscription" >/dev/null || return 1
  fi
}

# Prints the topics the Tags in examples/ publish to, one a line, sorted: bare names (the
# project comes from examples/settings.yaml) or the topic of a full
# `projects/P/topics/T` name.
pubsub_example_topics() {
  grep -rhoE "^\s*topic: [A-Za-z0-9./_-]+" examples/*.yaml \
    | sed -E 's|^\s*topic: ||; s|.*/topics/||' | sort -u
}

# Creates on the emulator at PORT the topics the Tags in examples/ publish to, and the
# EXTRA topics named after them; fails, naming it, at the first it cannot create.
pubsub_create_example_topics() {
  local port="$1" project="$2" topic topics
  shift 2
  mapfile -t topics < <(pubsub_example_topics)
  for topic in "${topics[@]}" "$@"; do
    pubsub_create_topic "$port" "$project" "$topic" || {
      echo "error: creating topic $topic on 127.0.0.1:$port" >&2
      return 1
    }
  done
}

#!/usr/bin/env bash
# Creates every topic holded-sync uses, idempotently (--if-not-exists), before any worker starts.
# Faust would declare missing topics itself, but pre-creating them pins partition counts (source
# topics and table changelogs must be co-partitioned) and the compaction/retention settings.
#
# Runs inside the apache/kafka image (docker-compose `topic-init`), or anywhere kafka-topics.sh is.
# Environment (defaults match the worker's):
#   KAFKA_BOOTSTRAP      kafka:9092         broker list, host:port (no kafka:// scheme)
#   TOPIC_PREFIX         ""                 = HOLDED_SYNC_TOPIC_PREFIX
#   APP_ID               holded-sync        = HOLDED_SYNC_APP_ID (names the table changelogs)
#   PARTITIONS           8                  = HOLDED_SYNC_PARTITIONS
#   REPLICATION_FACTOR   1
#   SYSTEMS              every system holded-sync knows (topics are cheap; connect later freely)
#   COMMAND_CONFIG       path of a client .properties for TLS/SASL (passed as --command-config)
#   KAFKA_BIN            /opt/kafka/bin
#   DRY_RUN=1            print "name partitions config" lines instead of creating anything
set -euo pipefail

KAFKA_BOOTSTRAP="${KAFKA_BOOTSTRAP:-kafka:9092}"
TOPIC_PREFIX="${TOPIC_PREFIX:-}"
APP_ID="${APP_ID:-holded-sync}"
PARTITIONS="${PARTITIONS:-8}"
REPLICATION_FACTOR="${REPLICATION_FACTOR:-1}"
SYSTEMS="${SYSTEMS:-holded odoo business_central sap_b1 prestashop shopify file}"
KAFKA_BIN="${KAFKA_BIN:-/opt/kafka/bin}"
DRY_RUN="${DRY_RUN:-0}"

# The flow topics are the system of record: replaying them from the beginning rebuilds every
# table (design §1), so they are kept forever.
KEEP="retention.ms=-1"
COMPACT="cleanup.policy=compact"

create() {  # create NAME PARTITIONS CONFIG
  local name="$1" partitions="$2" config="$3"
  if [[ "$DRY_RUN" == "1" ]]; then
    echo "$name $partitions $config"
    return
  fi
  local extra=()
  if [[ -n "${COMMAND_CONFIG:-}" ]]; then extra+=(--command-config "$COMMAND_CONFIG"); fi
  "$KAFKA_BIN/kafka-topics.sh" --bootstrap-server "$KAFKA_BOOTSTRAP" "${extra[@]}" \
    --create --if-not-exists --topic "$name" \
    --partitions "$partitions" --replication-factor "$REPLICATION_FACTOR" --config "$config"
}

# The same plan as app/topics.py topic_plan() (tests/deploy checks they agree).
for kind in changes commands commands.bulk retry results; do
  for system in ${SYSTEMS//,/ }; do
    case "$kind" in
      commands.bulk) name="commands.${system}.bulk" ;;
      *) name="${kind}.${system}" ;;
    esac
    create "${TOPIC_PREFIX}${name}" "$PARTITIONS" "$KEEP"
  done
done
for name in inbox conflicts audit dlq; do
  create "${TOPIC_PREFIX}${name}" "$PARTITIONS" "$KEEP"
done
# Read whole by every worker: one partition keeps one order.
create "${TOPIC_PREFIX}mappings" 1 "$COMPACT"
create "${TOPIC_PREFIX}poller-state" 1 "$COMPACT"

# The faust app id is "<prefix><app id>" (app/topics.py). Changelogs are
# "<faust id>-<table>-changelog" and must have exactly as many partitions as the source topics,
# or faust raises PartitionsMismatch. (A replay's generation N uses "<faust id>-gN-..."; the
# worker creates those itself.)
FAUST_ID="${TOPIC_PREFIX}${APP_ID}"
for table in canonical; do  # state, replicas and links of each entity, one record (app/canonical_entry.py)
  create "${FAUST_ID}-${table}-changelog" "$PARTITIONS" "$COMPACT"
done
for system in ${SYSTEMS//,/ }; do
  create "${FAUST_ID}-ledger-${system}-changelog" "$PARTITIONS" "$COMPACT"
done
# Faust's leader-election topic (faust/assignor/leader_assignor.py): one partition.
create "${FAUST_ID}-__assignor-__leader" 1 "cleanup.policy=delete"

if [[ "$DRY_RUN" != "1" ]]; then
  echo "holded-sync topics ready on $KAFKA_BOOTSTRAP"
fi

#!/usr/bin/env bash
# The real Supabase CLI checks the database, with no Docker and no Supabase account: every check
# targets a plain PostgreSQL through `--remote=<database url>`.
#
#   1. a fresh database prepared ONLY with the platform shim (packages/local/sql/platform-shim.sql);
#   2. `supabase db push` applies supabase/migrations; a second push must find it up to date;
#   3. `supabase db advisors` (security + performance lints): no ERROR/WARN finding unless it is
#      listed with a reason in supabase/advisors-allowlist.json;
#   4. `supabase db lint` (plpgsql_check): no error in any function;
#   5. `supabase gen types typescript --schema public` equals the checked-in
#      packages/client/src/database.types.ts (regenerate with `npm run db:types`);
#   6. a second fresh database migrated by OUR runner (packages/local/src/migrate.ts): the CLI must
#      find nothing to push, and its schema must equal the one the CLI built.
#
# Environment:
#   STOREKEEP_PG_SERVER   server to create the scratch databases on (default postgresql://postgres@127.0.0.1:5432)
#   STOREKEEP_PG_SSLMODE  sslmode for the CLI's connections (default disable)
#   KEEP_CHECK_DBS=1      keep the scratch databases for inspection instead of dropping them
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

SERVER="${STOREKEEP_PG_SERVER:-postgresql://postgres@127.0.0.1:5432}"
SSLMODE="${STOREKEEP_PG_SSLMODE:-disable}"
CLI_DB="storekeep_cli_check"
RUNNER_DB="storekeep_cli_check_runner"
CLI_URL="$SERVER/$CLI_DB?sslmode=$SSLMODE"
RUNNER_URL="$SERVER/$RUNNER_DB?sslmode=$SSLMODE"
ALLOWLIST="supabase/advisors-allowlist.json"
TYPES_FILE="packages/client/src/database.types.ts"
SUPABASE="$ROOT/node_modules/.bin/supabase"
TSX="$ROOT/node_modules/.bin/tsx"

export SUPABASE_TELEMETRY_DISABLED=1 DO_NOT_TRACK=1
export PGOPTIONS="${PGOPTIONS:---client-min-messages=warning}"
CLI_FLAGS=(--agent no --workdir "$ROOT")

step() { printf '\n==> supabase-check: %s\n' "$*"; }
fail() { printf '\nsupabase-check: FAILED: %s\n' "$*" >&2; exit 1; }
sql() { psql "$SERVER/postgres" -qAtX -v ON_ERROR_STOP=1 "$@"; }
sudo_if_needed() { if [[ "$(id -u)" == 0 ]]; then "$@"; else sudo "$@"; fi; }

TMP="$(mktemp -d)"
cleanup() {
  local status=$?
  if [[ "${KEEP_CHECK_DBS:-}" == 1 ]]; then
    echo "supabase-check: kept databases $CLI_DB and $RUNNER_DB"
  else
    sql -c "drop database if exists $CLI_DB with (force)" -c "drop database if exists $RUNNER_DB with (force)" \
      >/dev/null 2>&1 || echo "supabase-check: could not drop the scratch databases" >&2
  fi
  rm -rf "$TMP"
  exit "$status"
}
trap cleanup EXIT

# ---------------------------------------------------------------------------------------------
step "prerequisites"
[[ -x "$SUPABASE" && -x "$TSX" ]] || fail "node_modules/.bin/supabase or tsx is missing: run npm ci"
command -v psql >/dev/null || fail "psql is missing (Debian/Ubuntu: apt-get install postgresql-client)"
command -v pg_dump >/dev/null || fail "pg_dump is missing (Debian/Ubuntu: apt-get install postgresql-client)"
sql -c "select 1" >/dev/null || fail "cannot connect to $SERVER/postgres"
echo "Supabase CLI $("$SUPABASE" --version)"
echo "server: $(sql -c "select version()")"

# `supabase db lint` runs plpgsql_check, which has to be installable on the server.
if [[ -z "$(sql -c "select 1 from pg_available_extensions where name = 'plpgsql_check'")" ]]; then
  major="$(sql -c "select current_setting('server_version_num')::int / 10000")"
  package="postgresql-$major-plpgsql-check"
  if command -v apt-get >/dev/null; then
    echo "plpgsql_check is not available on the server: installing $package"
    sudo_if_needed apt-get update -qq
    DEBIAN_FRONTEND=noninteractive sudo_if_needed apt-get install -y -qq "$package" >/dev/null
  fi
  [[ -n "$(sql -c "select 1 from pg_available_extensions where name = 'plpgsql_check'")" ]] \
    || fail "the plpgsql_check extension is not available on $SERVER. Install $package on the machine that runs the server (for a container: docker exec <it> apt-get install -y $package)."
fi

# ---------------------------------------------------------------------------------------------
step "fresh database $CLI_DB, prepared only with the platform shim"
sql -c "drop database if exists $CLI_DB with (force)" -c "drop database if exists $RUNNER_DB with (force)" \
  -c "create database $CLI_DB"
psql "$CLI_URL" -qAtX -v ON_ERROR_STOP=1 -f packages/local/sql/platform-shim.sql >/dev/null

migration_count="$(find supabase/migrations -maxdepth 1 -name '*.sql' | wc -l)"
migration_versions="$(find supabase/migrations -maxdepth 1 -name '*.sql' -printf '%f\n' | cut -c1-14 | sort | paste -sd, -)"
history_versions() {
  psql "$1" -qAtX -v ON_ERROR_STOP=1 \
    -c "select string_agg(version, ',' order by version) from supabase_migrations.schema_migrations"
}

# ---------------------------------------------------------------------------------------------
step "supabase db push --remote=<url> (applies $migration_count migrations)"
"$SUPABASE" db push --remote="$CLI_URL" --yes "${CLI_FLAGS[@]}" 2>&1 | tee "$TMP/push1.log" \
  || fail "supabase db push failed"
[[ "$(history_versions "$CLI_URL")" == "$migration_versions" ]] \
  || fail "after the push the CLI's history holds [$(history_versions "$CLI_URL")], expected [$migration_versions]"

step "supabase db push again: must be up to date"
"$SUPABASE" db push --remote="$CLI_URL" --yes "${CLI_FLAGS[@]}" 2>&1 | tee "$TMP/push2.log" \
  || fail "the second supabase db push failed"
grep -qi "up to date" "$TMP/push2.log" || fail "the second push did not report the database up to date"
! grep -qi "applying migration" "$TMP/push2.log" || fail "the second push applied migrations again"

# ---------------------------------------------------------------------------------------------
step "supabase db advisors --type all (allow-list: $ALLOWLIST)"
"$SUPABASE" db advisors --remote="$CLI_URL" --type all --level info --fail-on none --output-format json \
  "${CLI_FLAGS[@]}" >"$TMP/advisors.json" 2>"$TMP/advisors.err" \
  || { cat "$TMP/advisors.err" >&2; fail "supabase db advisors failed"; }
node - "$TMP/advisors.json" "$ALLOWLIST" <<'JS' || fail "database advisors reported findings (see above)"
const { readFileSync } = require("node:fs");
const [reportFile, allowFile] = process.argv.slice(2);
const report = JSON.parse(readFileSync(reportFile, "utf8"));
const findings = Array.isArray(report) ? report : (report.results ?? []);
const allow = JSON.parse(readFileSync(allowFile, "utf8")).allow ?? [];
const problems = [];
const reasons = new Map();
for (const entry of allow) {
  if (!entry.cache_key || typeof entry.reason !== "string" || entry.reason.trim().length < 10) {
    problems.push(`allow-list entry without a cache_key or a real reason: ${JSON.stringify(entry)}`);
  } else reasons.set(entry.cache_key, entry.reason);
}
const used = new Set();
for (const f of findings) {
  const key = f.cache_key ?? f.cacheKey;
  const line = `${f.level.padEnd(5)} ${f.name} [${(f.categories ?? []).join(",")}] ${f.detail}\n        key: ${key}  ${f.remediation ?? ""}`;
  if (f.level === "INFO") {
    console.log(`  info  ${line}`);
  } else if (reasons.has(key)) {
    used.add(key);
    console.log(`  allowed ${line}\n        reason: ${reasons.get(key)}`);
  } else {
    console.log(`  FAIL  ${line}`);
    problems.push(`${f.level} ${f.name}: ${f.detail}`);
  }
}
for (const key of reasons.keys()) {
  if (!used.has(key)) problems.push(`allow-list entry matches no ERROR/WARN finding any more, remove it: ${key}`);
}
console.log(`${findings.length} finding(s); ${used.size} allowed; ${problems.length} problem(s)`);
for (const p of problems) console.error(`  problem: ${p}`);
process.exit(problems.length ? 1 : 0);
JS

# ---------------------------------------------------------------------------------------------
step "supabase db lint (plpgsql_check): no error in any function"
"$SUPABASE" db lint --remote="$CLI_URL" --level warning --fail-on error "${CLI_FLAGS[@]}" 2>&1 | tee "$TMP/lint.log" \
  || fail "supabase db lint found errors in SQL functions (see above)"

# ---------------------------------------------------------------------------------------------
step "supabase gen types typescript --schema public: must equal $TYPES_FILE"
bash scripts/gen-types.sh --url "$CLI_URL" --out "$TMP/database.types.ts"
if ! diff -u --label "$TYPES_FILE (checked in)" --label "generated from supabase/migrations" \
  "$TYPES_FILE" "$TMP/database.types.ts"; then
  fail "$TYPES_FILE is stale: run \`npm run db:types\` and commit the result"
fi
echo "types are up to date"

# ---------------------------------------------------------------------------------------------
step "fresh database $RUNNER_DB migrated by our runner (packages/local/src/migrate.ts)"
sql -c "create database $RUNNER_DB"
DATABASE_URL="$RUNNER_URL" "$TSX" scripts/prepare-check-db.ts || fail "our migration runner failed"

step "supabase db push against the runner's database: must apply nothing"
"$SUPABASE" db push --remote="$RUNNER_URL" --yes "${CLI_FLAGS[@]}" 2>&1 | tee "$TMP/push-runner.log" \
  || fail "supabase db push against the runner's database failed"
grep -qi "up to date" "$TMP/push-runner.log" || fail "the CLI does not see the runner's database as up to date"
! grep -qi "applying migration" "$TMP/push-runner.log" || fail "the CLI applied migrations the runner had applied"
[[ "$(history_versions "$RUNNER_URL")" == "$migration_versions" ]] || fail "the runner's history differs"

step "the runner's schema equals the CLI's (pg_dump --schema-only, migration history excluded)"
dump() {
  # \restrict / \unrestrict carry a random key per dump (PostgreSQL 15.14+); they are not schema.
  pg_dump --schema-only --no-owner --exclude-schema=supabase_migrations "$1" | grep -v -E '^\\(un)?restrict '
}
dump "$CLI_URL" >"$TMP/cli.sql"
dump "$RUNNER_URL" >"$TMP/runner.sql"
diff -u --label "schema pushed by the Supabase CLI" --label "schema migrated by our runner" \
  "$TMP/cli.sql" "$TMP/runner.sql" || fail "our runner builds a different schema than supabase db push"
echo "identical ($(grep -c -E '^(CREATE|ALTER)' "$TMP/cli.sql") CREATE/ALTER statements)"

step "all Supabase CLI checks passed"

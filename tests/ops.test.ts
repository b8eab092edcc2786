import { readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { mintToken } from "../packages/local/src/tokens.ts";
import { findJob, runJob } from "../packages/server/src/jobs/registry.ts";
import { createTestApp, TEST_SECRET } from "./helpers/app.ts";
import { engine, useTestDatabase } from "./helpers/db.ts";
import { parseSamples } from "./helpers/prometheus.ts";

// The dashboard and the alert rules may only name metrics the API really exports: the list comes
// from a real scrape after some traffic, never from a hand-kept list. (promtool checks the rules'
// syntax and behaviour in CI: .ci/run, scripts/check-prometheus.sh.)

const ROOT = join(import.meta.dirname, "..");
const METRICS_TOKEN = "ops-test-metrics-token-0123456789";

interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { uid: string };
  targets?: { expr: string; refId: string; datasource?: { uid: string } }[];
  gridPos?: { h: number; w: number; x: number; y: number };
}
interface Rules {
  groups: { name: string; rules: { record?: string; alert?: string; expr: string | number }[] }[];
}

const dashboard = JSON.parse(readFileSync(join(ROOT, "ops/grafana/storekeep.json"), "utf8")) as {
  uid: string;
  title: string;
  panels: Panel[];
  __inputs: { name: string }[];
};
const rules = parseYaml(readFileSync(join(ROOT, "ops/prometheus/alerts.yml"), "utf8")) as Rules;
const recorded = new Set(rules.groups.flatMap((group) => group.rules.flatMap((rule) => rule.record ?? [])));

/** Every `storekeep_*` metric or `storekeep:*` recording rule a PromQL expression names, with its label names. */
function referencedSeries(expr: string): { name: string; labels: string[] }[] {
  const found: { name: string; labels: string[] }[] = [];
  for (const match of expr.matchAll(/\b(storekeep[_:][a-zA-Z0-9_:]*)(\{([^}]*)\})?/g)) {
    const labels = [...(match[3] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)/g)].map(
      (m) => m[1] as string,
    );
    found.push({ name: match[1] as string, labels });
  }
  return found;
}

/** Label names in `by (...)` / `without (...)` clauses. */
const groupingLabels = (expr: string) =>
  [...expr.matchAll(/\b(?:by|without)\s*\(([^)]*)\)/g)].flatMap((m) =>
    (m[1] as string)
      .split(",")
      .map((label) => label.trim())
      .filter(Boolean),
  );

describe(`ops/ dashboards and rules against a real scrape on ${engine}`, () => {
  const ctx = useTestDatabase();
  /** Sample name → the label names it carries. */
  const exported = new Map<string, Set<string>>();

  beforeAll(async () => {
    const { request, services } = createTestApp(ctx.db, { METRICS_TOKEN, RATE_LIMITS_ENABLED: "true" });
    await request("GET", "/v1/health");
    await request("GET", "/v1/products", { as: "viewer" });
    // Cached reads: a miss and then a hit for a viewer, a bypass for the service role (never cached).
    await services.cache.settled();
    await request("GET", "/v1/products", { as: "viewer" });
    await request("GET", "/v1/products", { token: await mintToken({ secret: TEST_SECRET, role: "service_role" }) });
    // A refused API key, so the key request counter carries its outcome label.
    await request("GET", "/v1/products", { headers: { "x-api-key": `sk_live_${"A".repeat(43)}` } });
    const job = findJob("inventory.check_ledger");
    if (!job) throw new Error("inventory.check_ledger is not registered");
    await runJob(job, services);
    // A collector that fails, so the failure counter carries its labels too.
    services.metrics.onScrape("ops-test", () => {
      throw new Error("fails on purpose");
    });
    const response = await request("GET", "/v1/metrics", { token: METRICS_TOKEN });
    expect(response.status).toBe(200);
    for (const sample of parseSamples(response.text)) {
      const labels = exported.get(sample.name) ?? new Set<string>();
      for (const label of Object.keys(sample.labels)) labels.add(label);
      exported.set(sample.name, labels);
    }
    // Families declared without samples yet (a labelled metric nobody has used) still count.
    for (const match of response.text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
      const [name, type] = [match[1] as string, match[2] as string];
      const names = type === "histogram" ? [`${name}_bucket`, `${name}_sum`, `${name}_count`] : [name];
      for (const each of names) if (!exported.has(each)) exported.set(each, new Set());
    }
  });

  /** Problems with one PromQL expression: unknown metrics, labels the metric does not carry. */
  function problems(expr: string): string[] {
    const found: string[] = [];
    for (const { name, labels } of referencedSeries(expr)) {
      if (recorded.has(name)) continue;
      const carried = exported.get(name);
      if (!carried) {
        found.push(`unknown metric ${name}`);
        continue;
      }
      for (const label of labels) if (!carried.has(label)) found.push(`${name} has no label ${label}`);
    }
    const allLabels = new Set(referencedSeries(expr).flatMap(({ name }) => [...(exported.get(name) ?? [])]));
    // Labels a recording rule keeps are those it groups by; `le` for quantiles.
    for (const label of groupingLabels(expr)) {
      if (label !== "le" && !allLabels.has(label) && !referencedSeries(expr).some(({ name }) => recorded.has(name))) {
        found.push(`groups by ${label}, which no referenced metric carries`);
      }
    }
    if (referencedSeries(expr).length === 0) found.push("names no storekeep metric");
    return found;
  }

  it("the scrape itself carries the families the dashboard is about", () => {
    for (const family of [
      "storekeep_http_request_duration_seconds_bucket",
      "storekeep_http_requests_in_flight",
      "storekeep_db_pool_connections",
      "storekeep_webhook_oldest_pending_seconds",
      "storekeep_reservations",
      "storekeep_ledger_mismatches",
      "storekeep_job_runs_total",
      "storekeep_rate_limit_decisions_total",
      "storekeep_api_key_requests_total",
      "storekeep_redis_available",
      "storekeep_cache_hits_total",
      "storekeep_cache_misses_total",
      "storekeep_cache_bypass_total",
    ]) {
      expect(exported.has(family), family).toBe(true);
    }
  });

  it("ops/grafana/storekeep.json: valid, every panel queries metrics that exist", () => {
    expect(dashboard.uid).toBe("storekeep");
    const datasource = `\${${dashboard.__inputs[0]?.name}}`;
    const ids = dashboard.panels.map((panel) => panel.id);
    expect(new Set(ids).size).toBe(ids.length);
    const queried = dashboard.panels.filter((panel) => panel.type !== "row");
    expect(queried.length).toBeGreaterThanOrEqual(15);
    const found: string[] = [];
    for (const panel of queried) {
      expect(panel.gridPos, panel.title).toBeDefined();
      expect(panel.datasource?.uid, panel.title).toBe(datasource);
      if (!panel.targets?.length) found.push(`${panel.title}: no query`);
      for (const target of panel.targets ?? []) {
        for (const problem of problems(target.expr)) found.push(`${panel.title} [${target.refId}]: ${problem}`);
      }
    }
    expect(found).toEqual([]);
  });

  it("ops/prometheus/alerts.yml: every rule names metrics that exist, and every alert has a runbook entry", () => {
    const operations = readFileSync(join(ROOT, "docs/operations.md"), "utf8");
    const found: string[] = [];
    for (const group of rules.groups) {
      for (const rule of group.rules) {
        const name = rule.alert ?? rule.record ?? "?";
        for (const problem of problems(String(rule.expr))) found.push(`${name}: ${problem}`);
        if (rule.alert && !new RegExp(`^#+ ${rule.alert}$`, "m").test(operations)) {
          found.push(`${rule.alert}: no "## ${rule.alert}" section in docs/operations.md`);
        }
      }
    }
    expect(found).toEqual([]);
  });

  it("the checker itself refuses an unknown metric, a label a metric lacks, and a query without metrics", () => {
    expect(problems("rate(storekeep_http_requests_totl[5m])")).toEqual(["unknown metric storekeep_http_requests_totl"]);
    expect(problems('storekeep_reservations{colour="red"}')).toEqual(["storekeep_reservations has no label colour"]);
    expect(problems("sum by (tenant) (storekeep_reservations)")).toEqual([
      "groups by tenant, which no referenced metric carries",
    ]);
    expect(problems("vector(1)")).toEqual(["names no storekeep metric"]);
    expect(problems('sum by (route) (rate(storekeep_http_request_duration_seconds_count{status=~"5.."}[5m]))')).toEqual(
      [],
    );
  });
});

// postgres_changes bindings: which changes a subscription asked for. Supabase filters on the
// server (the client applies none): `column=op.value` with eq, neq, lt, lte, gt, gte, in.(a,b).

export type ChangeType = "INSERT" | "UPDATE" | "DELETE";

export interface Change {
  schema: string;
  table: string;
  type: ChangeType;
  record: Record<string, unknown> | null;
  old_record: Record<string, unknown> | null;
}

const OPERATORS = ["eq", "neq", "lt", "lte", "gt", "gte", "in"] as const;
type Operator = (typeof OPERATORS)[number];

export interface Filter {
  column: string;
  operator: Operator;
  values: string[];
}

export interface Binding {
  id: number;
  event: "*" | ChangeType;
  schema: string;
  table: string | undefined;
  filter: Filter | undefined;
  /** What the client sent, echoed in the join reply (the client matches bindings by these). */
  raw: { event: string; schema: string; table?: string; filter?: string };
}

export class BindingError extends Error {}

export function parseBinding(raw: unknown, id: number): Binding {
  const value = (raw ?? {}) as Record<string, unknown>;
  const event = String(value.event ?? "*").toUpperCase();
  if (!["*", "INSERT", "UPDATE", "DELETE"].includes(event)) throw new BindingError(`unknown event ${value.event}`);
  if (typeof value.schema !== "string" || !value.schema) throw new BindingError("schema is required");
  const table = typeof value.table === "string" && value.table !== "*" && value.table ? value.table : undefined;
  const filter = typeof value.filter === "string" && value.filter ? parseFilter(value.filter) : undefined;
  if (filter && !table) throw new BindingError("a filter needs a table");
  return {
    id,
    event: event as Binding["event"],
    schema: value.schema,
    table,
    filter,
    raw: {
      event: String(value.event ?? "*"),
      schema: value.schema,
      ...(typeof value.table === "string" ? { table: value.table } : {}),
      ...(typeof value.filter === "string" ? { filter: value.filter } : {}),
    },
  };
}

export function parseFilter(text: string): Filter {
  const match = /^([^=]+)=([a-z]+)\.(.*)$/s.exec(text);
  if (!match) throw new BindingError(`filter ${text} is not column=operator.value`);
  const [, column, operator, value] = match as unknown as [string, string, string, string];
  if (!OPERATORS.includes(operator as Operator)) throw new BindingError(`filter operator ${operator} is not supported`);
  if (operator === "in") {
    const list = /^\((.*)\)$/s.exec(value);
    if (!list?.[1]) throw new BindingError(`filter ${text}: in needs (a,b,...)`);
    return { column, operator: "in", values: list[1].split(",").map((item) => unquote(item.trim())) };
  }
  return { column, operator: operator as Operator, values: [unquote(value)] };
}

function unquote(value: string): string {
  return value.length >= 2 && value.startsWith('"') && value.endsWith('"') ? value.slice(1, -1) : value;
}

export function matches(binding: Binding, change: Change): boolean {
  if (binding.schema !== "*" && binding.schema !== change.schema) return false;
  if (binding.table && binding.table !== change.table) return false;
  if (binding.event !== "*" && binding.event !== change.type) return false;
  if (!binding.filter) return true;
  const row = change.type === "DELETE" ? change.old_record : change.record;
  // A deleted row carries only its primary key: a filter on another column cannot be evaluated,
  // and Supabase does not filter deletes either.
  if (change.type === "DELETE" && row && !(binding.filter.column in row)) return true;
  return row ? satisfies(row[binding.filter.column], binding.filter) : false;
}

function satisfies(cell: unknown, filter: Filter): boolean {
  if (cell === undefined) return false;
  const text = cell === null ? "null" : typeof cell === "object" ? JSON.stringify(cell) : String(cell);
  const [first = ""] = filter.values;
  switch (filter.operator) {
    case "eq":
      return text === first;
    case "neq":
      return text !== first;
    case "in":
      return filter.values.includes(text);
    default: {
      if (cell === null) return false;
      const order = compare(cell, text, first);
      if (filter.operator === "lt") return order < 0;
      if (filter.operator === "lte") return order <= 0;
      if (filter.operator === "gt") return order > 0;
      return order >= 0;
    }
  }
}

/** Numbers compare as numbers, timestamps as instants, anything else as text. */
function compare(cell: unknown, text: string, value: string): number {
  const left = Number(text);
  const right = Number(value);
  if (
    typeof cell === "number" ||
    (text.trim() !== "" && value.trim() !== "" && !Number.isNaN(left) && !Number.isNaN(right))
  ) {
    return left - right;
  }
  const leftTime = Date.parse(text);
  const rightTime = Date.parse(value);
  if (!Number.isNaN(leftTime) && !Number.isNaN(rightTime) && /^\d{4}-\d\d-\d\d/.test(text)) return leftTime - rightTime;
  return text < value ? -1 : text > value ? 1 : 0;
}

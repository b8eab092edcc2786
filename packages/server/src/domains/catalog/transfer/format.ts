import { ProductInputSchema } from "../schemas.ts";
import { type CsvRecord, csvField, parseCsv } from "./csv.ts";

/** The CSV columns of import and export: one line per variant; lines sharing a handle are one product. */
export const CSV_COLUMNS = [
  "handle",
  "title",
  "description",
  "status",
  "publish_at",
  "brand",
  "category",
  "attributes",
  "sku",
  "variant_title",
  "options",
  "price_amount",
  "currency",
  "compare_at_amount",
  "barcode",
  "weight_grams",
] as const;
type Column = (typeof CSV_COLUMNS)[number];

export interface ImportItem {
  line: number;
  data: Record<string, unknown>;
}
export interface LineError {
  line: number;
  message: string;
  field?: string;
}

export const MAX_IMPORT_ROWS = 100_000;

/** Parsed, validated items (one per product) and the lines that could not become one. */
export interface ParsedImport {
  items: ImportItem[];
  errors: LineError[];
  total: number;
}

export function parseImport(text: string, format: "csv" | "jsonl"): ParsedImport {
  const raw = format === "csv" ? csvItems(text) : jsonlItems(text);
  const items: ImportItem[] = [];
  const errors: LineError[] = [...raw.errors];
  const once = new FirstLines();
  for (const item of raw.items) {
    const parsed = ProductInputSchema.safeParse(item.data);
    if (parsed.success) {
      const repeated = once.repeated(item.line, parsed.data);
      if (repeated) errors.push(repeated);
      else items.push({ line: item.line, data: parsed.data });
    } else {
      const issue = parsed.error.issues[0];
      const field = issue?.path.map(String).join(".") ?? "";
      errors.push({ line: item.line, field, message: `${field ? `${field}: ` : ""}${issue?.message ?? "invalid"}` });
    }
  }
  return { items, errors: errors.sort((a, b) => a.line - b.line), total: raw.items.length + raw.errors.length };
}

/**
 * A handle or SKU names one product or variant per file: an import updates what it names, so a
 * second line naming it again would be a second, conflicting update. Keeps the line each was first on.
 */
class FirstLines {
  private readonly handles = new Map<string, number>();
  private readonly skus = new Map<string, number>();

  repeated(line: number, product: { handle?: string; variants?: { sku: string }[] }): LineError | undefined {
    const handle = product.handle;
    const earlier = handle === undefined ? undefined : this.handles.get(handle);
    if (earlier !== undefined)
      return { line, field: "handle", message: `handle: ${handle} is already on line ${earlier}` };
    const skus = (product.variants ?? []).map((variant) => variant.sku.toLowerCase());
    for (const [index, sku] of skus.entries()) {
      const first = this.skus.get(sku) ?? (skus.indexOf(sku) < index ? line : undefined);
      if (first !== undefined) {
        return {
          line,
          field: `variants.${index}.sku`,
          message: `variants.${index}.sku: ${sku} is already on line ${first}`,
        };
      }
    }
    if (handle !== undefined) this.handles.set(handle, line);
    for (const sku of skus) this.skus.set(sku, line);
    return undefined;
  }
}

function jsonlItems(text: string): { items: ImportItem[]; errors: LineError[] } {
  const items: ImportItem[] = [];
  const errors: LineError[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((content, index) => {
    if (content.trim() === "") return;
    try {
      const data: unknown = JSON.parse(content);
      if (typeof data !== "object" || data === null || Array.isArray(data)) throw new Error("not an object");
      items.push({ line: index + 1, data: data as Record<string, unknown> });
    } catch {
      errors.push({ line: index + 1, message: "not a JSON object" });
    }
  });
  return { items, errors };
}

function csvItems(text: string): { items: ImportItem[]; errors: LineError[] } {
  const records = parseCsv(text);
  const header = records.shift();
  if (!header) return { items: [], errors: [] };
  const names = header.fields.map((name) => name.trim().toLowerCase());
  const unknown = names.filter((name) => !(CSV_COLUMNS as readonly string[]).includes(name));
  if (unknown.length > 0 || !names.includes("title")) {
    return {
      items: [],
      errors: [
        {
          line: header.line,
          message: unknown.length ? `unknown columns: ${unknown.join(", ")}` : "the header needs a title column",
        },
      ],
    };
  }
  const items: ImportItem[] = [];
  const errors: LineError[] = [];
  let current: ImportItem | undefined;
  for (const record of records) {
    const row = Object.fromEntries(CSV_COLUMNS.map((column) => [column, ""])) as Record<Column, string>;
    names.forEach((name, i) => {
      row[name as Column] = record.fields[i]?.trim() ?? "";
    });
    try {
      const variant = row.sku ? csvVariant(row) : undefined;
      // A line with the handle of the product above adds a variant to it.
      if (current && row.handle && row.handle === current.data.handle) {
        if (variant) (current.data.variants as unknown[]).push(variant);
        continue;
      }
      current = { line: record.line, data: csvProduct(row, variant) };
      items.push(current);
    } catch (error) {
      errors.push({ line: record.line, message: error instanceof Error ? error.message : "invalid line" });
    }
  }
  return { items, errors };
}

const text = (value: string) => (value === "" ? undefined : value);
const number = (value: string) => (value === "" ? undefined : Number(value));
function object(value: string, column: string) {
  if (value === "") return undefined;
  try {
    return JSON.parse(value) as unknown;
  } catch {
    throw new Error(`${column}: not JSON`);
  }
}

function csvProduct(row: Record<Column, string>, variant: Record<string, unknown> | undefined) {
  const product: Record<string, unknown> = {
    handle: text(row.handle),
    title: row.title,
    description: text(row.description),
    status: text(row.status),
    publish_at: text(row.publish_at),
    brand: text(row.brand),
    category: text(row.category),
    attributes: object(row.attributes, "attributes"),
    variants: variant ? [variant] : [],
  };
  return Object.fromEntries(Object.entries(product).filter(([, value]) => value !== undefined));
}

function csvVariant(row: Record<Column, string>) {
  const variant: Record<string, unknown> = {
    sku: row.sku,
    title: text(row.variant_title),
    options: object(row.options, "options"),
    price_amount: number(row.price_amount),
    currency: text(row.currency),
    compare_at_amount: number(row.compare_at_amount),
    barcode: text(row.barcode),
    weight_grams: number(row.weight_grams),
  };
  return Object.fromEntries(Object.entries(variant).filter(([, value]) => value !== undefined));
}

/** Export lines of one product: CSV (a line per variant, or one line without a variant). */
export function productCsvLines(
  product: { variants: Record<string, unknown>[] } & Record<string, unknown>,
  brand: string | null,
  category: string | null,
): string {
  const base: Partial<Record<Column, unknown>> = {
    handle: product.handle,
    title: product.title,
    description: product.description,
    status: product.status,
    publish_at: product.publish_at,
    brand,
    category,
    attributes: product.attributes,
  };
  const variants = product.variants.length ? product.variants : [undefined];
  return variants
    .map((variant) => {
      const row: Partial<Record<Column, unknown>> = {
        ...base,
        ...(variant
          ? {
              sku: variant.sku,
              variant_title: variant.title,
              options: variant.options,
              price_amount: variant.price_amount,
              currency: variant.currency,
              compare_at_amount: variant.compare_at_amount,
              barcode: variant.barcode,
              weight_grams: variant.weight_grams,
            }
          : {}),
      };
      return `${CSV_COLUMNS.map((column) => csvField(row[column])).join(",")}\r\n`;
    })
    .join("");
}

export type { CsvRecord };

import { ProductLineSchema } from "../schemas.ts";
import { CsvReader, type CsvRecord, csvField } from "./csv.ts";

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

/** What a piece of an import file completed: validated items (one per product) and refused lines. */
export interface ParsedImport {
  items: ImportItem[];
  errors: LineError[];
}

/**
 * Reads an import file piece by piece, so a large file is never held whole: `push` takes the next
 * piece of text and gives the products and line errors it completed, `end` the rest. `total` counts
 * the products and refused lines so far. CSV: a header, then a line per variant; consecutive lines
 * with one handle are one product. JSON Lines: a product object per line.
 */
export class ImportReader {
  total = 0;
  private readonly once = new FirstLines();
  private readonly csv = new CsvReader();
  /** CSV: the header's column names once read; null when the header was refused. */
  private columns: string[] | null | undefined;
  /** CSV: the product still gathering variant lines. */
  private current: ImportItem | undefined;
  /** JSON Lines: the unfinished last line and the number of the lines before it. */
  private rest = "";
  private lines = 0;

  constructor(private readonly format: "csv" | "jsonl") {}

  push(text: string): ParsedImport {
    const out: ParsedImport = { items: [], errors: [] };
    if (this.format === "jsonl") {
      const lines = (this.rest + text).split("\n");
      this.rest = lines.pop() ?? "";
      for (const line of lines) this.jsonLine(line, out);
    } else {
      for (const record of this.csv.push(text)) this.csvRecord(record, out);
    }
    return out;
  }

  end(): ParsedImport {
    const out: ParsedImport = { items: [], errors: [] };
    if (this.format === "jsonl") {
      if (this.rest !== "") this.jsonLine(this.rest, out);
      this.rest = "";
    } else {
      for (const record of this.csv.end()) this.csvRecord(record, out);
      if (this.current) this.complete(this.current, out);
      this.current = undefined;
    }
    return out;
  }

  private jsonLine(text: string, out: ParsedImport) {
    const line = ++this.lines;
    const content = text.endsWith("\r") ? text.slice(0, -1) : text;
    if (content.trim() === "") return;
    let data: unknown;
    try {
      data = JSON.parse(content);
    } catch {
      data = undefined;
    }
    if (typeof data !== "object" || data === null || Array.isArray(data)) {
      this.refuse({ line, message: "not a JSON object" }, out);
    } else this.complete({ line, data: data as Record<string, unknown> }, out);
  }

  private csvRecord(record: CsvRecord, out: ParsedImport) {
    if (this.columns === undefined) {
      const names = record.fields.map((name) => name.trim().toLowerCase());
      const unknown = names.filter((name) => !(CSV_COLUMNS as readonly string[]).includes(name));
      if (unknown.length > 0 || !names.includes("title")) {
        this.columns = null;
        const message = unknown.length ? `unknown columns: ${unknown.join(", ")}` : "the header needs a title column";
        this.refuse({ line: record.line, message }, out);
      } else this.columns = names;
      return;
    }
    if (this.columns === null) return;
    const row = Object.fromEntries(CSV_COLUMNS.map((column) => [column, ""])) as Record<Column, string>;
    this.columns.forEach((name, i) => {
      row[name as Column] = record.fields[i]?.trim() ?? "";
    });
    try {
      const variant = row.sku ? csvVariant(row) : undefined;
      // A line with the handle of the product above adds a variant to it.
      if (this.current && row.handle && row.handle === this.current.data.handle) {
        if (variant) (this.current.data.variants as unknown[]).push(variant);
        return;
      }
      if (this.current) this.complete(this.current, out);
      this.current = { line: record.line, data: csvProduct(row, variant) };
    } catch (error) {
      this.refuse({ line: record.line, message: error instanceof Error ? error.message : "invalid line" }, out);
    }
  }

  private refuse(error: LineError, out: ParsedImport) {
    this.total++;
    out.errors.push(error);
  }

  private complete(item: ImportItem, out: ParsedImport) {
    const parsed = ProductLineSchema.safeParse(item.data);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const field = issue?.path.map(String).join(".") ?? "";
      const message = `${field ? `${field}: ` : ""}${issue?.message ?? "invalid"}`;
      return this.refuse({ line: item.line, field, message }, out);
    }
    const repeated = this.once.repeated(item.line, parsed.data);
    if (repeated) return this.refuse(repeated, out);
    this.total++;
    out.items.push({ line: item.line, data: parsed.data });
  }
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

import type { Db, DbClaims } from "../../../platform/db/types.ts";
import { type ProductFilters, productFilterSql, productFromSql } from "../products/list.ts";
import type { Product } from "../schemas.ts";
import { normalizeJson } from "../shared.ts";
import { CSV_COLUMNS, productCsvLines } from "./format.ts";

const PAGE = 500;

interface ExportRow {
  product: Product;
  brand: string | null;
  category: string | null;
  [column: string]: unknown;
}

/**
 * The filtered catalog as a stream of CSV or JSON Lines, read page by page (each page its own
 * short transaction as the caller, in id order), so memory stays flat however large the catalog.
 */
export function exportProducts(
  db: Db,
  claims: DbClaims,
  filters: ProductFilters,
  format: "csv" | "jsonl",
): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  let after: string | null = null;
  let started = false;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (!started && format === "csv") controller.enqueue(encoder.encode(`${CSV_COLUMNS.join(",")}\r\n`));
      started = true;
      const params: unknown[] = [];
      const from = productFromSql(filters, params);
      const where = productFilterSql(filters, params);
      params.push(after, PAGE);
      const { rows } = await db.asUser(claims, (tx) =>
        tx.query<ExportRow>(
          `select private.product_json(p) as product, b.handle as brand, c.handle as category
           from ${from}
           left join public.brands b on b.id = p.brand_id
           left join public.categories c on c.id = p.category_id
           where ${where} and ($${params.length - 1}::uuid is null or p.id > $${params.length - 1}::uuid)
           order by p.id limit $${params.length}`,
          params,
        ),
      );
      const text = rows
        .map((row) => {
          const product = normalizeJson(row.product);
          return format === "csv"
            ? productCsvLines(product as never, row.brand, row.category)
            : `${JSON.stringify(product)}\n`;
        })
        .join("");
      if (text) controller.enqueue(encoder.encode(text));
      const last = rows[rows.length - 1];
      if (rows.length < PAGE || !last) controller.close();
      else after = last.product.id;
    },
  });
}

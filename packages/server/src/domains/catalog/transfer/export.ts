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
 * The first page is read before the stream is returned, so a query the database refuses (a bad
 * filter) is answered as a problem rather than breaking a response already under way.
 */
export async function exportProducts(
  db: Db,
  claims: DbClaims,
  filters: ProductFilters,
  format: "csv" | "jsonl",
): Promise<ReadableStream<Uint8Array>> {
  const encoder = new TextEncoder();
  const readPage = async (after: string | null) => {
    const params: unknown[] = [];
    const from = productFromSql(filters, params, claims.role);
    const where = productFilterSql(filters, params, claims.role);
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
    return rows;
  };
  const render = (rows: ExportRow[]) =>
    rows
      .map((row) => {
        const product = normalizeJson(row.product);
        return format === "csv"
          ? productCsvLines(product as never, row.brand, row.category)
          : `${JSON.stringify(product)}\n`;
      })
      .join("");

  let page = await readPage(null);
  return new ReadableStream<Uint8Array>({
    start(controller) {
      if (format === "csv") controller.enqueue(encoder.encode(`${CSV_COLUMNS.join(",")}\r\n`));
    },
    async pull(controller) {
      const text = render(page);
      if (text) controller.enqueue(encoder.encode(text));
      const last = page[page.length - 1];
      if (page.length < PAGE || !last) controller.close();
      else page = await readPage(last.product.id);
    },
  });
}

import { Problem } from "../../../http/problems.ts";
import { idempotentAsUser } from "../../../platform/db/idempotency.ts";
import type { Db, DbClaims } from "../../../platform/db/types.ts";
import type { CreateLocation, UpdateLocation } from "../schemas.ts";

// Row level security on public.locations decides who reads (viewer and up) and who writes
// (manager and up); these functions only run the statement as the caller.

interface LocationRow {
  id: string;
  code: string;
  name: string;
  type: "warehouse" | "shop";
  address: string | null;
  latitude: number | null;
  longitude: number | null;
  active: boolean;
  priority: number;
  fulfils_online: boolean;
  version: number;
  created_at: Date;
  updated_at: Date;
  [column: string]: unknown;
}

const COLUMNS =
  "id, code, name, type, address, latitude, longitude, active, priority, fulfils_online, version, created_at, updated_at";
const UPDATABLE = ["name", "type", "address", "latitude", "longitude", "active", "priority", "fulfils_online"] as const;

const toLocation = (row: LocationRow) => ({
  ...row,
  created_at: row.created_at.toISOString(),
  updated_at: row.updated_at.toISOString(),
});

export function createLocation(db: Db, claims: DbClaims, input: CreateLocation, idempotencyKey?: string) {
  return idempotentAsUser(db, claims, idempotencyKey, "createLocation", input, async (tx) => {
    const { rows } = await tx.query<LocationRow>(
      `insert into public.locations (code, name, type, address, latitude, longitude, active, priority, fulfils_online)
       values ($1, $2, $3, $4, $5, $6, $7, $8, $9) returning ${COLUMNS}`,
      [
        input.code,
        input.name,
        input.type,
        input.address ?? null,
        input.latitude ?? null,
        input.longitude ?? null,
        input.active,
        input.priority,
        input.fulfils_online,
      ],
    );
    const row = rows[0];
    if (!row) throw new Problem("forbidden", "the caller may not add locations");
    return toLocation(row);
  });
}

export async function listLocations(db: Db, claims: DbClaims, page: { limit: number; after?: string }) {
  const { rows } = await db.asUser(claims, (tx) =>
    tx.query<LocationRow>(
      `select ${COLUMNS} from public.locations where $1::text is null or code > $1 order by code limit $2`,
      [page.after ?? null, page.limit + 1],
    ),
  );
  return rows.map(toLocation);
}

export async function getLocation(db: Db, claims: DbClaims, code: string) {
  const { rows } = await db.asUser(claims, (tx) =>
    tx.query<LocationRow>(`select ${COLUMNS} from public.locations where code = $1`, [code]),
  );
  const row = rows[0];
  if (!row) throw new Problem("not-found", `no location ${code}`);
  return toLocation(row);
}

/**
 * Changes a location when `expectedVersion` (from If-Match or `version`) is null or still
 * current; the version check is part of the UPDATE, so two writers cannot both win. When the
 * update matches nothing, a read tells a stale version (409 with the current state) from a
 * location that does not exist or that the caller may not change.
 */
export async function updateLocation(
  db: Db,
  claims: DbClaims,
  code: string,
  patch: UpdateLocation,
  expectedVersion: number | null,
) {
  const fields = UPDATABLE.filter((field) => patch[field] !== undefined);
  const assignments = fields.map((field, i) => `${field} = $${i + 3}`);
  const { rows, current } = await db.asUser(claims, async (tx) => {
    // An empty patch changes nothing (and bumps no version): it answers the location as it is.
    const updated = fields.length
      ? await tx.query<LocationRow>(
          `update public.locations set ${assignments.join(", ")}
           where code = $1 and ($2::integer is null or version = $2) returning ${COLUMNS}`,
          [code, expectedVersion, ...fields.map((field) => patch[field])],
        )
      : await tx.query<LocationRow>(
          `select ${COLUMNS} from public.locations where code = $1 and ($2::integer is null or version = $2)`,
          [code, expectedVersion],
        );
    const found = updated.rows.length
      ? undefined
      : (await tx.query<LocationRow>(`select ${COLUMNS} from public.locations where code = $1`, [code])).rows[0];
    return { rows: updated.rows, current: found };
  });
  const row = rows[0];
  if (row) return toLocation(row);
  if (current && expectedVersion !== null && current.version !== expectedVersion) {
    throw new Problem("version-conflict", `the location was changed since version ${expectedVersion}`, {
      expected_version: expectedVersion,
      current: toLocation(current),
    });
  }
  if (current) throw new Problem("forbidden", `the caller may not change location ${code}`);
  throw new Problem("not-found", `no location ${code}`);
}

import type { AppRole } from "../../http/auth.ts";
import { Problem } from "../../http/problems.ts";
import type { Db, DbClaims, Queryable } from "../../platform/db/types.ts";

interface UserRoleRow {
  user_id: string;
  app_role: AppRole;
  created_at: Date;
  updated_at: Date;
  [column: string]: unknown;
}

const toUserRole = (row: UserRoleRow) => ({
  user_id: row.user_id,
  app_role: row.app_role,
  created_at: row.created_at.toISOString(),
  updated_at: row.updated_at.toISOString(),
});

// Row level security on public.user_roles decides who may read and grant what; these functions
// only run the statement as the caller.

export async function listUserRoles(db: Db, claims: DbClaims, page: { limit: number; after?: string }) {
  const { rows } = await db.asUser(claims, (tx) =>
    tx.query<UserRoleRow>(
      `select user_id, app_role, created_at, updated_at from public.user_roles
       where $1::uuid is null or user_id > $1::uuid order by user_id limit $2`,
      [page.after ?? null, page.limit + 1],
    ),
  );
  return rows.map(toUserRole);
}

export async function setUserRole(db: Db, claims: DbClaims, userId: string, appRole: AppRole) {
  return db.asUser(claims, async (tx) => {
    await requireUser(tx, userId);
    const { rows } = await tx.query<UserRoleRow>(
      `insert into public.user_roles (user_id, app_role) values ($1, $2)
       on conflict (user_id) do update set app_role = excluded.app_role
       returning user_id, app_role, created_at, updated_at`,
      [userId, appRole],
    );
    const row = rows[0];
    if (!row) throw new Problem("forbidden", "the caller may not grant this role");
    return toUserRole(row);
  });
}

export async function revokeUserRole(db: Db, claims: DbClaims, userId: string): Promise<void> {
  const { rowCount } = await db.asUser(claims, (tx) =>
    tx.query("delete from public.user_roles where user_id = $1", [userId]),
  );
  if (rowCount === 0) throw new Problem("not-found", "no role to revoke for this user, or the caller may not see it");
}

async function requireUser(tx: Queryable, userId: string): Promise<void> {
  const { rows } = await tx.query<{ known: boolean }>("select private.user_exists($1) as known", [userId]);
  if (!rows[0]?.known) throw new Problem("not-found", `no user ${userId}`);
}

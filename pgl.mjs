import { PGlite } from "@electric-sql/pglite";

const t = Date.now();
const db = await PGlite.create();
console.log("boot", Date.now() - t, (await db.query("select version()")).rows[0]);
await db.exec(
  `create role anon nologin; create role authenticated nologin; create table t(id int, owner text); alter table t enable row level security; create policy p on t for select to authenticated using (owner = current_setting('request.jwt.claims', true)::json->>'sub'); grant select on t to authenticated; insert into t values (1,'a'),(2,'b');`,
);
const r = await db.transaction(async (tx) => {
  await tx.query("select set_config('role','authenticated',true), set_config('request.jwt.claims', $1, true)", [
    JSON.stringify({ sub: "a" }),
  ]);
  return tx.query("select * from t");
});
console.log(r.rows);
const t2 = Date.now();
const f = await db.dumpDataDir("none");
console.log("dump", Date.now() - t2, f.size);
const t3 = Date.now();
const db2 = await PGlite.create({ loadDataDir: f });
console.log("load", Date.now() - t3, (await db2.query("select count(*) from t")).rows);

import { describe, expect, it } from "vitest";
import { createTestApp } from "./helpers/app.ts";
import { productInput } from "./helpers/catalog.ts";
import { engine, useTestDatabase } from "./helpers/db.ts";

const ctx = useTestDatabase();
const api = () => createTestApp(ctx.db);

async function category(name: string, parent_id?: string) {
  const response = await api().request("POST", "/v1/categories", { as: "staff", body: { name, parent_id } });
  expect(response.status, response.text).toBe(201);
  return response.json;
}

describe(`brands on ${engine}`, () => {
  it("CRUD: staff create and rename, anyone reads, managers delete; products keep no brand", async () => {
    const created = await api().request("POST", "/v1/brands", { as: "staff", body: { name: "Acme Wear" } });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ name: "Acme Wear", handle: "acme-wear" });
    const twin = await api().request("POST", "/v1/brands", { as: "staff", body: { name: "Acme Wear" } });
    expect(twin.json.handle).toBe("acme-wear-2");
    const clash = await api().request("POST", "/v1/brands", { as: "staff", body: { name: "x", handle: "acme-wear" } });
    expect(clash.status).toBe(409);

    const product = await api().request("POST", "/v1/products", {
      as: "staff",
      body: productInput({ brand: "acme-wear" }),
    });
    expect(product.json.brand_id).toBe(created.json.id);
    const unknown = await api().request("POST", "/v1/products", { as: "staff", body: productInput({ brand: "nope" }) });
    expect(unknown.status).toBe(422);

    const renamed = await api().request("PATCH", `/v1/brands/${created.json.id}`, {
      as: "staff",
      body: { name: "Zenith Apparel" },
    });
    expect(renamed.json.name).toBe("Zenith Apparel");
    // The rename reaches the product's search document.
    const found = await api().request("GET", "/v1/products?q=zenith", { as: "viewer" });
    expect(found.json.data.map((p: any) => p.id)).toEqual([product.json.id]);

    expect((await api().request("GET", `/v1/brands/${created.json.id}`)).json.name).toBe("Zenith Apparel");
    const page = await api().request("GET", "/v1/brands?limit=1");
    expect(page.json.data).toHaveLength(1);
    expect(page.json.next_cursor).toBeTruthy();

    expect((await api().request("DELETE", `/v1/brands/${created.json.id}`, { as: "staff" })).status).toBe(403);
    expect((await api().request("DELETE", `/v1/brands/${created.json.id}`, { as: "manager" })).status).toBe(204);
    expect((await api().request("GET", `/v1/brands/${created.json.id}`)).status).toBe(404);
    const orphan = await api().request("GET", `/v1/products/${product.json.id}`, { as: "viewer" });
    expect(orphan.json.brand_id).toBeNull();
  });
});

describe(`categories on ${engine}`, () => {
  it("keeps paths, moves subtrees and answers the tree", async () => {
    const apparel = await category("Apparel");
    const shirts = await category("Shirts", apparel.id);
    const tees = await category("T-Shirts", shirts.id);
    expect(tees.path).toEqual([apparel.id, shirts.id, tees.id]);
    expect(tees.depth).toBe(2);

    const outlet = await category("Outlet");
    const moved = await api().request("PATCH", `/v1/categories/${shirts.id}`, {
      as: "staff",
      body: { parent_id: outlet.id },
    });
    expect(moved.status).toBe(200);
    expect(moved.json.path).toEqual([outlet.id, shirts.id]);
    const child = await api().request("GET", `/v1/categories/${tees.id}`);
    expect(child.json.path).toEqual([outlet.id, shirts.id, tees.id]);

    const tree = await api().request("GET", "/v1/categories/tree");
    expect(tree.status).toBe(200);
    const outletNode = tree.json.data.find((node: any) => node.id === outlet.id);
    expect(outletNode.children[0]).toMatchObject({ id: shirts.id, children: [{ id: tees.id, children: [] }] });
  });

  it("refuses cycles in the database, and deleting a category with children", async () => {
    const root = await category("Cycle root");
    const leaf = await category("Cycle leaf", root.id);
    const cycle = await api().request("PATCH", `/v1/categories/${root.id}`, {
      as: "staff",
      body: { parent_id: leaf.id },
    });
    expect(cycle.status).toBe(422);
    expect(cycle.json.rule).toBe("category_cycle");
    const self = await api().request("PATCH", `/v1/categories/${root.id}`, {
      as: "staff",
      body: { parent_id: root.id },
    });
    expect(self.status).toBe(422);
    await expect(
      ctx.db.query("update public.categories set parent_id = $1 where id = $2", [leaf.id, root.id]),
    ).rejects.toMatchObject({ code: "P0V01" });

    const withChildren = await api().request("DELETE", `/v1/categories/${root.id}`, { as: "manager" });
    expect(withChildren.status).toBe(409);
    expect((await api().request("DELETE", `/v1/categories/${leaf.id}`, { as: "manager" })).status).toBe(204);
    expect((await api().request("DELETE", `/v1/categories/${root.id}`, { as: "manager" })).status).toBe(204);
  });

  it("an unknown parent is 404 and a viewer cannot create", async () => {
    const orphan = await api().request("POST", "/v1/categories", {
      as: "staff",
      body: { name: "Orphan", parent_id: "00000000-0000-4000-8000-0000000000ff" },
    });
    expect(orphan.status).toBe(404);
    expect((await api().request("POST", "/v1/categories", { as: "viewer", body: { name: "V" } })).status).toBe(403);
    expect(
      (
        await api().request("PATCH", "/v1/categories/00000000-0000-4000-8000-0000000000ff", {
          as: "staff",
          body: { name: "x" },
        })
      ).status,
    ).toBe(404);
  });
});

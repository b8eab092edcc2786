-- Catalog access, the same through our API and straight through PostgREST:
--   anon           reads brands, categories, and published, not-deleted products with their live variants;
--   authenticated  without a staff role (customers) reads the same;
--   viewer and up  read everything;
--   staff and up   create and edit (drafts; the rules trigger keeps status and deletion for managers);
--   manager and up publish, schedule, archive, soft-delete and hard-delete.
-- One permissive policy per role and action (advisor lint 0006).

revoke all on public.brands, public.categories, public.products, public.product_variants from anon, authenticated;
grant select on public.brands, public.categories, public.products, public.product_variants to anon;
grant select, insert, update, delete on public.brands, public.categories, public.products, public.product_variants
  to authenticated;
grant select, insert, update, delete on public.brands, public.categories, public.products, public.product_variants
  to service_role;

-- brands
create policy "Anyone can read brands"
  on public.brands for select to anon, authenticated using (true);
create policy "Staff can create brands"
  on public.brands for insert to authenticated with check ((select private.has_app_role('staff')));
create policy "Staff can edit brands"
  on public.brands for update to authenticated
  using ((select private.has_app_role('staff'))) with check ((select private.has_app_role('staff')));
create policy "Managers can delete brands"
  on public.brands for delete to authenticated using ((select private.has_app_role('manager')));

-- categories
create policy "Anyone can read categories"
  on public.categories for select to anon, authenticated using (true);
create policy "Staff can create categories"
  on public.categories for insert to authenticated with check ((select private.has_app_role('staff')));
create policy "Staff can edit categories"
  on public.categories for update to authenticated
  using ((select private.has_app_role('staff'))) with check ((select private.has_app_role('staff')));
create policy "Managers can delete categories"
  on public.categories for delete to authenticated using ((select private.has_app_role('manager')));

-- products
create policy "Anyone can read published products"
  on public.products for select to anon
  using (status = 'published' and deleted_at is null);
create policy "Viewers can read every product and customers published ones"
  on public.products for select to authenticated
  using ((select private.has_app_role('viewer')) or (status = 'published' and deleted_at is null));
create policy "Staff can create products"
  on public.products for insert to authenticated with check ((select private.has_app_role('staff')));
create policy "Staff can edit products that are not deleted and managers any"
  on public.products for update to authenticated
  using ((select private.has_app_role('staff')) and (deleted_at is null or (select private.has_app_role('manager'))))
  with check ((select private.has_app_role('staff')));
create policy "Managers can delete products"
  on public.products for delete to authenticated using ((select private.has_app_role('manager')));

-- product_variants
create policy "Anyone can read live variants of published products"
  on public.product_variants for select to anon
  using (
    deleted_at is null
    and exists (select 1 from public.products p
                where p.id = product_id and p.status = 'published' and p.deleted_at is null)
  );
create policy "Viewers can read every variant and customers those of published products"
  on public.product_variants for select to authenticated
  using (
    (select private.has_app_role('viewer'))
    or (deleted_at is null
        and exists (select 1 from public.products p
                    where p.id = product_id and p.status = 'published' and p.deleted_at is null))
  );
create policy "Staff can create variants"
  on public.product_variants for insert to authenticated with check ((select private.has_app_role('staff')));
create policy "Staff can edit variants"
  on public.product_variants for update to authenticated
  using ((select private.has_app_role('staff'))) with check ((select private.has_app_role('staff')));
create policy "Managers can delete variants"
  on public.product_variants for delete to authenticated using ((select private.has_app_role('manager')));

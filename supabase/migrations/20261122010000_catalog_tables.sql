-- Catalog core: brands, a category tree, products and their variants (the sellable SKUs).
-- Money is integer minor units plus an ISO 4217 currency code. Rules that span fields live here.

create table public.brands (
  id uuid primary key default gen_random_uuid(),
  name text not null check (length(btrim(name)) between 1 and 200),
  handle text not null unique check (handle ~ '^[a-z0-9]+(-[a-z0-9]+)*$'),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
comment on table public.brands is 'Brands products belong to.';

create table public.categories (
  id uuid primary key default gen_random_uuid(),
  parent_id uuid references public.categories (id) on delete restrict,
  name text not null check (length(btrim(name)) between 1 and 200),
  handle text not null unique check (handle ~ '^[a-z0-9]+(-[a-z0-9]+)*$'),
  position integer not null default 0,
  -- Ids from the root down to this category (inclusive), kept by trigger; finds descendants fast.
  path uuid[] not null default '{}',
  depth integer generated always as (cardinality(path) - 1) stored,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  check (parent_id is distinct from id)
);
comment on table public.categories is 'The category tree; path is maintained by trigger and cycles are refused.';
create index categories_parent_idx on public.categories (parent_id, position);
create index categories_path_idx on public.categories using gin (path);

create table public.products (
  id uuid primary key default gen_random_uuid(),
  handle text not null unique check (handle ~ '^[a-z0-9]+(-[a-z0-9]+)*$' and length(handle) <= 200),
  title text not null check (length(btrim(title)) between 1 and 500),
  description text not null default '' check (length(description) <= 100000),
  brand_id uuid references public.brands (id) on delete set null,
  category_id uuid references public.categories (id) on delete set null,
  status text not null default 'draft' check (status in ('draft', 'published', 'archived')),
  published_at timestamptz,
  publish_at timestamptz,
  attributes jsonb not null default '{}' check (jsonb_typeof(attributes) = 'object'),
  version integer not null default 1,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  deleted_at timestamptz
);
comment on table public.products is 'Products; status draft | published | archived, soft-deleted via deleted_at, version bumped on every update.';
create index products_status_updated_idx on public.products (status, updated_at desc, id) where deleted_at is null;
create index products_brand_idx on public.products (brand_id) where deleted_at is null;
create index products_category_idx on public.products (category_id) where deleted_at is null;
create index products_publish_at_idx on public.products (publish_at) where publish_at is not null and deleted_at is null;

create table public.product_variants (
  id uuid primary key default gen_random_uuid(),
  product_id uuid not null references public.products (id) on delete cascade,
  sku text not null check (sku ~ '^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$'),
  title text not null default '' check (length(title) <= 500),
  options jsonb not null default '{}' check (jsonb_typeof(options) = 'object'),
  price_amount integer not null check (price_amount >= 0),
  currency text not null check (currency ~ '^[A-Z]{3}$'),
  compare_at_amount integer check (compare_at_amount is null or compare_at_amount > price_amount),
  barcode text check (barcode is null or barcode ~ '^[0-9A-Za-z-]{4,64}$'),
  weight_grams integer check (weight_grams is null or weight_grams >= 0),
  position integer not null default 0,
  version integer not null default 1,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  deleted_at timestamptz
);
comment on table public.product_variants is 'Sellable variants; sku is unique across the catalog regardless of case.';
create unique index product_variants_sku_key on public.product_variants (lower(sku));
create index product_variants_product_idx on public.product_variants (product_id, position);
create index product_variants_price_idx on public.product_variants (price_amount, product_id) where deleted_at is null;

alter table public.brands enable row level security;
alter table public.categories enable row level security;
alter table public.products enable row level security;
alter table public.product_variants enable row level security;

-- Orders: what a customer bought, priced by the catalog when the order was placed. Placing an
-- order holds its stock (a reservation that lasts the payment window); payment keeps the hold
-- until the order ships; shipping sells it (sale movements: the goods leave on_hand when they
-- leave the building); cancelling releases it. The status moves only along allowed transitions,
-- checked by one SQL function that does the stock work in the same transaction
-- (private.order_transition, in orders_transitions).

create sequence private.order_numbers as bigint start with 100001;
comment on sequence private.order_numbers is 'Order numbers: SK-100001, SK-100002, ...';

create table public.orders (
  id uuid primary key default gen_random_uuid(),
  number text not null unique check (number ~ '^SK-[0-9]+$'),
  status text not null default 'pending'
    check (status in ('pending', 'paid', 'shipped', 'delivered', 'cancelled', 'returned')),
  currency text not null check (currency ~ '^[A-Z]{3}$'),
  subtotal_amount bigint not null check (subtotal_amount >= 0),
  customer_email text not null check (length(customer_email) between 3 and 320 and customer_email ~ '^[^@\s]+@[^@\s]+$'),
  customer_name text check (customer_name is null or length(btrim(customer_name)) between 1 and 200),
  shipping_address jsonb check (shipping_address is null or jsonb_typeof(shipping_address) = 'object'),
  note text check (note is null or length(note) <= 2000),
  reservation_id uuid not null unique references public.reservations (id),
  payment_due_at timestamptz not null,
  payment_reference text unique check (payment_reference is null or length(payment_reference) between 1 and 200),
  tracking_number text check (tracking_number is null or length(tracking_number) between 1 and 200),
  carrier text check (carrier is null or length(carrier) between 1 and 100),
  cancel_reason text check (cancel_reason is null or length(cancel_reason) <= 1000),
  version integer not null default 1,
  created_by uuid,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  paid_at timestamptz,
  shipped_at timestamptz,
  delivered_at timestamptz,
  cancelled_at timestamptz,
  returned_at timestamptz,
  constraint orders_paid_when_past_pending
    check ((paid_at is not null) = (status in ('paid', 'shipped', 'delivered', 'returned')) or status = 'cancelled'),
  constraint orders_shipped_when_shipped check ((shipped_at is not null) = (status in ('shipped', 'delivered', 'returned'))),
  constraint orders_delivered_when_delivered
    check ((status <> 'delivered' or delivered_at is not null) and (delivered_at is null or status in ('delivered', 'returned'))),
  constraint orders_cancelled_when_cancelled check ((cancelled_at is not null) = (status = 'cancelled')),
  constraint orders_returned_when_returned check ((returned_at is not null) = (status = 'returned'))
);
comment on table public.orders is
  'Customer orders: pending → paid → shipped → delivered, cancelled before shipping, returned after it; written only by the order functions.';
create index orders_created_idx on public.orders (created_at desc, id desc);
create index orders_status_created_idx on public.orders (status, created_at desc, id desc);
create index orders_customer_created_idx on public.orders (lower(customer_email), created_at desc, id desc);

create trigger orders_before_update_set_updated_at
  before update on public.orders
  for each row execute function private.set_updated_at();

create table public.order_lines (
  order_id uuid not null references public.orders (id) on delete cascade,
  line_no smallint not null check (line_no between 1 and 100),
  variant_id uuid not null references public.product_variants (id),
  sku text not null,
  title text not null,
  quantity integer not null check (quantity between 1 and 10000),
  unit_price_amount integer not null check (unit_price_amount >= 0),
  line_total_amount bigint generated always as (unit_price_amount::bigint * quantity) stored,
  primary key (order_id, line_no)
);
comment on table public.order_lines is
  'What an order bought: the variant, and its sku, title and price as they were when the order was placed.';
create index order_lines_variant_idx on public.order_lines (variant_id);

create table public.order_status_history (
  id bigint generated always as identity primary key,
  order_id uuid not null references public.orders (id) on delete cascade,
  from_status text,
  to_status text not null,
  reason text,
  source text not null,
  actor_id uuid,
  created_at timestamptz not null default now()
);
comment on table public.order_status_history is
  'Every status an order took, with why, from where (api, webhook:<source>, reservation) and by whom.';
create index order_status_history_order_idx on public.order_status_history (order_id, id);

alter table public.orders enable row level security;
revoke all on public.orders from anon, authenticated, service_role;
grant select on public.orders to authenticated, service_role;
create policy "Viewers and up can read orders"
  on public.orders for select to authenticated
  using ((select private.has_app_role('viewer')));

alter table public.order_lines enable row level security;
revoke all on public.order_lines from anon, authenticated, service_role;
grant select on public.order_lines to authenticated, service_role;
create policy "Viewers and up can read order lines"
  on public.order_lines for select to authenticated
  using ((select private.has_app_role('viewer')));

alter table public.order_status_history enable row level security;
revoke all on public.order_status_history from anon, authenticated, service_role;
grant select on public.order_status_history to authenticated, service_role;
create policy "Viewers and up can read order history"
  on public.order_status_history for select to authenticated
  using ((select private.has_app_role('viewer')));

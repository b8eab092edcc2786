-- Who may join the private channels of Broadcast from Database. Supabase Realtime checks these
-- policies on realtime.messages at join, with realtime.topic() set to the channel's topic and the
-- subscriber's JWT claims (so app_role is there): select = receive, insert = send.
--
--   inventory:<location_code>, orders -> staff and up
--   product:<id>                      -> viewers and up (viewers may read every product)
--
-- Clients may share presence on these channels but never send broadcasts to them: their events
-- come from the database only.
do $$
begin
  if to_regclass('realtime.messages') is null then
    return;
  end if;
  alter table realtime.messages enable row level security;

  create policy "Staff receive inventory and order broadcasts, viewers product broadcasts"
    on realtime.messages for select to authenticated
    using (
      realtime.messages.extension in ('broadcast', 'presence')
      and (
        (((select realtime.topic()) like 'inventory:%' or (select realtime.topic()) = 'orders')
          and (select private.has_app_role('staff')))
        or ((select realtime.topic()) like 'product:%' and (select private.has_app_role('viewer')))
      )
    );

  create policy "Staff share presence on the PMS channels"
    on realtime.messages for insert to authenticated
    with check (
      realtime.messages.extension = 'presence'
      and ((select realtime.topic()) like 'inventory:%' or (select realtime.topic()) = 'orders'
           or (select realtime.topic()) like 'product:%')
      and (select private.has_app_role('staff'))
    );
end
$$;

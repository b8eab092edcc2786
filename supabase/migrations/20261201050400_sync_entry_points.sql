-- Catch-up: only the two entry points (private.sync_changes, private.sync_status) are callable by
-- the API roles. They run as their owner and call their helpers themselves, so the helpers need
-- no grant of their own.
revoke all on function private.sync_cursor_position(text), private.may_read_event(text)
  from public, anon, authenticated, service_role;

import { type ConstraintRules, rules } from "../../http/constraints.ts";

// What each API key constraint means to a client (see http/constraints.ts). The SQL functions
// build every column but the name, scopes and expiry, so most of these guard our own code.
export const apiKeyConstraints: ConstraintRules = rules("private.api_keys", {
  api_keys_pkey: [null, "taken", "this API key id exists already"],
  api_keys_name_check: ["name", "invalid", "a key's name has 1 to 100 characters"],
  api_keys_environment_check: ["environment", "invalid", "the environment is live or test"],
  api_keys_prefix_check: [null, "invalid", "the key's prefix is malformed"],
  api_keys_secret_hash_key: [null, "taken", "a key with this secret exists already"],
  api_keys_secret_hash_check: [null, "invalid", "the key's hash is malformed"],
  api_keys_signing_secret_check: [null, "invalid", "the signing secret is malformed"],
  api_keys_scopes_check: ["scopes", "invalid", "1 to 20 scopes, each one of the known scopes"],
  api_keys_last_used_address_check: [null, "too_long", "the recorded address is too long"],
  api_keys_rotated_from_key: ["id", "taken", "this key has a successor already"],
  api_keys_rotated_from_fkey: ["id", "not_found", "the rotated key does not exist"],
  api_keys_expiry_after_creation: ["expires_at", "out_of_range", "a key expires after it is created"],
});

export const apiKeyAlertConstraints: ConstraintRules = rules("private.api_key_alerts", {
  api_key_alerts_pkey: [null, "taken", "this alert was recorded already"],
  api_key_alerts_key_id_fkey: [null, "not_found", "no such API key"],
  api_key_alerts_kind_check: [null, "invalid", "the alert kind is rotation_due, unused or overlap_ending"],
});

import { type ConstraintRules, rules } from "../../http/constraints.ts";

// What each access constraint means to a client (see http/constraints.ts).
export const accessConstraints: ConstraintRules = rules("public.user_roles", {
  user_roles_pkey: ["user_id", "taken", "this user has a role already"],
  user_roles_user_id_fkey: ["user_id", "not_found", "no such user"],
});

import { type ConstraintRules, rules } from "../../http/constraints.ts";

// The pruning horizon is written by private.prune_events only, never from a client's field.
export const syncConstraints: ConstraintRules = {
  ...rules("private.outbox_horizon", {
    outbox_horizon_pkey: [null, "internal", "the outbox keeps one pruning horizon"],
    outbox_horizon_singleton_check: [null, "internal", "the outbox keeps one pruning horizon"],
  }),
};

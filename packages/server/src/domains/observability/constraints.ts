import { type ConstraintRules, rules } from "../../http/constraints.ts";

// Job and ledger-check bookkeeping for metrics: written by jobs, never from a client's field.
export const observabilityConstraints: ConstraintRules = {
  ...rules("private.job_runs", {
    job_runs_pkey: [null, "internal", "a job's runs are counted in one row"],
    job_runs_job_check: [null, "internal", "a job name is a dotted lower-case name"],
    job_runs_interval_seconds_check: [null, "internal", "a job's interval is positive"],
    job_runs_runs_check: [null, "internal", "a job's run count is never negative"],
    job_runs_failures_check: [null, "internal", "a job's failure count is never negative"],
    job_runs_last_duration_ms_check: [null, "internal", "a job's duration is never negative"],
    job_runs_last_error_check: [null, "internal", "a job's last error is kept to 500 characters"],
  }),
  ...rules("private.ledger_checks", {
    ledger_checks_pkey: [null, "internal", "the latest ledger check is one row"],
    ledger_checks_id_check: [null, "internal", "only the latest ledger check is kept"],
    ledger_checks_levels_checked_check: [null, "internal", "a ledger check covers zero or more levels"],
    ledger_checks_mismatches_check: [null, "internal", "a ledger check finds zero or more mismatches"],
  }),
};

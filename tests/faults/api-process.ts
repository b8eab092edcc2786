// The API as its own process for the standing fault test: the local stack on DATABASE_URL's
// PostgreSQL at PORT, without job timers or dispatcher (the test runs its own). Prints "ready".
import { startLocalStack } from "../../packages/local/src/stack.ts";

await startLocalStack({ port: Number(process.env.PORT), runJobs: false });
process.stdout.write("ready\n");

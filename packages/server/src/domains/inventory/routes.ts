import { createRouter } from "../../http/openapi.ts";
import { locationRoutes } from "./locations/routes.ts";
import { reorderRoutes } from "./reorder/routes.ts";
import { reservationRoutes } from "./reservations/routes.ts";
import { stockRoutes } from "./stock/routes.ts";

/** Inventory: locations, stock levels and the ledger, reorder suggestions, reservations. */
export const inventoryRoutes = createRouter()
  .route("/", locationRoutes)
  .route("/", stockRoutes)
  .route("/", reorderRoutes)
  .route("/", reservationRoutes);

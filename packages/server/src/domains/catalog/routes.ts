import { createRouter } from "../../http/openapi.ts";
import { bulkRoutes } from "./bulk/routes.ts";
import { productRoutes } from "./products/routes.ts";
import { taxonomyRoutes } from "./taxonomy/routes.ts";
import { transferRoutes } from "./transfer/routes.ts";
import { variantRoutes } from "./variants/routes.ts";

/** The catalog: products and variants, brands and categories, bulk, import/export and job progress. */
export const catalogRoutes = createRouter()
  // Fixed paths (/products/bulk, /import, /export, /categories/tree) before /{id} routes.
  .route("/", bulkRoutes)
  .route("/", transferRoutes)
  .route("/", taxonomyRoutes)
  .route("/", productRoutes)
  .route("/", variantRoutes);

import type { ImageProvider, Transformation } from "../../platform/images/types.ts";

// Every image the API returns carries its delivery URLs, built with the SDK's URL helper: the
// provider picks the best format and quality per browser (f_auto,q_auto), `srcset` offers widths
// for responsive <img>, and each named crop fits one use in the storefront.

const OPTIMISED: Transformation = { fetch_format: "auto", quality: "auto" };

/** Widths of the srcset (px); each scaled down only (c_limit), never up. */
export const SRCSET_WIDTHS = [320, 480, 640, 960, 1280, 1920] as const;

/** Named crops per use. */
export const CROPS = {
  thumbnail: { crop: "fill", gravity: "auto", width: 150, height: 150 },
  card: { crop: "fill", gravity: "auto", width: 600, height: 750 },
  zoom: { crop: "limit", width: 2400, height: 2400 },
} as const satisfies Record<string, Transformation>;

export interface ImageUrls {
  original: string;
  optimized: string;
  srcset: string;
  sizes: string;
  crops: Record<keyof typeof CROPS, string>;
}

export function imageUrls(provider: ImageProvider, publicId: string, version: number, width: number): ImageUrls {
  const url = (...steps: Transformation[]) => provider.url(publicId, version, steps);
  // No candidate wider than the image itself (its own width closes the list).
  const widths = [...SRCSET_WIDTHS.filter((w) => w < width), Math.min(width, SRCSET_WIDTHS.at(-1) ?? width)];
  return {
    original: url(),
    optimized: url(OPTIMISED),
    srcset: widths.map((w) => `${url({ crop: "limit", width: w }, OPTIMISED)} ${w}w`).join(", "),
    sizes: "(max-width: 640px) 100vw, 640px",
    crops: {
      thumbnail: url(CROPS.thumbnail, OPTIMISED),
      card: url(CROPS.card, OPTIMISED),
      zoom: url(CROPS.zoom, OPTIMISED),
    },
  };
}

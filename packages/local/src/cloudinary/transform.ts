import sharp from "sharp";

// Delivery transformations the local provider understands: a cheap subset of Cloudinary's URL
// API, enough for the named crops and srcset widths the API builds. Components of one step are
// separated by ",", steps by "/": `c_fill,g_auto,h_300,w_300/f_auto,q_auto`. Anything else is
// ignored rather than refused, so a URL that works at Cloudinary still shows an image here.

const OUTPUT_FORMATS = new Set(["jpg", "jpeg", "png", "webp", "avif", "gif"]);

export function isTransformationSegment(segment: string): boolean {
  return segment.split(",").every((part) => /^[a-z]{1,3}_[^,]+$/.test(part));
}

export interface Rendered {
  bytes: Buffer;
  format: string;
}

/** Applies each step to the original; `format` (from the URL's extension) or f_ picks the output. */
export async function render(
  original: Buffer,
  steps: string[],
  options: { format: string; accept: string },
): Promise<Rendered> {
  let image = sharp(original, { animated: true });
  let format = options.format;
  let quality: number | undefined;
  for (const step of steps) {
    const p = Object.fromEntries(
      step.split(",").map((part) => [part.slice(0, part.indexOf("_")), part.slice(part.indexOf("_") + 1)]),
    );
    let width = p.w ? Math.round(Number(p.w)) : undefined;
    let height = p.h ? Math.round(Number(p.h)) : undefined;
    const ratio = p.ar ? parseRatio(p.ar) : undefined;
    if (ratio && width && !height) height = Math.round(width / ratio);
    if (ratio && height && !width) width = Math.round(height * ratio);
    if (width || height) {
      const crop = p.c ?? "scale";
      const fit =
        crop === "fill" || crop === "lfill" || crop === "thumb" || crop === "crop"
          ? "cover"
          : crop === "pad"
            ? "contain"
            : crop === "fit" || crop === "limit"
              ? "inside"
              : width && height
                ? "fill"
                : "inside";
      // Render the step so the next one sees its result.
      image = sharp(
        await image
          .resize({
            width: valid(width),
            height: valid(height),
            fit,
            position: p.g === "auto" ? "attention" : "centre",
            withoutEnlargement: crop === "limit",
            background: { r: 255, g: 255, b: 255, alpha: 1 },
          })
          .toBuffer(),
        { animated: true },
      );
    }
    if (p.f) format = p.f === "auto" ? autoFormat(options.accept, format) : p.f;
    if (p.q && p.q !== "auto" && Number.isFinite(Number(p.q))) quality = Math.min(100, Math.max(1, Number(p.q)));
  }
  const output = OUTPUT_FORMATS.has(format) ? (format === "jpeg" ? "jpg" : format) : "jpg";
  const bytes = await image
    .toFormat(output === "jpg" ? "jpeg" : (output as "png" | "webp" | "avif" | "gif"), quality ? { quality } : {})
    .toBuffer();
  return { bytes, format: output };
}

function valid(size: number | undefined): number | undefined {
  return size && Number.isFinite(size) && size > 0 ? Math.min(size, 8000) : undefined;
}

function parseRatio(text: string): number | undefined {
  const [a, b] = text.split(":").map(Number);
  const ratio = b === undefined ? a : (a ?? 0) / b;
  return ratio && Number.isFinite(ratio) && ratio > 0 ? ratio : undefined;
}

/** f_auto: WebP to a browser that takes it, otherwise the original format. */
function autoFormat(accept: string, original: string): string {
  return accept.includes("image/webp") ? "webp" : original;
}

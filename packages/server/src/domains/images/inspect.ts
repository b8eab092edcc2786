import { imageSize } from "image-size";

/** The formats a product image may have (Cloudinary's names). */
export const IMAGE_FORMATS = ["jpg", "png", "webp", "avif", "gif"] as const;
export type ImageFormat = (typeof IMAGE_FORMATS)[number];

export interface InspectedImage {
  format: ImageFormat;
  width: number;
  height: number;
  bytes: number;
  /** SHA-256 of the bytes, hex. */
  checksum: string;
}

const ascii = (bytes: Uint8Array, from: number, to: number) => String.fromCharCode(...bytes.subarray(from, to));

/**
 * The format the first bytes announce (the name or the declared type says nothing): JPEG's SOI
 * marker, PNG's signature, GIF87a/89a, a RIFF container of WEBP, an ISO-BMFF `ftyp` box whose major
 * or compatible brand is AVIF. Anything else — a script named `.jpg` included — is none of them.
 */
export function sniffFormat(bytes: Uint8Array): ImageFormat | undefined {
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return "jpg";
  if (bytes.length >= 8 && [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a].every((b, i) => bytes[i] === b))
    return "png";
  if (bytes.length >= 6 && /^GIF8[79]a$/.test(ascii(bytes, 0, 6))) return "gif";
  if (bytes.length >= 12 && ascii(bytes, 0, 4) === "RIFF" && ascii(bytes, 8, 12) === "WEBP") return "webp";
  if (bytes.length >= 16 && ascii(bytes, 4, 8) === "ftyp") {
    const boxSize = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0);
    const end = Math.min(boxSize, bytes.length, 256);
    for (let offset = 8; offset + 4 <= end; offset += 4) {
      if (offset === 12) continue; // minor_version, not a brand
      if (["avif", "avis"].includes(ascii(bytes, offset, offset + 4))) return "avif";
    }
  }
  return undefined;
}

export class UnsupportedImageError extends Error {
  override name = "UnsupportedImageError";
}

/** Format (by magic bytes), dimensions (parsed from the headers) and checksum of an image. */
export async function inspectImage(bytes: Uint8Array): Promise<InspectedImage> {
  const format = sniffFormat(bytes);
  if (!format) throw new UnsupportedImageError(`not one of ${IMAGE_FORMATS.join(", ")} (judged by its first bytes)`);
  let size: ReturnType<typeof imageSize>;
  try {
    size = imageSize(bytes);
  } catch {
    throw new UnsupportedImageError(`a ${format} whose header cannot be read`);
  }
  if (!size.width || !size.height) throw new UnsupportedImageError(`a ${format} without dimensions`);
  const digest = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  const checksum = Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
  return { format, width: size.width, height: size.height, bytes: bytes.byteLength, checksum };
}

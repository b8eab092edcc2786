/** An asset the provider stored, as its upload response describes it. */
export interface ProviderAsset {
  public_id: string;
  version: number;
  format: string;
  width: number;
  height: number;
  bytes: number;
  /** The response signature (public_id and version signed with the API secret). */
  signature: string;
  /** Predominant colours, when asked for: [["#RRGGBB", percent], ...]. */
  colors?: [string, number][];
}

/** What a browser posts to the provider beside its file, and where. */
export interface SignedUpload {
  upload_url: string;
  fields: Record<string, string>;
}

/** Parameters of a delivery URL: a chain of transformation steps (Cloudinary option objects). */
export type Transformation = Record<string, string | number>;

/**
 * The image provider (Cloudinary in production, the local stack's compatible endpoint locally).
 * Calls that fail throw ImageProviderError.
 */
export interface ImageProvider {
  readonly folder: string;
  readonly maxBytes: number;
  /** Signed server-side upload of `bytes` as `publicId` (never overwriting another asset). */
  upload(bytes: Uint8Array, publicId: string, options: { allowedFormats: string[] }): Promise<ProviderAsset>;
  /** Destroys an asset; an asset already gone is not an error. */
  destroy(publicId: string): Promise<"ok" | "not found">;
  /** Signed fields for a browser upload: exactly these parameters, nothing else, within the signature's hour. */
  signUpload(params: Record<string, string>): SignedUpload;
  /** True when `signature` is the provider's signature of this public id and version. */
  verifyResponse(publicId: string, version: number, signature: string): boolean;
  /** The URL of a version, optionally transformed (built with the SDK's URL helper). */
  url(publicId: string, version: number, steps?: Transformation[]): string;
  /** The original bytes of a version, at most `maxBytes` + 1 of them (more means too large). */
  download(publicId: string, version: number, maxBytes: number): Promise<Uint8Array>;
}

export class ImageProviderError extends Error {
  override name = "ImageProviderError";
  constructor(
    message: string,
    /** The provider's HTTP status, when it answered. */
    readonly status?: number,
  ) {
    super(message);
  }

  /** A 4xx answer (not the SDK's 499 for a timeout): the provider refused the call and stored nothing. */
  get refused(): boolean {
    return this.status !== undefined && this.status >= 400 && this.status < 499;
  }
}

import { Agent } from "node:http";
import cloudinary, { type UploadApiOptions } from "cloudinary";
import type { Config } from "../config.ts";
import { type ImageProvider, ImageProviderError, type ProviderAsset, type Transformation } from "./types.ts";

type ImagesConfig = NonNullable<Config["images"]>;

const sdk = cloudinary.v2;

/**
 * The image provider through the `cloudinary` SDK. Every call passes the account in its options
 * (the SDK's global config stays untouched). The SDK picks http or https once, at module load, from
 * the environment's CLOUDINARY_URL; an http upload_prefix (the local stack) therefore gets an http
 * agent per call, which Node's request honours whatever module the SDK chose.
 */
export function createCloudinaryProvider(config: ImagesConfig): ImageProvider {
  const account = {
    cloud_name: config.cloudName,
    api_key: config.apiKey,
    api_secret: config.apiSecret,
    upload_prefix: config.uploadPrefix,
    signature_algorithm: config.signatureAlgorithm,
    ...(config.uploadPrefix.startsWith("http:") ? { agent: new Agent({ keepAlive: true }) } : {}),
  };
  const delivery = deliveryOptions(config);

  const url = (publicId: string, version: number, steps: Transformation[] = []) =>
    sdk.url(publicId, {
      ...delivery,
      cloud_name: config.cloudName,
      version,
      transformation: steps,
      urlAnalytics: false,
    } as Parameters<typeof sdk.url>[1]);

  return {
    folder: config.folder,
    maxBytes: config.maxBytes,

    upload(bytes, publicId, { allowedFormats }) {
      return new Promise<ProviderAsset>((resolve, reject) => {
        const stream = sdk.uploader.upload_stream(
          {
            ...account,
            resource_type: "image",
            public_id: publicId,
            overwrite: false,
            allowed_formats: allowedFormats,
            colors: true,
            timeout: 60_000,
          } as unknown as UploadApiOptions,
          (error, result) => {
            if (error || !result) reject(providerError("upload", error));
            else resolve(result as unknown as ProviderAsset);
          },
        );
        stream.end(bytes);
      });
    },

    async destroy(publicId) {
      try {
        // The account rides along (the SDK reads it from the options; its types list only three).
        const options = { ...account, resource_type: "image", invalidate: true } as { resource_type: "image" };
        const result = (await sdk.uploader.destroy(publicId, options)) as { result?: string };
        if (result.result === "ok" || result.result === "not found") return result.result;
        throw new ImageProviderError(`destroy answered ${JSON.stringify(result)}`);
      } catch (error) {
        throw providerError("destroy", error);
      }
    },

    signUpload(params) {
      const toSign = { ...params, timestamp: String(Math.floor(Date.now() / 1000)) };
      const signature = (sdk.utils.api_sign_request as SignRequest)(
        toSign,
        config.apiSecret,
        config.signatureAlgorithm,
      );
      return {
        upload_url: sdk.utils.api_url("upload", { ...account, resource_type: "image" }),
        fields: { ...toSign, api_key: config.apiKey, signature },
      };
    },

    verifyResponse(publicId, version, signature) {
      // Cloudinary signs `public_id=...&version=...` (signature version 1: no escaping).
      const expected = (sdk.utils.api_sign_request as SignRequest)(
        { public_id: publicId, version: String(version) },
        config.apiSecret,
        config.signatureAlgorithm,
        1,
      );
      return timingSafeEqualText(expected, signature);
    },

    url,

    async download(publicId, version, maxBytes) {
      let response: Response;
      try {
        response = await fetch(url(publicId, version), { signal: AbortSignal.timeout(30_000) });
      } catch (error) {
        throw providerError("download", error);
      }
      if (!response.ok || !response.body) {
        await response.body?.cancel();
        throw new ImageProviderError(`download answered ${response.status}`, response.status);
      }
      const chunks: Uint8Array[] = [];
      let size = 0;
      const reader = response.body.getReader();
      while (size <= maxBytes) {
        const { done, value } = await reader.read();
        if (done) break;
        chunks.push(value);
        size += value.byteLength;
      }
      await reader.cancel();
      const bytes = new Uint8Array(size);
      let offset = 0;
      for (const chunk of chunks) {
        bytes.set(chunk, offset);
        offset += chunk.byteLength;
      }
      return bytes;
    },
  };
}

type SignRequest = (params: Record<string, string>, secret: string, algorithm?: string, version?: number) => string;

/** How delivery URLs start: res.cloudinary.com, or the configured CDN domain. */
function deliveryOptions(config: ImagesConfig): Record<string, unknown> {
  if (!config.cdnUrl) return { secure: true };
  const cdn = new URL(config.cdnUrl);
  const host = `${cdn.host}${cdn.pathname.replace(/\/$/, "")}`;
  return cdn.protocol === "http:"
    ? { secure: false, cname: host, private_cdn: true }
    : { secure: true, secure_distribution: host, private_cdn: true };
}

function providerError(action: string, error: unknown): ImageProviderError {
  if (error instanceof ImageProviderError) return error;
  const detail = error as { message?: string; http_code?: number } | undefined;
  return new ImageProviderError(
    `image provider ${action} failed: ${detail?.message ?? String(error)}`,
    detail?.http_code,
  );
}

function timingSafeEqualText(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let i = 0; i < a.length; i++) difference |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return difference === 0;
}

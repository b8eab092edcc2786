import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { dirname, join, resolve, sep } from "node:path";

/** What the local provider keeps about an asset beside its bytes. */
export interface StoredAsset {
  public_id: string;
  version: number;
  format: string;
  width: number;
  height: number;
  bytes: number;
  etag: string;
  created_at: string;
  original_filename: string;
  /** Dominant colour, #rrggbb. */
  dominant: string;
}

// Cloudinary public ids are paths ("folder/sub/name"); locally each is a file under the cloud's
// directory, so a segment may not climb out of it.
const PUBLIC_ID = /^[A-Za-z0-9_\-.@ ]+(\/[A-Za-z0-9_\-.@ ]+)*$/;

export function isValidPublicId(publicId: string): boolean {
  return (
    publicId.length <= 255 && PUBLIC_ID.test(publicId) && !publicId.split("/").some((s) => s === "." || s === "..")
  );
}

/** Assets of one cloud under `root/<cloud>/`: `<public_id>.bin` (the bytes) and `<public_id>.json`. */
export function createAssetStore(root: string, cloudName: string) {
  const base = resolve(root, cloudName);
  const pathOf = (publicId: string, ext: "bin" | "json") => {
    const path = resolve(base, `${publicId}.${ext}`);
    if (!path.startsWith(base + sep)) throw new Error(`public id ${publicId} leaves the store`);
    return path;
  };
  return {
    async put(asset: StoredAsset, bytes: Uint8Array): Promise<void> {
      const binary = pathOf(asset.public_id, "bin");
      await mkdir(dirname(binary), { recursive: true });
      await writeFile(binary, bytes);
      await writeFile(pathOf(asset.public_id, "json"), JSON.stringify(asset));
    },
    async get(publicId: string): Promise<{ asset: StoredAsset; bytes: Buffer } | undefined> {
      if (!isValidPublicId(publicId)) return undefined;
      try {
        const asset = JSON.parse(await readFile(pathOf(publicId, "json"), "utf8")) as StoredAsset;
        return { asset, bytes: await readFile(pathOf(publicId, "bin")) };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
        throw error;
      }
    },
    async remove(publicId: string): Promise<boolean> {
      const existed = (await this.get(publicId)) !== undefined;
      await rm(pathOf(publicId, "bin"), { force: true });
      await rm(pathOf(publicId, "json"), { force: true });
      return existed;
    },
    /** Where the files live (tests look there to prove nothing was stored). */
    directory: join(base),
  };
}

export type AssetStore = ReturnType<typeof createAssetStore>;

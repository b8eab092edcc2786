// `npm install`'s postinstall: prepares the embedded database image so the first `npm start` is quick.
// Never fails the install: without the image, `npm start` runs initdb itself.
import { INITDB_IMAGE, prepareInitdbImage } from "./pglite-image.ts";

try {
  await prepareInitdbImage();
  console.log(`storekeep: embedded database image ready (${INITDB_IMAGE})`);
} catch (error) {
  console.warn(
    `storekeep: could not prepare the embedded database image (${error instanceof Error ? error.message : error}); npm start will initialise it instead`,
  );
}

/**
 * Where the static hook client lives: in this package (the server installs it from there into
 * qemu.d/) and in the product image (the webhook's injected probes run it from there). One
 * constant, so the Dockerfile, the server and the webhook cannot drift apart
 * (test/manifests/dockerfile.test.ts checks the Dockerfile against it).
 */
export const CLIENT_BINARY_IN_PACKAGE = 'hookclient/target/release/premigration-hooks-client';

/** The image's WORKDIR, where the package is copied. */
export const IMAGE_APP_DIR = '/app';

/** The client inside the product image. */
export const CLIENT_BINARY_IN_IMAGE = `${IMAGE_APP_DIR}/${CLIENT_BINARY_IN_PACKAGE}`;

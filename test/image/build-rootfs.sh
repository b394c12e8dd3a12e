#!/usr/bin/env bash
# Assemble the product's image without a container runtime, from the same files the Dockerfile's
# runtime stage ships, and write it as an OCI image layout:
#
#   test/image/build-rootfs.sh <out-dir> [tag]
#
#   <out-dir>/oci      OCI image layout, tag <tag> (default: test): one layer, the config below
#   <out-dir>/bundle   that image unpacked again by umoci (bundle/rootfs + bundle/config.json),
#                      what test/image/image.test.ts starts read-only as uid 107
#
# What goes in (docs/image.md, "Built here without a container runtime"):
#   - a minimal Debian rootfs from mmdebstrap (--variant=extract: unpacked, no maintainer
#     scripts): libc6, libgcc-s1 and libstdc++6, which Node links against, and coreutils for
#     /usr/bin/env, which the CLI's shebang runs. No shell, no package manager;
#   - this machine's node binary, at /usr/local/bin/node as in the Node images;
#   - /app as the Dockerfile's runtime stage lays it out: package.json, the production
#     node_modules (`npm ci --omit=dev --ignore-scripts` in a staging directory), dist/src (from
#     `npm run build:ts`), the static hook client, the demo domain and its sysfs fixture;
#   - /usr/local/bin/premigration-hooks -> /app/dist/src/cli/main.js, the entrypoint;
#   - the image config: user 107:107, entrypoint premigration-hooks, cmd --help, workdir /app,
#     NODE_ENV=production.
# It downloads only Debian packages (mmdebstrap, from this machine's apt sources) and npm packages.
# Needs root (mmdebstrap's root mode, and files owned by root in the layer); mmdebstrap and umoci
# come from test/setup/install-system-deps.sh.
set -euo pipefail

out=${1:?usage: build-rootfs.sh <out-dir> [tag]}
tag=${2:-test}
repo=$(cd "$(dirname "$0")/../.." && pwd)
client=$repo/hookclient/target/release/premigration-hooks-client
cli=$repo/dist/src/cli/main.js

for f in "$cli" "$client"; do
  [ -e "$f" ] || { echo "build-rootfs: $f is missing; run npm run build first" >&2; exit 1; }
done
for tool in mmdebstrap umoci npm node; do
  command -v "$tool" >/dev/null || { echo "build-rootfs: $tool not found (test/setup/install-system-deps.sh)" >&2; exit 1; }
done
if readelf -lW "$client" | grep -q 'program interpreter' || readelf -dW "$client" | grep -q '(NEEDED)'; then
  echo "build-rootfs: $client is not statically linked" >&2
  exit 1
fi

rm -rf "$out"
mkdir -p "$out"
stage=$out/stage
rootfs=$stage/rootfs
mkdir -p "$stage"

# The node binary is this machine's, so the libraries are this machine's Debian release.
suite=$(. /etc/os-release && echo "$VERSION_CODENAME")
mmdebstrap --quiet --mode=root --variant=extract \
  --include=libc6,libgcc-s1,libstdc++6,coreutils \
  --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/info/*' \
  "$suite" "$rootfs"
# Nothing of the package tooling's state, and no device nodes in the layer: the runtime (here:
# the test) provides /dev, /proc and /sys.
rm -rf "$rootfs"/var/cache/apt/* "$rootfs"/var/lib/apt/lists/* "$rootfs"/usr/share/doc "$rootfs"/usr/share/man \
       "$rootfs"/usr/share/locale "$rootfs"/usr/share/info
find "$rootfs/dev" -mindepth 1 -delete
mkdir -p "$rootfs/proc" "$rootfs/sys" "$rootfs/tmp" "$rootfs/run"
chmod 1777 "$rootfs/tmp"
[ -e "$rootfs/var/run" ] || ln -s ../run "$rootfs/var/run"

install -D -m 0755 "$(readlink -f "$(command -v node)")" "$rootfs/usr/local/bin/node"

# Production dependencies, as the Dockerfile's deps stage installs them.
mkdir -p "$stage/deps"
cp "$repo/package.json" "$repo/package-lock.json" "$stage/deps/"
(cd "$stage/deps" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --prefer-offline --loglevel=error >/dev/null)

app=$rootfs/app
mkdir -p "$app/dist" "$app/assets" "$app/test/fixtures/sysfs" "$app/hookclient/target/release"
cp "$repo/package.json" "$app/package.json"
cp -a "$stage/deps/node_modules" "$app/node_modules"
cp -a "$repo/dist/src" "$app/dist/src"
install -m 0755 "$client" "$app/hookclient/target/release/premigration-hooks-client"
cp "$repo/assets/demo-domain.xml" "$app/assets/demo-domain.xml"
cp -a "$repo/test/fixtures/sysfs/2s-smt2-interleaved" "$app/test/fixtures/sysfs/2s-smt2-interleaved"
ln -s /app/dist/src/cli/main.js "$rootfs/usr/local/bin/premigration-hooks"
# Root-owned and world-readable, nothing writable by the runtime user (as COPY leaves it).
chown -R 0:0 "$app"
chmod -R u+rwX,go+rX,go-w "$app"

# The OCI image: an empty image, its bundle filled with the rootfs, repacked as one layer.
umoci init --layout "$out/oci"
umoci new --image "$out/oci:$tag"
umoci unpack --image "$out/oci:$tag" "$stage/bundle" >/dev/null
rm -rf "$stage/bundle/rootfs"
mv "$rootfs" "$stage/bundle/rootfs"
umoci repack --image "$out/oci:$tag" "$stage/bundle"
umoci config --image "$out/oci:$tag" \
  --os linux --architecture "$(dpkg --print-architecture)" \
  --config.user 107:107 \
  --config.entrypoint premigration-hooks --config.cmd --help \
  --config.workingdir /app \
  --config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  --config.env NODE_ENV=production \
  --config.label org.opencontainers.image.title=kubevirt-premigration-hooks \
  --config.label org.opencontainers.image.licenses=Apache-2.0
umoci gc --layout "$out/oci"

# What a runtime would run: the image unpacked from its layout, not the staging directory.
umoci unpack --image "$out/oci:$tag" "$out/bundle" >/dev/null
rm -rf "$stage"
echo "build-rootfs: $out/oci:$tag, unpacked at $out/bundle/rootfs"

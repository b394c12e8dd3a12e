# syntax=docker/dockerfile:1
#
# kubevirt-premigration-hooks: one image for the admission webhook (`premigration-hooks webhook`)
# and for the hook server it injects into migration-target launcher pods (`premigration-hooks serve`),
# which also carries the static hook client that `serve` copies into the pod.
#
# Multi-arch, for KubeVirt's architectures (docs/image.md):
#   docker buildx build --platform linux/amd64,linux/arm64,linux/s390x -t <registry>/premigration-hooks:<tag> --push .
#
# Stages:
#   client  - the Rust hook client, a static musl binary, built on each target platform
#   build   - the TypeScript, with the npm scripts CI runs (npm ci, npm run build:ts)
#   deps    - production node_modules only (npm ci --omit=dev)
#   runtime - Node LTS + dist/ + node_modules + the client, non-root (uid 107)

# Node LTS for the runtime; the tests run on Node 20, so the code uses only APIs both have.
ARG NODE_IMAGE=node:24-alpine
ARG ALPINE_IMAGE=alpine:3.22

# ---------------------------------------------------------------------------------------------
# client: built natively on the target platform (buildx runs this stage under QEMU binfmt for
# non-native targets), not cross-compiled from $BUILDPLATFORM. Why: rustup's musl targets
# cover amd64 and arm64 only; s390x-unknown-linux-musl is a Tier 3 Rust target with no
# prebuilt std, so `rustup target add s390x-unknown-linux-musl` fails and a cross build would
# need a nightly -Zbuild-std plus a musl cross toolchain. Alpine builds its own rustc for every
# architecture it ships (x86_64, aarch64 and s390x all included), and its native target is
# musl, so the same two commands work for all three architectures. The client is no_std (core
# and alloc over the C library) with no crates to fetch, so even an emulated build takes minutes, and one code path for every
# architecture is worth more than the speed of a cross build for two of them.
FROM ${ALPINE_IMAGE} AS client
ARG TARGETARCH
RUN case "${TARGETARCH}" in \
      amd64|arm64|s390x) ;; \
      *) echo "unsupported TARGETARCH '${TARGETARCH}': KubeVirt ships amd64, arm64 and s390x" >&2; exit 1 ;; \
    esac \
 && apk add --no-cache cargo rust
WORKDIR /src/hookclient
COPY hookclient/Cargo.toml hookclient/Cargo.lock ./
COPY hookclient/src ./src
# Alpine's rustc links against musl dynamically by default; +crt-static makes the binary
# self-contained, so it runs in any launcher image (CentOS Stream's glibc, or other).
ENV RUSTFLAGS="-C target-feature=+crt-static"
# The same cargo invocation as `npm run build:client` (package.json), so the output lands at
# target/release/, the path the server reads; --locked refuses a stale Cargo.lock.
# Then prove the result: statically linked (no interpreter, no shared libraries) and built for
# the architecture asked for (a misconfigured builder would otherwise ship a foreign binary).
RUN cargo build --release --quiet --locked
RUN set -e; \
    bin=target/release/premigration-hooks-client; \
    if readelf -lW "$bin" | grep -q 'program interpreter'; then echo "$bin is dynamically linked" >&2; exit 1; fi; \
    if readelf -dW "$bin" | grep -q '(NEEDED)'; then echo "$bin needs shared libraries" >&2; exit 1; fi; \
    case "${TARGETARCH}" in \
      amd64) machine='X86-64' ;; \
      arm64) machine='AArch64' ;; \
      s390x) machine='S/390' ;; \
    esac; \
    readelf -hW "$bin" | grep 'Machine:' | grep -q "$machine" \
      || { echo "$bin was not built for ${TARGETARCH}" >&2; exit 1; }

# ---------------------------------------------------------------------------------------------
# build: JavaScript is architecture-independent, so it is compiled once on the build platform.
FROM --platform=$BUILDPLATFORM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY bench ./bench
RUN npm run build:ts

# ---------------------------------------------------------------------------------------------
# deps: production dependencies only, also on the build platform. That is safe because none of
# them has an install script or a native addon (test/manifests/dockerfile.test.ts checks the
# lock file); --ignore-scripts keeps it so should one appear.
FROM --platform=$BUILDPLATFORM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

# ---------------------------------------------------------------------------------------------
# runtime
FROM ${NODE_IMAGE} AS runtime
LABEL org.opencontainers.image.title="kubevirt-premigration-hooks" \
      org.opencontainers.image.description="Target-side libvirt migration hooks for KubeVirt, injected by an admission webhook" \
      org.opencontainers.image.licenses="Apache-2.0"
# The runtime installs nothing: drop npm, npx, corepack and yarn (most of the base image's
# CVE surface). Put the CLI on PATH: the Deployment, the injected sidecar and its startup
# probe all run `premigration-hooks` (webhook --image-command, default premigration-hooks).
RUN rm -rf /usr/local/lib/node_modules /usr/local/bin/npm /usr/local/bin/npx \
           /usr/local/bin/corepack /usr/local/bin/yarn /usr/local/bin/yarnpkg /opt/yarn-* \
 && ln -s /app/dist/src/cli/main.js /usr/local/bin/premigration-hooks
WORKDIR /app
ENV NODE_ENV=production
# Everything root-owned and read-only for the runtime user: the pods run with
# readOnlyRootFilesystem, and nothing here is meant to change at run time.
# package.json marks the package root (ESM "type": "module", and where the server looks for
# the client binary).
COPY package.json ./
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist/src ./dist/src
# `serve --install-client` copies the client from <package root>/hookclient/target/release/
# (src/server/main.ts, CLIENT_BINARY_IN_PACKAGE) into the pod's /etc/libvirt/hooks/qemu.d/.
COPY --from=client /src/hookclient/target/release/premigration-hooks-client ./hookclient/target/release/premigration-hooks-client
# So that `docker run <image> demo` can smoke-test an image on any architecture.
COPY assets/demo-domain.xml ./assets/demo-domain.xml
COPY test/fixtures/sysfs/2s-smt2-interleaved ./test/fixtures/sysfs/2s-smt2-interleaved
# uid/gid 107: KubeVirt's qemu user in virt-launcher, the user the injected sidecar runs as
# (src/webhook/admission/inject.ts). Numeric, so the kubelet can verify runAsNonRoot. The webhook
# Deployment may run it under another non-root uid: every file is world-readable.
USER 107:107
# Node runs as PID 1 (the shebang execs it): both `serve` and `webhook` handle SIGTERM
# themselves and drain before exiting, and neither spawns children to reap.
ENTRYPOINT ["premigration-hooks"]
CMD ["--help"]

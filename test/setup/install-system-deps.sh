#!/usr/bin/env bash
# System packages the test suite needs (Debian). Idempotent; safe to re-run.
#  - libvirt + qemu: the end-to-end live migration test (see docs/testing.md)
#  - prometheus: the real-scrape metrics tests and promtool
#  - mmdebstrap, umoci: the image assembled and run without a container runtime (test/image)
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
need=()
for pkg in libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients qemu-system-x86 prometheus mmdebstrap umoci; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
# kubectl (for `kubectl kustomize` in the manifest tests) ships with these machines; Debian's
# kubernetes-client is the fallback where it does not.
command -v kubectl >/dev/null || need+=(kubernetes-client)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# The qemu driver resolves this user before it reads qemu.conf; libvirt-daemon-system
# (which would create it) pulls in systemd, so create it by hand.
getent group libvirt-qemu >/dev/null || groupadd --system libvirt-qemu
getent passwd libvirt-qemu >/dev/null || useradd --system --gid libvirt-qemu --no-create-home --shell /usr/sbin/nologin libvirt-qemu

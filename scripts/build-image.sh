#!/usr/bin/env bash
# Builds the streamcdn container image without a daemon and without
# pulling anything: a static binary, the CA certificates, a non-root user
# (65532) and ENTRYPOINT ["/streamcdn"] on an empty base, committed by
# buildah as an OCI archive. buildah keeps its storage in a temporary
# directory, so the machine's container storage is not touched.
# Needs buildah and ca-certificates (apt-get install buildah ca-certificates).
# Usage: scripts/build-image.sh OUT.tar [NAME:TAG]   (default streamcdn:dev)
# Load it with `ctr -n k8s.io images import OUT.tar` (k3s, kind's nodes),
# `skopeo copy oci-archive:OUT.tar docker://REGISTRY/streamcdn:TAG`, or
# `podman load -i OUT.tar`.
set -euo pipefail
out=${1:?usage: scripts/build-image.sh OUT.tar [NAME:TAG]}
name=${2:-streamcdn:dev}
case $out in /*) ;; *) out=$PWD/$out ;; esac
cd "$(dirname "$0")/.."
certs=/etc/ssl/certs/ca-certificates.crt
[ -f "$certs" ] || { echo "build-image: $certs missing (apt-get install ca-certificates)" >&2; exit 1; }
command -v buildah >/dev/null || { echo "build-image: buildah missing (apt-get install buildah)" >&2; exit 1; }

work=$(mktemp -d)
ctr=""
bh() { buildah --root "$work/storage" --runroot "$work/run" --storage-driver vfs "$@"; }
cleanup() {
  [ -n "$ctr" ] && bh rm "$ctr" >/dev/null 2>&1 || true
  rm -rf "$work" 2>/dev/null || { chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"; }
}
trap cleanup EXIT

root=$work/rootfs
mkdir -p "$root/etc/ssl/certs" "$root/tmp" "$root/var/cache/streamcdn" "$root/srv/titles"
# -buildvcs=auto overrides a GOFLAGS=-buildvcs=false: the binary names its
# revision (streamcdn version), as the image's label does.
CGO_ENABLED=0 go build -trimpath -buildvcs=auto -ldflags '-s -w' -o "$root/streamcdn" ./cmd/streamcdn
cp "$certs" "$root/etc/ssl/certs/ca-certificates.crt"
printf 'root:x:0:0:root:/root:/sbin/nologin\nstreamcdn:x:65532:65532:streamcdn:/var/cache/streamcdn:/sbin/nologin\n' > "$root/etc/passwd"
printf 'root:x:0:\nstreamcdn:x:65532:\n' > "$root/etc/group"
chmod 1777 "$root/tmp"
rev=$(git rev-parse HEAD 2>/dev/null || echo unknown)

ctr=$(bh from --quiet scratch)
bh copy --quiet "$ctr" "$root/." /
bh config --entrypoint '["/streamcdn"]' --cmd help --user 65532:65532 --workingdir /var/cache/streamcdn \
  --env SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
  --port 8080 --label org.opencontainers.image.title=streamcdn \
  --label org.opencontainers.image.revision="$rev" \
  --label org.opencontainers.image.source=https://github.com/streamcdn/streamcdn "$ctr"
rm -f "$out"
bh commit --quiet --format oci --rm "$ctr" "oci-archive:$out:$name" >/dev/null
ctr=""
echo "wrote $out ($name, $(du -h "$out" | cut -f1))"

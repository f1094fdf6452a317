#!/usr/bin/env bash
# Molecule dependency step: the test image and the scenario's network with a fixed subnet, so the
# hosts get the addresses molecule.yml names (the podman driver creates networks without one).
set -euo pipefail
hatang testhosts image >/dev/null
net=hatang-baseline-molecule
subnet=10.251.73.0/24
if podman network exists "$net"; then
  if [ "$(podman network inspect "$net" --format '{{range .Subnets}}{{.Subnet}}{{end}}')" = "$subnet" ]; then
    exit 0
  fi
  podman network rm -f "$net"
fi
podman network create --subnet "$subnet" "$net" >/dev/null
echo "dependency: created network $net ($subnet)"

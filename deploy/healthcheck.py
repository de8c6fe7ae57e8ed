#!/usr/bin/env python3
"""Exit 0 if the papersift server in this container answers SERVING to a gRPC health check.

The server image's HEALTHCHECK (docker, compose). Kubernetes does not need it: it probes the
standard ``grpc.health.v1.Health`` service itself. The port comes from ``PAPERSIFT_LISTEN``,
the same variable the server listens by; the check always dials the loopback address.
"""

from __future__ import annotations

import os
import sys

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

DEFAULT_LISTEN = "0.0.0.0:50051"
TIMEOUT_SECONDS = 3.0


def main() -> int:
    """Check the server's overall health status; print why and return 1 if it is not serving."""
    port = os.environ.get("PAPERSIFT_LISTEN", DEFAULT_LISTEN).rpartition(":")[2]
    target = f"127.0.0.1:{port}"
    with grpc.insecure_channel(target) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            reply = stub.Check(health_pb2.HealthCheckRequest(), timeout=TIMEOUT_SECONDS)
        except grpc.RpcError as exc:
            print(f"papersift-healthcheck: {target}: {exc.code().name}", file=sys.stderr)
            return 1
    status = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
    if status != "SERVING":
        print(f"papersift-healthcheck: {target}: {status}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

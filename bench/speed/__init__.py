"""The speed benchmark: gRPC latency and throughput of papersift-server, and training cost.

Run ``python -m bench.speed`` from the repository root (``--help`` for the options). Every RPC
goes over loopback to a real ``papersift-server`` subprocess; load comes from separate client
processes (:mod:`bench.speed.load`).
"""

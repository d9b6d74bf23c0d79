"""The standard gRPC health service (grpc.health.v1), generated: scripts/python-stubs.sh."""

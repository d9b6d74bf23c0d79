"""Generated stubs of grpc.health.v1 (Debian grpc-proto): scripts/python-stubs.sh."""

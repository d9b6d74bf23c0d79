"""Generated stubs of ringsim.v1 (proto/ringsim/v1): scripts/python-stubs.sh."""

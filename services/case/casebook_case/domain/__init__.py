"""The collections domain: the Case aggregate, its events and values. No gRPC, no SQL."""

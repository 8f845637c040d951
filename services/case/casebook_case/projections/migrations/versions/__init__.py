"""Revisions of the read model, oldest first (a package, so that they install)."""

"""Matplotlib figures over analysis results; each caption says where its numbers come from."""

"""Experiment runs: the request-log schema and store, the runner, experiment specs."""

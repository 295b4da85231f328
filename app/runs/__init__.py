"""Runs: queue them, train them in worker processes, keep and replay their events.

Between the training core (which knows nothing of the web) and the web layer (which never imports torch).
"""

"""The scale-out backend: runs are Celery tasks on Redis, their events go to one Redis Stream per run.

Used when PLAYGROUND_BROKER_URL is set; without it the embedded local pool (app.runs.pool) trains.
The web process only publishes tasks and reads streams; torch lives in `d2l-playground worker`.
"""

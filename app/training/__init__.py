"""The training core: datasets, the chapter-3 models, and a trainer that yields events.

Plain PyTorch and pydantic. Nothing here knows about the web or the runs layer.
"""

"""A finished run taken home as a Jupyter notebook that trains it again on its own (issue 16).

Plain Python and nbformat: the code it carries is read from the training core's files (source.py), so
building a notebook imports neither torch nor anything of the web.
"""

from .build import notebook_for, notebook_text, result_from_events

__all__ = ["notebook_for", "notebook_text", "result_from_events"]

"""Classroom mode: a teacher's class, its students, what the teacher pushes, and the class's event log.

Knows nothing of the web and nothing of tensors: the class store (tables beside the run store's) and the
rules of a class (join codes, display names, locked settings). app/web/classes.py serves it.
"""

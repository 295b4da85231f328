"""Bilingual exercises on the course's questions, quizzes and pitfalls (no torch import here)."""

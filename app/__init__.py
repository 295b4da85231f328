"""d2l-playground: the first chapters of Dive into Deep Learning, trained live."""

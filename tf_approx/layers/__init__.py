"""Keras layers backed by the native ops."""

"""Composite twins of the native ops, built from plain TensorFlow ops."""

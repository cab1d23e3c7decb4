"""User strategies, importable as ``strategies.<module>:<Class>``."""

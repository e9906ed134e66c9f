"""The topology document: its models, loading, resolution and canonical hash."""

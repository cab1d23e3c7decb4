"""Route handlers, one module per area (the seed's route groups)."""

"""Pure signal transforms over arrays shaped (..., leads, samples)."""

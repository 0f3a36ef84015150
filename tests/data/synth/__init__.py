"""Tests of the synthetic corpus (data/synth)."""

"""Protein and peptide screening: input parsing, recurrent models, training recipes."""

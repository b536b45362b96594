"""Medical imaging: scan readers, preprocessing, CNN classifiers."""

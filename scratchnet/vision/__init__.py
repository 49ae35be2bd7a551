"""Pictures: reading photos of digits, MNIST framing, augmentation, and drawing non-digits."""

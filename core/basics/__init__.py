"""The course's foundations: optimizers, activations, a playground network, convolutions."""

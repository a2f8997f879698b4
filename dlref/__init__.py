"""dlref: the trusted numpy reference for the course's exercises (validated against TensorFlow)."""

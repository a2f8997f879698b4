import numpy as np

EPSILON = 1 / 0  # fails while being imported

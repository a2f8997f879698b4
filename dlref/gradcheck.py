"""Central-difference numerical gradients and relative error, in float64.

One implementation serves the reference's tests and the students' public checks, so it
lives in `autograder.suites.numgrad` (which ships in the student bundle); dlref re-exports it.
"""
from autograder.suites.numgrad import numerical_grad, numerical_vjp, rel_error

__all__ = ["numerical_grad", "numerical_vjp", "rel_error"]

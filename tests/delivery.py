"""Events on the spine are delivered after commit; a test's own transaction never commits.

``committed()`` runs its block as if the block's transaction committed: the after-commit and background
subscribers of what it published run when the block ends, as they would in the server.
"""

from django.test import TestCase


def committed():
    return TestCase.captureOnCommitCallbacks(execute=True)

"""flask-entra benchmarks: ``python -m benchmarks`` (``make bench``) runs them all and rewrites RESULTS.md."""

"""Helpers shared by the tests (tests/), the benchmark (bench/) and scripts/relock.py: the
toolchain the generated projects run with, template snapshots under git, throwaway PostgreSQL
databases, and HTTP and Redis over the standard library. Nothing here depends on pytest: what
only the tests need (fixtures, failing a test) stays in tests/."""

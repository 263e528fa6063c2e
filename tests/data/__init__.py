"""Tests of tlcourse.data: a package, so that its conftest.py does not clash with those of other test folders."""

"""Tests of the methods: how candidates are made, searched and proven."""

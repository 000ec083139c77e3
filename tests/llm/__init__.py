"""Tests of the language-model generators against stand-in servers on 127.0.0.1."""

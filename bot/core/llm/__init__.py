"""Language-model clients: one narrow client per provider, a budget, a prompt cache.

Methods build prompts and parse replies; everything that talks to a model lives here.
"""

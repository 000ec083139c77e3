import random

import pytest

VOCABULARY = (
    "the of and to in is it that for on with as was at by an be this which from or had not "
    "but what all were when we there can one your their said if do will each about how up out "
    "them then she many some so these would other into has more her two like him see time could "
    "no make than first been its who now people my made over did down only way find use may "
    "water long little very after words called just where most know river mountain harbour "
    "lantern orchard whisper granite meadow compass tangerine velvet thunder archive glacier "
    "saffron pendulum labyrinth kaleidoscope ember quartz mosaic nocturne zephyr"
).split()


@pytest.fixture(scope="session")
def corpus() -> str:
    """A deterministic document of about 6,000 words, written like running text."""
    rng = random.Random(7)
    sentences = []
    for _ in range(600):
        words = rng.choices(VOCABULARY, k=rng.randint(6, 14))
        sentences.append(" ".join(words).capitalize() + ".")
    return " ".join(sentences)

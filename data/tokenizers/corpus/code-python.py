import math
from collections import defaultdict


class Counter:
    """Counts words; doesn't care about case."""

    def __init__(self, words=None):
        self.counts = defaultdict(int)
        for w in words or []:
            self.add(w)

    def add(self, word: str) -> None:
        self.counts[word.lower()] += 1

    def top(self, k=3):
        items = sorted(self.counts.items(), key=lambda kv: (-kv[1], kv[0]))
        return items[:k]


if __name__ == "__main__":
    c = Counter("the cat and the hat and THE bat".split())
    print(c.top())          # [('the', 3), ('and', 2), ('bat', 1)]
    print(f"{math.pi:.5f} {2**64 - 1:,} {1e-9!r}")
    data = {'a': [1, 2, 3], "b": {"c": None}}
    assert data['b']["c"] is None, 'oops'
	# a tab-indented comment
        # eight spaces, then trailing spaces   

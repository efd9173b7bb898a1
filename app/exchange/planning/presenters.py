"""Presenters: the same person on two proposals is one presenter, who cannot be in two rooms at
once."""

from app.exchange.models import Contribution
from app.formatting import folded


def presenter_key(name: str) -> str:
    """A name as compared: case, accents, apostrophes and spaces do not matter."""
    return " ".join(folded(name.replace("’", "'")).split())


class Presenters:
    """Who presents what: each presenter name becomes an identity, and two contributions sent
    from the same e-mail address share the identity of their first presenter (the contact), so
    "Marie Dupont" and "marie  DUPONT" — or "M. Dupont" writing from the same address — are one
    person who cannot be in two rooms at once."""

    def __init__(self, contributions):
        self._parent: dict[str, str] = {}
        self._names: dict[int, list[tuple[str, str]]] = {}  # id -> [(display name, node)]
        for contribution in contributions:
            names = contribution.presenter_names
            nodes = [f"nom:{presenter_key(name)}" for name in names]
            email = f"courriel:{contribution.email.strip().lower()}"
            self._find(email)
            if nodes:
                self._union(nodes[0], email)
            else:
                names, nodes = [contribution.email], [email]
            self._names[contribution.id] = list(zip(names, nodes, strict=True))

    def _find(self, node: str) -> str:
        parent = self._parent.setdefault(node, node)
        if parent != node:
            parent = self._parent[node] = self._find(parent)
        return parent

    def _union(self, a: str, b: str) -> None:
        root_a, root_b = self._find(a), self._find(b)
        if root_a != root_b:  # the smaller root wins: the same input, the same identities
            low, high = sorted((root_a, root_b))
            self._parent[high] = low

    def of(self, contribution_id: int) -> frozenset[str]:
        return frozenset(self._find(node) for _, node in self._names.get(contribution_id, ()))

    def shared(self, first: Contribution, second: Contribution) -> list[str]:
        """The names, as `first` writes them, of the presenters `first` and `second` share."""
        common = self.of(first.id) & self.of(second.id)
        names = [
            " ".join(name.split())
            for name, node in self._names[first.id]
            if self._find(node) in common
        ]
        return names or [first.presenter_names[0] if first.presenter_names else first.email]

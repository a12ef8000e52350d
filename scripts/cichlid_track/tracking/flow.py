"""Step 3: pieces linked into one chain per fish by min-cost flow (a piece may stay out)."""

from __future__ import annotations

from .appearance import piece_means, similarities
from .link_model import LinkModel
from .motion import end_state, extrapolation_error


COVER_REWARD = 2.0  # log-likelihood units per frame a track holds
ENTRY_COST = 6.0  # for a track that starts after the first or ends before the last piece
MAX_LINK_GAP = 60  # frames: pieces farther apart in time are not linked directly


def make_link_cost(model: LinkModel, cues: dict):
    means = piece_means(cues)

    def cost(first, second):
        gap = int(second.start - first.end)
        llr = model.motion(extrapolation_error(*end_state(first, tail=True), *end_state(second, tail=False), gap), gap)
        llr += model.appearance(similarities(means, first, second), min(len(first), len(second)))
        return -llr

    return cost


def link_pieces(pieces: list, cost, n_tracks: int, first: int, last: int, max_gap: int = MAX_LINK_GAP,
                cover_reward: float = COVER_REWARD, entry_cost: float = ENTRY_COST) -> list[list]:
    """Up to ``n_tracks`` chains of pieces (each in time order) by min-cost flow; pieces may stay out.

    A chain holding a piece gains ``cover_reward`` per frame; a chain starting after ``first`` or
    ending before ``last`` pays ``entry_cost``; linking i to j costs ``cost(i, j)``.
    """
    import networkx as nx

    scale = 100  # network simplex wants integer costs
    G = nx.DiGraph()
    G.add_node("source", demand=-n_tracks)
    G.add_node("sink", demand=n_tracks)
    G.add_edge("source", "sink", capacity=n_tracks, weight=0)  # fewer tracks than fish
    for i, t in enumerate(pieces):
        G.add_edge(("in", i), ("out", i), capacity=1, weight=-round(scale * cover_reward * len(t)))
        G.add_edge("source", ("in", i), capacity=1, weight=round(scale * entry_cost * (t.start > first)))
        G.add_edge(("out", i), "sink", capacity=1, weight=round(scale * entry_cost * (t.end < last)))
    order = sorted(range(len(pieces)), key=lambda i: pieces[i].start)
    for a, i in enumerate(order):
        for j in order[a + 1:]:
            gap = pieces[j].start - pieces[i].end
            if pieces[j].start > pieces[i].end + max_gap:
                break
            if gap > 0:
                G.add_edge(("out", i), ("in", j), capacity=1, weight=round(scale * cost(pieces[i], pieces[j])))
    flow = nx.network_simplex(G)[1]
    chains = []
    for start, f in flow["source"].items():
        if start == "sink" or not f:
            continue
        chain, node = [], start
        while node != "sink":
            chain.append(pieces[node[1]])
            node = next(n for n, f in flow[("out", node[1])].items() if f)
        chains.append(chain)
    return chains

"""A JSON-heavy workload for the real-program tests: build nested documents
from a seeded generator, serialise, parse, transform and re-serialise them.
The output (digests and aggregates) is deterministic, so a run on any
allocator must print exactly the same text."""
import hashlib
import json
import random
import sys


def make_doc(rng, i):
    return {
        "id": i,
        "name": "item-%06d-%s" % (i, "".join(rng.choice("abcdefghij") for _ in range(rng.randint(3, 40)))),
        "tags": [rng.choice(["red", "green", "blue", "x" * rng.randint(1, 300)]) for _ in range(rng.randint(0, 12))],
        "score": round(rng.random() * 1000, 6),
        "nested": {
            "depth": [{"k": j, "v": [rng.randint(0, 10**6) for _ in range(rng.randint(0, 20))]}
                      for j in range(rng.randint(0, 6))],
            "blob": "".join(chr(0x41 + rng.randint(0, 25)) for _ in range(rng.randint(0, 3000))),
        },
        "flags": {"on": rng.random() < 0.5, "none": None},
    }


def main(n_docs=1200, rounds=5):
    rng = random.Random(20240607)
    docs = [make_doc(rng, i) for i in range(n_docs)]
    digest = hashlib.sha256()
    total_len = 0
    for r in range(rounds):
        text = json.dumps(docs, sort_keys=(r % 2 == 0), separators=(",", ":") if r % 3 else None)
        total_len += len(text)
        digest.update(text.encode())
        docs = json.loads(text)
        # transform: grow some documents, drop others, reorder
        for d in docs:
            d["round"] = r
            d["tags"] = sorted(set(d["tags"]))
            if d["id"] % 7 == r % 7:
                d["nested"]["blob"] = d["nested"]["blob"][::-1] * 2
        docs = [d for d in docs if d["id"] % 11 != r] + [make_doc(rng, n_docs + r * 100 + k) for k in range(50)]
        docs.sort(key=lambda d: (d["score"], d["id"]))
        print("round %d: docs=%d text=%d sha=%s" % (r, len(docs), len(text), hashlib.sha256(text.encode()).hexdigest()[:16]))
    scores = sum(d["score"] for d in docs)
    print("total_len=%d digest=%s score_sum=%.6f" % (total_len, digest.hexdigest(), scores))
    return 0


if __name__ == "__main__":
    sys.exit(main(*[int(a) for a in sys.argv[1:]]))

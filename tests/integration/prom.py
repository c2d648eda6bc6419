"""Prometheus text exposition, read the way Prometheus reads it: Debian's
python3-prometheus-client parser, plus the grouping rule that parser forgives (each
family once: HELP, TYPE, then all its samples, never split). parse() raises
AssertionError naming the first family that breaks a rule and returns
{(sample name, frozenset(labels.items())): value}."""
from prometheus_client.parser import text_string_to_metric_families

SUFFIXES = {"counter": ("", "_total", "_created"), "gauge": ("",), "histogram": ("_bucket", "_sum", "_count", "_created"),
            "summary": ("", "_sum", "_count", "_created"), "untyped": ("",)}


def family_of(sample, fam, kind):
    return any(sample == fam + s for s in SUFFIXES.get(kind, ("",)))


def check_grouping(text):
    current, kind, done = None, None, set()
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            parts = line.split(" ", 3)
            name = parts[2]
            if name != current:
                assert name not in done, "line %d: family %s appears a second time" % (n, name)
                if current:
                    done.add(current)
                current, kind = name, None
            if parts[1] == "TYPE":
                assert kind is None, "line %d: a second TYPE for %s" % (n, name)
                kind = parts[3].strip()
            continue
        if line.startswith("#"):
            continue
        sample = line.split("{")[0].split(" ")[0]
        assert current and kind, "line %d: sample %s before its family's HELP and TYPE" % (n, sample)
        assert family_of(sample, current, kind), \
            "line %d: sample %s inside family %s (%s): families interleave" % (n, sample, current, kind)


def parse(text):
    check_grouping(text)
    out, seen = {}, set()
    for fam in text_string_to_metric_families(text):
        assert fam.name not in seen, "family %s parsed twice" % fam.name
        seen.add(fam.name)
        assert fam.type != "unknown", "family %s read as untyped" % fam.name
        for s in fam.samples:
            key = (s.name, frozenset(s.labels.items()))
            assert key not in out, "sample %s%s twice" % (s.name, s.labels)
            out[key] = s.value
    return out


def value(samples, name, **labels):
    """The one sample of that name whose labels include the given ones."""
    got = [v for (n, ls), v in samples.items() if n == name and set(labels.items()) <= ls]
    if len(got) != 1:
        raise KeyError("%s%s: %d samples" % (name, labels, len(got)))
    return got[0]

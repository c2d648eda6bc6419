"""Kubernetes objects checked against the Kubernetes API schema, offline: the models of
Debian's python3-kubernetes are generated from the API's OpenAPI document (field names,
types, required fields), so every field of an object is looked up in its model, its value
checked against the model's type, and the object built by the client's own deserializer,
which refuses missing required fields. problems(obj) lists what is wrong, each naming the
field path; an unknown apiVersion/kind is itself a problem unless it is in CUSTOM (a
custom resource, whose schema is its CRD's, not the API's)."""
import datetime
import re

import kubernetes.client
from kubernetes.client import models

# custom resources the manifests use -> why they are not checked here
CUSTOM = {
    ("nfd.k8s-sigs.io/v1alpha1", "NodeFeatureRule"):
        "node-feature-discovery's CRD; tests/integration/manifests.py checks the rule itself",
}
# fields whose values are resource.Quantity (a string or a number in the API)
QUANTITIES = {"V1ResourceRequirements": {"limits", "requests"}}
PRIMITIVE = {"str": str, "int": int, "bool": bool, "float": (int, float)}


def model_name(api_version, kind):
    """V1Deployment for apps/v1 Deployment, if the API serves that kind in that group:
    the client's API class for the group (AppsV1Api) has a create method for it."""
    group, _, version = api_version.rpartition("/")
    name = version[:1].upper() + version[1:] + kind
    cls = getattr(models, name, None)
    if cls is None or not hasattr(cls, "openapi_types"):
        return None
    words = group.replace(".k8s.io", "").split(".") if group else ["core"]
    api = getattr(kubernetes.client, "".join(w.capitalize() for w in words) + name[:-len(kind)] + "Api", None)
    snake = re.sub(r"(?<!^)(?=[A-Z])", "_", kind).lower()
    if api is None or not (hasattr(api, "create_namespaced_" + snake) or hasattr(api, "create_" + snake)):
        return None
    return name


def check_value(value, typ, path, found):
    if value is None:
        return
    m = re.fullmatch(r"list\[(.+)\]", typ)
    if m:
        if not isinstance(value, list):
            found.append("%s: a list expected, got %s" % (path, type(value).__name__))
            return
        for i, v in enumerate(value):
            check_value(v, m.group(1), "%s[%d]" % (path, i), found)
        return
    m = re.fullmatch(r"dict\(str, (.+)\)", typ)
    if m:
        if not isinstance(value, dict):
            found.append("%s: a map expected, got %s" % (path, type(value).__name__))
            return
        for k, v in value.items():
            if not isinstance(k, str):
                found.append("%s: key %r is not a string" % (path, k))
            check_value(v, m.group(1), "%s[%s]" % (path, k), found)
        return
    if typ in PRIMITIVE:
        # YAML's booleans are ints to Python: refuse them where a number is meant
        if not isinstance(value, PRIMITIVE[typ]) or (typ != "bool" and isinstance(value, bool)):
            found.append("%s: %s expected, got %r" % (path, typ, value))
        return
    if typ == "object":
        return  # IntOrString, RawExtension: anything the API accepts there
    if typ == "datetime":
        if not isinstance(value, (str, datetime.datetime)):
            found.append("%s: a time expected, got %r" % (path, value))
        return
    cls = getattr(models, typ, None)
    if cls is None:
        found.append("%s: the schema has no type %s" % (path, typ))
        return
    if not isinstance(value, dict):
        found.append("%s: an object (%s) expected, got %r" % (path, typ, value))
        return
    by_json = {j: a for a, j in cls.attribute_map.items()}
    for k, v in value.items():
        if k not in by_json:
            found.append("%s.%s: no such field in %s" % (path, k, typ))
            continue
        sub = cls.openapi_types[by_json[k]]
        if typ in QUANTITIES and k in QUANTITIES[typ] and isinstance(v, dict):
            # a resource.Quantity: the client's models say str, the API takes numbers too
            for q, n in v.items():
                if isinstance(n, bool) or not isinstance(n, (str, int, float)):
                    found.append("%s.%s[%s]: a quantity expected, got %r" % (path, k, q, n))
            continue
        check_value(v, sub, "%s.%s" % (path, k), found)


def problems(obj):
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    what = "%s %s/%s" % (api_version, kind, obj.get("metadata", {}).get("name"))
    if (api_version, kind) in CUSTOM:
        return []
    if not isinstance(api_version, str) or not isinstance(kind, str):
        return ["%s: apiVersion and kind are required" % what]
    name = model_name(api_version, kind)
    if name is None:
        return ["%s: no such kind in the Kubernetes API schema" % what]
    found = []
    check_value(obj, name, kind, found)
    if not found:
        try:
            kubernetes.client.ApiClient()._ApiClient__deserialize(obj, name)
        except (ValueError, TypeError) as e:
            found.append("%s: %s" % (what, e))
    return found

# Run by the language host (packages.go) in the program's Python: for each installed distribution that ships
# <module>/pulumi-plugin.json, print that file's content plus the distribution's name and version, one JSON
# object a line.
import importlib.metadata as md
import json

for d in md.distributions():
    for f in d.files or ():
        if f.name == "pulumi-plugin.json" and len(f.parts) == 2:
            try:
                p = json.loads(f.read_text() or "{}")
            except Exception:
                continue
            p["dist"], p["dist_version"] = d.metadata["Name"], d.version
            print(json.dumps(p))

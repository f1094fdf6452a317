# Run by the language host (packages.go) in the program's Python: for each installed distribution that ships
# <module>/pulumi-plugin.json, print that file's content plus the distribution's name and version, one JSON
# object a line. A distribution whose RECORD does not name the file is passed over unparsed (reading every
# distribution's file list cost 0.3 CPU-s on each stack operation; this 0.05).
import importlib.metadata as md
import json

for d in md.distributions():
    if "pulumi-plugin.json" not in (d.read_text("RECORD") or d.read_text("SOURCES.txt") or "pulumi-plugin.json"):
        continue
    for f in d.files or ():
        if f.name == "pulumi-plugin.json" and len(f.parts) == 2:
            try:
                p = json.loads(f.read_text() or "{}")
            except Exception:
                continue
            p["dist"], p["dist_version"] = d.metadata["Name"], d.version
            print(json.dumps(p))

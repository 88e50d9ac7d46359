#!/usr/bin/env python3
"""The release metadata agree with each other and with the extension.

META.json is a valid PGXN distribution description (meta-spec 1.0.0) and
names the version in baseledger.control; so do debian/changelog, CHANGELOG.md,
the Node.js client's package.json and the image tag in docker/compose.yaml;
every version that has a script in sql/ has a CHANGELOG entry, and every
released version (test/upgrade/released.sha256) is dated there, not
'unreleased'. Prints one "ok - ..." / "not ok - ..." line per check and
"N passed, M failed".
"""

import json
import os
import re
import sys

import yaml

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
SEMVER = re.compile(r"^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$")
# PGXN meta-spec 1.0.0, "license".
LICENSES = {
    "agpl_3", "apache_1_1", "apache_2_0", "artistic_1", "artistic_2", "bsd", "freebsd",
    "gfdl_1_2", "gfdl_1_3", "gpl_1", "gpl_2", "gpl_3", "lgpl_2_1", "lgpl_3_0", "mit",
    "mozilla_1_0", "mozilla_1_1", "openssl", "perl_5", "postgresql", "qpl_1_0", "ssleay",
    "sun", "zlib", "open_source", "restricted", "unrestricted", "unknown",
}
STATUS = {"stable", "testing", "unstable"}
PHASES = {"configure", "build", "test", "runtime", "develop"}
RELATIONS = {"requires", "recommends", "suggests", "conflicts"}

passed = failed = 0


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print("ok - " + name)
    else:
        failed += 1
        print("not ok - " + name + ("\n    " + str(detail) if detail else ""))


def read(path):
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        return f.read()


control = read("baseledger.control")
version = re.search(r"^default_version\s*=\s*'([^']+)'", control, re.M).group(1)
print("# default_version %s" % version)

# ---- META.json
try:
    meta = json.loads(read("META.json"))
except (OSError, ValueError) as e:
    check("META.json is valid JSON", False, e)
    meta = {}
else:
    check("META.json is valid JSON", True)

missing = [k for k in ("name", "abstract", "maintainer", "license", "provides", "version",
                       "meta-spec") if k not in meta]
check("META.json has every required key", not missing, "missing: %s" % missing)
check("META.json meta-spec is 1.0.0", meta.get("meta-spec", {}).get("version") == "1.0.0",
      meta.get("meta-spec"))
check("META.json name is baseledger", meta.get("name") == "baseledger", meta.get("name"))
check("META.json version is default_version", meta.get("version") == version, meta.get("version"))
check("META.json version is semantic", bool(SEMVER.match(str(meta.get("version")))))
lic = meta.get("license")
check("META.json license is a meta-spec value or a {name: url} map",
      lic in LICENSES or (isinstance(lic, dict) and lic) or
      (isinstance(lic, list) and all(x in LICENSES for x in lic)), lic)
maint = meta.get("maintainer")
check("META.json maintainer is a string or a list of them",
      isinstance(maint, str) or (isinstance(maint, list) and maint and
                                 all(isinstance(m, str) for m in maint)), maint)
check("META.json release_status is stable, testing or unstable",
      meta.get("release_status", "stable") in STATUS, meta.get("release_status"))
provides = meta.get("provides", {})
check("META.json provides the extension baseledger", "baseledger" in provides, list(provides))
for ext, p in provides.items():
    check("META.json provides %s: file %s exists" % (ext, p.get("file")),
          bool(p.get("file")) and os.path.exists(os.path.join(ROOT, p["file"])))
    if p.get("docfile"):
        check("META.json provides %s: docfile %s exists" % (ext, p["docfile"]),
              os.path.exists(os.path.join(ROOT, p["docfile"])))
    check("META.json provides %s: version %s is semantic" % (ext, p.get("version")),
          bool(SEMVER.match(str(p.get("version")))))
check("META.json provides baseledger at default_version",
      provides.get("baseledger", {}).get("version") == version)
bad = [(ph, rel) for ph, rels in meta.get("prereqs", {}).items() for rel in rels
       if ph not in PHASES or rel not in RELATIONS]
check("META.json prereqs use the spec's phases and relations", not bad, bad)

# ---- the other places that name the version
deb = read("debian/changelog").splitlines()[0]
m = re.match(r"^baseledger \(([^)]+)\) ", deb)
check("debian/changelog's top entry is default_version (native package)",
      bool(m) and m.group(1) == version, deb)
changelog = read("CHANGELOG.md")
entries = dict(re.findall(r"^## \[([^\]]+)\](.*)$", changelog, re.M))
check("CHANGELOG.md has an entry for default_version", version in entries, list(entries))
pkg = json.loads(read("clients/node/package.json"))
check("clients/node/package.json has default_version", pkg.get("version") == version,
      pkg.get("version"))
compose = yaml.safe_load(read("docker/compose.yaml"))
images = [s.get("image") for s in compose.get("services", {}).values()]
check("docker/compose.yaml tags the image baseledger:%s" % version,
      images == ["baseledger:%s" % version], images)

# ---- every version has its entry; released ones are dated
versions = set()
for name in os.listdir(os.path.join(ROOT, "sql")):
    m = re.match(r"^baseledger--(?:[0-9.]+--)?([0-9.]+)\.sql$", name)
    if m:
        versions.add(m.group(1))
missing = sorted(versions - set(entries))
check("CHANGELOG.md has an entry for every version with a script", not missing, missing)
released = re.findall(r"^[0-9a-f]{64} +sql/baseledger--([0-9.]+)\.sql$",
                      read("test/upgrade/released.sha256"), re.M)
undated = [v for v in released if "unreleased" in entries.get(v, "unreleased").lower()]
check("released versions are not marked unreleased in CHANGELOG.md", not undated, undated)
check("default_version %s is released or newer than every release" % version,
      all(tuple(map(int, v.split("."))) <= tuple(map(int, version.split("."))) for v in released),
      released)

print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)

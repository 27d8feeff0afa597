"""The pieces of tools/package.py, the stand-in for `dify plugin package` (a Go binary we cannot install).

Rules are ported from the daemon source (langgenius/dify-plugin-daemon, read at bdb5642a) and go-git v5.19.2,
the version the daemon's go.mod pins; each module cites the files its rules come from.

- go_ignore: .difyignore patterns with go-git semantics, and the list of files that get packaged.
- declaration_checks: the problem report and the generic field, file and icon checks.
- manifest_rules, provider_rules: the rules for manifest.yaml and for provider and model YAML.
- validation: runs every rule over a plugin directory.
- archive: checksum, unique identifier, size limit and the deterministic zip.
- build: validate, plan and write a .difypkg.
"""

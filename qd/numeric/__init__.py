"""The numeric run kind: batched ask → evaluate → tell over pyribs archives and emitters.

`build` assembles the components from a spec, `engine` runs the loop, `recorder` and
`checkpoint` persist it, `restore` continues a stored run (see docs/architecture.md).
"""

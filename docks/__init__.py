"""Finding, identifying and reading cameras: safe listing of a camera's files, vendor
file-name parsing. Knows nothing of the catalog (DESIGN.md, "Packages")."""

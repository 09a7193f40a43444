#!/bin/sh
# gitdatax-hook @HOOK@: written by `git datax install`; `git datax uninstall` removes it and puts
# back the hook it found here (kept meanwhile as @HOOK@.pre-datax, and still run first).
if ! command -v git-datax >/dev/null 2>&1; then
    echo "gitdatax: git-datax is not on your PATH, so the @HOOK@ hook cannot run." >&2
    echo "gitdatax: install it (./install.sh), or delete '$0' to stop using gitdatax here." >&2
    exit @MISSING_EXIT@
fi
exec git-datax hook @HOOK@ "$@"

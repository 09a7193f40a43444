#!/bin/sh
# gitdatax-hook @HOOK@ (server side): written by `git datax install --server`; it refuses pushes
# whose data is not in the server's store. `git datax uninstall --server` removes it and puts back
# the hook it found here (kept meanwhile as @HOOK@.pre-datax, and still run first).
# The git-datax that installed this hook, when it is still there: a version manager's shim in
# front of it (pyenv's costs ~80 ms a start) would otherwise run on every commit and checkout.
datax=@GIT_DATAX@
[ -x "$datax" ] || datax=git-datax
if ! command -v "$datax" >/dev/null 2>&1; then
    echo "gitdatax: git-datax is not on the server's PATH, so the @HOOK@ hook cannot check this push." >&2
    echo "gitdatax: install it on the server, or run \`git datax uninstall --server\` (or delete '$0')." >&2
    exit @MISSING_EXIT@
fi
exec "$datax" hook @HOOK@ "$@"

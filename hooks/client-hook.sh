#!/bin/sh
# gitdatax-hook @HOOK@: written by `git datax install`; `git datax uninstall` removes it and puts
# back the hook it found here (kept meanwhile as @HOOK@.pre-datax, and still run first).
# The git-datax that installed this hook, when it is still there: a version manager's shim in
# front of it (pyenv's costs ~80 ms a start) would otherwise run on every commit and checkout.
datax=@GIT_DATAX@
[ -x "$datax" ] || datax=git-datax
if ! command -v "$datax" >/dev/null 2>&1; then
    echo "gitdatax: git-datax is not on your PATH, so the @HOOK@ hook cannot run." >&2
    echo "gitdatax: install it (./install.sh), or delete '$0' to stop using gitdatax here." >&2
    exit @MISSING_EXIT@
fi
# A repository where gitdatax was never installed nor stored anything (no <git dir>/datax) and
# whose top .gitattributes routes nothing through it tracks no data: a hook shared by every
# repository (a global core.hooksPath) does nothing there and starts no Python; a hook of yours
# that this one replaced still runs, by itself.
if common=$(git rev-parse --git-common-dir 2>/dev/null) && [ ! -d "$common/datax" ] &&
    ! grep -qs 'filter=datax' "$(git rev-parse --show-toplevel 2>/dev/null)/.gitattributes" "$common/info/attributes"; then
    [ -e "$0.pre-datax" ] && exec "$0.pre-datax" "$@"
    exit 0
fi
case "@HOOK@" in post-checkout|post-merge|post-rewrite)
    # Fast path (they run on every checkout): nothing to fill in unless the filter left a stub
    # behind (its pending-stubs mark), and no hook of yours to chain: then no Python at all.
    # The mark is per work tree: a linked worktree's is in its own git dir.
    if [ ! -e "$0.pre-datax" ] && dir=$(git rev-parse --git-dir 2>/dev/null) &&
        [ ! -e "$dir/datax/pending-stubs" ]; then
        exit 0
    fi ;;
esac
exec "$datax" hook @HOOK@ "$@"

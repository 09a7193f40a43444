"""The commands a DVC or Git LFS user types first that gitdatax has no command for, and what does
that job here (issue 16 item 3). `git datax add` answered only "unknown command"; a newcomer
needs the command that does the job, in the same line."""
from __future__ import annotations

TRACK_THEN_ADD = "`git datax track 'PATTERN'` says which files are data (once), then plain `git add PATH` stores them"

# verb -> what to run instead. Verbs that exist here (track, push, pull, status, ...) are not listed.
HINTS: dict[str, str] = {
    "add": TRACK_THEN_ADD,
    "init": "`git datax install` (once per machine, and in each repository for its hooks); "
            "then `git datax track 'PATTERN'` for the data files",
    "commit": "plain `git add PATH` and `git commit`: the filter stores the data as git adds it",
    "run": "`git datax stage add -n NAME -d DEP -o OUT CMD`, then `git datax repro`",
    "exp": "branches and `git datax metrics diff` / `git datax plots diff` compare iterations",
    "diff": "`git diff` (stubs show oid and size changes) or `git datax status`",
    "ls": "`git datax list REPO` for another repository, `git datax ls-files` for this one",
    "move": "plain `git mv SRC DST` (and `git datax track` for the new path if no pattern matches it)",
    "mv": "plain `git mv SRC DST` (and `git datax track` for the new path if no pattern matches it)",
    "remove": "plain `git rm PATH` (and `git datax untrack PATTERN` to stop tracking a pattern)",
    "rm": "plain `git rm PATH` (and `git datax untrack PATTERN` to stop tracking a pattern)",
    "destroy": "`git datax untrack PATTERN...`, `git add --renormalize .`, then `git datax uninstall --local`",
    "unprotect": "nothing: work tree files are plain files you can edit",
    "cache": "`git datax env` shows the local store, `git datax gc` frees it",
    "config": "`git datax remote add` for remotes, `git config datax.KEY VALUE` or .datax.toml for settings",
    "doctor": "`git datax env`",
    "version": "`git datax --version` (and `git datax env` for everything else)",
    "root": "`git rev-parse --show-toplevel`",
    "prune": "`git datax gc` (keeps what is not safely on the remote)",
    "lock": "nothing: gitdatax has no file locks; its merge driver keeps your copy on a conflict",
    "unlock": "nothing: gitdatax has no file locks",
    "locks": "nothing: gitdatax has no file locks",
    "pointer": "`git datax ls-files --long` shows each file's oid and size (the stub format is in README)",
    "logs": "the internal-error logs are in .git/datax/logs/",
    "clone": "plain `git clone URL` (after `git datax install` once on this machine)",
    "help": "`git datax --help`, or `git datax COMMAND --help`",
}


def add_with_paths(argv: list[str]) -> str | None:
    """`git datax add models/ data/train.csv` (dvc add's habit): the exact commands for those
    paths, a folder as every file under it. None for anything else (argparse answers it)."""
    import os
    import shlex

    if len(argv) < 2 or argv[0] != "add" or any(a.startswith("-") for a in argv[1:]):
        return None
    patterns = [f"{p.rstrip('/')}/**" if os.path.isdir(p) else p for p in argv[1:]]
    return (f"`git datax add` does not exist: run `git datax track {' '.join(shlex.quote(p) for p in patterns)}`, "
            f"then `git add .gitattributes {' '.join(shlex.quote(p) for p in argv[1:])}`")


def hint_for(verb: str, existing: set[str]) -> str | None:
    """What to run instead of `verb`, or None when it is a command here or not a known verb."""
    if verb in existing:
        return None
    hint = HINTS.get(verb)
    return f"`git datax {verb}` does not exist: {hint}" if hint else None

#!/usr/bin/env bash
# Install gitdatax on a machine with Python 3 (>= 3.9) and Git, put `git-datax` on the PATH git
# uses, and register the filter (`git datax install --global`).
#   ./install.sh          install for use
#   ./install.sh --dev    editable install with the test dependencies (and, as root, the Debian
#                         packages the tests start: git-lfs, openssh-server and chromium)
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3}
mode=${1:-user}

say() { printf 'install.sh: %s\n' "$*" >&2; }

if [ "$mode" = "--dev" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        missing=""
        command -v git-lfs >/dev/null || missing="$missing git-lfs"
        [ -x /usr/sbin/sshd ] || missing="$missing openssh-server"
        # tests/test_plots_report.py renders the HTML report in headless Chromium.
        command -v chromium >/dev/null || missing="$missing chromium"
        if [ -n "$missing" ]; then
            say "installing Debian packages:$missing"
            export DEBIAN_FRONTEND=noninteractive
            apt-get update -qq >/dev/null
            apt-get install -y -qq $missing >/dev/null
        fi
    fi
    say "installing gitdatax (editable) with its test dependencies"
    # -c: the versions the suite was proven with (tests/constraints.txt), not the newest of the day
    "$PY" -m pip install -q --disable-pip-version-check -e ".[test]" -r tests/requirements.txt \
        -c tests/constraints.txt
    # Azurite, Azure Storage's emulator, for tests/test_sync_fsspec.py (tests/fsspec_servers.py
    # looks here). 3.35 is the last release that runs on Node 20 (Debian's nodejs).
    azurite_dir=/opt/gitdatax-tests/azurite
    [ "$(id -u)" = 0 ] || azurite_dir="${XDG_CACHE_HOME:-$HOME/.cache}/gitdatax-tests/azurite"
    if [ ! -x "$azurite_dir/node_modules/.bin/azurite-blob" ]; then
        if ! command -v npm >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
            say "installing Debian packages: nodejs npm"
            export DEBIAN_FRONTEND=noninteractive
            apt-get update -qq >/dev/null
            apt-get install -y -qq nodejs npm >/dev/null
        fi
        say "installing azurite 3.35.0 with npm into $azurite_dir"
        mkdir -p "$azurite_dir"
        npm install --prefix "$azurite_dir" --no-audit --no-fund --silent azurite@3.35.0 >/dev/null
    fi
elif ! "$PY" -m pip install -q --disable-pip-version-check --upgrade ".[s3]" 2>/tmp/gitdatax-pip.$$; then
    # An externally managed Python (PEP 668) or no write access: use a private virtualenv.
    venv="${XDG_DATA_HOME:-$HOME/.local/share}/gitdatax/venv"
    say "system pip refused ($(tail -n 1 /tmp/gitdatax-pip.$$)); using a virtualenv in $venv"
    "$PY" -m venv "$venv"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check --upgrade ".[s3]"
    mkdir -p "$HOME/.local/bin"
    ln -sf "$venv/bin/git-datax" "$HOME/.local/bin/git-datax"
    case ":$PATH:" in
        *":$HOME/.local/bin:"*) ;;
        *) export PATH="$HOME/.local/bin:$PATH"
           say "add $HOME/.local/bin to your PATH (e.g. in ~/.profile) so git finds git-datax" ;;
    esac
fi
rm -f /tmp/gitdatax-pip.$$
hash -r
if ! command -v git-datax >/dev/null; then
    say "git-datax was installed but is not on PATH; add pip's script directory to PATH"
    exit 1
fi
git-datax install --global --skip-hooks  # config only: this source tree needs no hooks
say "done: $(git-datax --version) at $(command -v git-datax)"

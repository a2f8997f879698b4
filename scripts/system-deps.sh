#!/usr/bin/env bash
# Installs the Debian packages the project uses (bwrap sandbox, Fashion-MNIST files, Chromium for the
# report screenshots and their browser test) when root; else says what to install.
set -u
missing=()
command -v bwrap >/dev/null 2>&1 || missing+=(bubblewrap)
[ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || missing+=(dataset-fashion-mnist)
command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || missing+=(chromium)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "system-deps: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null \
        || echo "system-deps: apt-get failed; install ${missing[*]} yourself" >&2
else
    echo "system-deps: not root; please install: ${missing[*]} (sudo apt-get install ${missing[*]})" >&2
fi
exit 0

#!/usr/bin/env bash
# scripts/pulumi.sh: run the Pulumi CLI for this checkout, offline (`npm run pulumi -- preview`).
#
# - the CLI and plugins come from scripts/ensure-pulumi.sh (an installed pulumi 3.248+ or a cached
#   build from Go modules);
# - PULUMI_HOME defaults to a folder in the lvs-dr cache, so nothing is written to ~/.pulumi unless
#   you set PULUMI_HOME yourself;
# - PULUMI_BACKEND_URL defaults to file://<checkout>/.pulumi-state (a local state folder);
# - for this checkout's own example stacks (dev, lab) PULUMI_CONFIG_PASSPHRASE defaults to the public
#   "lvs-dr-local"; any other stack needs PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE
#   (its secrets, such as an SSH private key, must not be encrypted with a published passphrase);
# - an SSH_AUTH_SOCK that no agent answers is unset for the run (pulumi-command would fail every
#   connection trying to reach it);
# - resource plugins of that bin directory are installed into $PULUMI_HOME/plugins;
# - no update checks, no plugin downloads, no plugins taken from $PATH.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
cache="${LVS_DR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lvs-dr}"

bin=$("$here/ensure-pulumi.sh")
export PATH="$bin:$PATH"

export PULUMI_HOME="${PULUMI_HOME:-$cache/pulumi-home}"
mkdir -p "$PULUMI_HOME"

# Resource plugins go into $PULUMI_HOME/plugins (the CLI only looks beside itself for its bundled
# plugins: language hosts and the dynamic provider shim). Reinstall when the binary changed.
install_plugin() { # NAME VERSION
	local src="$bin/pulumi-resource-$1" dst="$PULUMI_HOME/plugins/resource-$1-v$2/pulumi-resource-$1"
	[[ -x $src ]] || return 0
	if ! cmp -s "$src" "$dst"; then
		"$bin/pulumi" plugin install resource "$1" "$2" --reinstall --file "$src" >&2
	fi
}
install_plugin command 1.2.1
install_plugin random 4.21.1

own_backend=no
if [[ -z ${PULUMI_BACKEND_URL:-} ]]; then
	mkdir -p "$repo/.pulumi-state"
	export PULUMI_BACKEND_URL="file://$repo/.pulumi-state"
	own_backend=yes
fi

# The stack a command works on: --stack/-s, else the one selected in this checkout (if any).
stack="" prev=""
for arg in "$@"; do
	case $prev in --stack | -s) stack=$arg ;; esac
	case $arg in --stack=*) stack=${arg#--stack=} ;; esac
	prev=$arg
done
# `stack select|init|rm [flags] NAME` names it without --stack.
if [[ -z $stack && ${1:-} == stack && ${2:-} =~ ^(select|init|rm|change-secrets-provider)$ ]]; then
	for arg in "${@:3}"; do
		case $arg in -*) ;; *) stack=$arg && break ;; esac
	done
fi
if [[ -z $stack && ${1:-} =~ ^(preview|up|refresh|destroy|config|stack)$ ]]; then
	stack=$( (cd "$repo" && pulumi stack --show-name) 2>/dev/null) || stack=""
fi
EXAMPLE_STACKS=(dev lab)
if [[ -z ${PULUMI_CONFIG_PASSPHRASE+set} && -z ${PULUMI_CONFIG_PASSPHRASE_FILE+set} ]]; then
	if [[ " ${EXAMPLE_STACKS[*]} " == *" ${stack##*/} "* ]]; then
		export PULUMI_CONFIG_PASSPHRASE=lvs-dr-local
	elif [[ -n $stack ]]; then
		cat >&2 <<-EOF
			scripts/pulumi.sh: stack "$stack" has no passphrase. The public passphrase lvs-dr-local is only for
			this checkout's example stacks (${EXAMPLE_STACKS[*]}); a stack of your own keeps its SSH private key
			encrypted with a passphrase of yours:
			  export PULUMI_CONFIG_PASSPHRASE_FILE=~/.config/lvs-dr/passphrase   # or PULUMI_CONFIG_PASSPHRASE
		EOF
		exit 1
	fi
fi

if [[ -n ${SSH_AUTH_SOCK:-} ]] && command -v ssh-add >/dev/null 2>&1; then
	rc=0
	ssh-add -l >/dev/null 2>&1 || rc=$?
	if [[ $rc -eq 2 ]]; then
		echo "scripts/pulumi.sh: no SSH agent answers at SSH_AUTH_SOCK=$SSH_AUTH_SOCK: unset for this run" >&2
		unset SSH_AUTH_SOCK
	fi
fi

export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
# Take plugins from $PULUMI_HOME, not from $PATH (which has $bin first, and the CLI warns on every
# run when it uses a plugin found on $PATH).
export PULUMI_IGNORE_AMBIENT_PLUGINS="${PULUMI_IGNORE_AMBIENT_PLUGINS:-true}"

cd "$repo"
# In this checkout's own backend, a stack that has a Pulumi.<stack>.yaml but no state yet is created
# on first use, so `npm run pulumi -- preview --stack dev` works on a fresh clone.
if [[ $own_backend == yes && ${1:-} =~ ^(preview|up|refresh|destroy)$ ]]; then
	if [[ -n $stack && -f "Pulumi.$stack.yaml" ]]; then
		pulumi stack select --create "$stack" >/dev/null
	fi
fi
exec pulumi "$@"

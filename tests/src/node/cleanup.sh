# Removes everything a test node leaves behind; run by the node's reaper when the test
# binary lets go of the node, however it ends. $1: node folder, $2: bridge name.
# Needs no running containerd: the kubelet, control plane and containerd are killed by
# process group, each container by killing its init (a child of a shim), the shims by
# their command line (it names this node's socket), then the container cgroups, the
# mounts (pod volumes, network namespaces, snapshots), the bridge and the folder go.
read -r _
dir=$1
bridge=$2
for group in $(cat "$dir/pgids" 2>/dev/null); do kill -KILL "-$group" 2>/dev/null; done
shims=""
for proc in /proc/[0-9]*; do
  if tr '\0' ' ' <"$proc/cmdline" 2>/dev/null | grep -qF -- "$dir/containerd/"; then
    shims="$shims ${proc#/proc/}"
  fi
done
cgroups=""
for proc in /proc/[0-9]*; do
  parent=$(awk '/^PPid:/ { print $2 }' "$proc/status" 2>/dev/null)
  for shim in $shims; do
    if [ "$parent" = "$shim" ]; then
      cgroups="$cgroups $(awk -F: '$3 != "/" { print $3 }' "$proc/cgroup" 2>/dev/null | sort -u)"
      kill -KILL "${proc#/proc/}" 2>/dev/null
    fi
  done
done
for shim in $shims; do kill -KILL "$shim" 2>/dev/null; done
sleep 1
for path in $(printf '%s\n' $cgroups | sort -u); do
  for hierarchy in /sys/fs/cgroup/*; do rmdir "$hierarchy$path" 2>/dev/null; done
done
awk -v dir="$dir" 'index($2, dir) == 1 { print $2 }' /proc/mounts | sort -r |
  while read -r mount; do umount -l "$mount" 2>/dev/null; done
ip link delete "$bridge" 2>/dev/null
[ -e "$dir/KEEP" ] || rm -rf "$dir"

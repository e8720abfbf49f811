# vm suite: file enforcement by identity, and the bypasses: symlink, hardlinks, bind mount, rename, io_uring, depth.
# File enforcement by identity: trees, exceptions, access kinds, audit, and the bypasses: symlink,
# hardlink (new and pre-existing), bind mount, rename, io_uring, over-deep paths.
# vigil-vm-args: --copy build/guest-tests:/t
. /tests/vm/lib.sh
V=/t/vtest
D=/tests/vm/file-data
ev() {
	n=$1
	shift
	expect_event "$n" '"type":"file"' "$@"
}

# Hard links made outside the scope (where file rules do not apply), far from the tree.
outside ln $D/secret/a.txt /tests/prelinked
outside ln $D/ro.txt /tests/ro-prelinked

expect_eperm "read a file in a denied tree" cat $D/secret/a.txt
ev "event: tree rule" '"verdict":"deny"' '"reason":"rule"' '"access":"read"' '"rule":"secret-tree"' \
	"\"path\":\"$D/secret/a.txt\"" '"errno":1' '"comm":"cat"'
expect_eperm "read a file two levels into a denied tree" cat $D/secret/inner/deep.txt
ev "event: recursive" '"rule":"secret-tree"' "\"path\":\"$D/secret/inner/deep.txt\""
expect_eperm "list a denied directory" ls $D/secret
expect_rc "a more specific allow inside the tree" 0 cat $D/secret/public-in-secret.txt
expect_eperm "but the tree still denies writing it" sh -c "echo x >> $D/secret/public-in-secret.txt"
expect_rc "a file outside every rule" 0 cat $D/plain.txt

ln -s $D/secret/a.txt /tmp/symlink
expect_eperm "symlink to a denied file" cat /tmp/symlink
ev "event: symlink resolves to the file" '"rule":"secret-tree"' "\"path\":\"$D/secret/a.txt\"" '"comm":"cat"'
expect_eperm "new hard link to a file in a denied tree" ln $D/secret/a.txt /tests/hardlink
ev "event: link" '"access":"link"' '"rule":"secret-tree"' '"path":"a.txt"'
expect_eperm "hard link made outside the scope" cat /tests/prelinked
ev "event: other hard link" '"access":"read"' '"rule":"secret-tree"' '"path":"/tests/prelinked"'
expect_rc "reading a write-denied file through its other name" 0 cat /tests/ro-prelinked
expect_eperm "writing a write-denied file through its other name" sh -c 'echo x >> /tests/ro-prelinked'
ev "event: identity of the other name" '"access":"write"' '"rule":"ro-file"' '"path":"/tests/ro-prelinked"'

mkdir -p /mnt/bind
# The platform mounts: the scope may not (bound.sh).
outside mount --bind $D/secret /mnt/bind
expect_eperm "bind mount of a denied tree" cat /mnt/bind/a.txt
ev "event: bind mount" '"rule":"secret-tree"' '"path":"/mnt/bind/a.txt"'
expect_eperm "bind mount, deeper" cat /mnt/bind/inner/deep.txt
outside umount /mnt/bind
# A bind mount of a subdirectory: the rule sits on an ancestor above the mount's root, which
# only the file's real ancestors reach (not the path it was mounted at).
outside mkdir -p /mnt/bind2
outside mount --bind $D/secret/inner /mnt/bind2
expect_eperm "bind mount of a subdirectory of a denied tree" cat /mnt/bind2/deep.txt
ev "event: bind mount of a subdirectory" '"rule":"secret-tree"' '"path":"/mnt/bind2/deep.txt"'
# Created after the policy loaded: identities the load never saw, decided by their ancestors.
outside sh -c "mkdir $D/secret/inner/late && echo late > $D/secret/inner/late/f"
expect_eperm "a directory made in the tree after the load, read directly" cat $D/secret/inner/late/f
expect_eperm "... and through the subdirectory's bind mount" cat /mnt/bind2/late/f
outside umount /mnt/bind2

expect_eperm "io_uring openat of a denied file" $V uring-open $D/secret/a.txt
ev "event: io_uring" '"rule":"secret-tree"' '"comm":"vtest"' "\"path\":\"$D/secret/a.txt\""

expect_eperm "rename a denied file out of its tree" mv $D/secret/a.txt /tests/moved
ev "event: rename" '"access":"rename"' '"rule":"secret-tree"' '"path":"a.txt"'
expect_eperm "rename the denied tree itself" mv $D/secret $D/secret2
expect_rc "rename an ancestor of the tree (allowed)" 0 mv $D /tests/vm/renamed
expect_eperm "the tree keeps its verdict under its new path" cat /tests/vm/renamed/secret/a.txt
ev "event: after rename" '"rule":"secret-tree"' '"path":"/tests/vm/renamed/secret/a.txt"'
mv /tests/vm/renamed $D

expect_rc "read a write-denied file" 0 cat $D/ro.txt
expect_eperm "open a write-denied file for writing" sh -c "echo x >> $D/ro.txt"
ev "event: write" '"access":"write"' '"rule":"ro-file"' "\"path\":\"$D/ro.txt\"" '"comm":"sh"'
expect_eperm "unlink a write-denied file" rm -f $D/ro.txt
ev "event: unlink" '"access":"unlink"' '"rule":"ro-file"' '"path":"ro.txt"'
expect_eperm "replace a write-denied file by rename" sh -c "echo y > /tmp/new && mv /tmp/new $D/ro.txt"

expect_eperm "create in a create-denied directory" touch $D/dropbox/new
ev "event: create" '"access":"create"' '"rule":"dropbox-no-create"'
expect_eperm "mkdir in a create-denied directory" mkdir $D/dropbox/sub
expect_rc "open an existing file there" 0 cat $D/dropbox/.keep

expect_eperm "mmap PROT_EXEC of an exec_map-denied file" $V mmap-exec $D/lib.so
ev "event: exec_map" '"access":"exec_map"' '"rule":"no-exec-map"' "\"path\":\"$D/lib.so\""
expect_rc "read the same file" 0 cat $D/lib.so

expect_rc "audit rule: read allowed" 0 cat $D/audited.txt
ev "event: audit" '"verdict":"audit"' '"rule":"audited-file"' '"errno":0' '"access":"read"'

deep=/tmp/deep
i=0
while [ $i -lt 40 ]; do deep=$deep/d; i=$((i + 1)); done
outside mkdir -p $deep
outside sh -c "echo deep > $deep/f"
expect_eperm "a path deeper than the walk bound fails closed" cat $deep/f
ev "event: too deep" '"reason":"too_deep"' '"verdict":"deny"' '"rule":null'
expect_rc "outside the scope the tree is readable" 0 outside cat $D/secret/a.txt
finish

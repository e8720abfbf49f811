# Guest set-up for the red team suite, run by the platform before vigild starts (vigil-vm --pre):
# a disk file system (ext2 served by ext4.ko, on a loop device) with a denied tree the policy
# names at load, for open_by_handle_at of a file whose dentry was evicted (disconnected).
set -e
for m in loop crc16 crc32c_generic mbcache jbd2 ext4; do
	grep -q "^$m " /proc/modules || insmod /lib/modules/$m.ko
done
# The image sits in the denied tree of the tmpfs, so the scope cannot read it as a file.
img=/tests/vm/file-data/secret/ext.img
dd if=/dev/zero of=$img bs=1024 count=4096 2> /dev/null
mke2fs -F $img 4096 > /dev/null
losetup /dev/loop7 $img
mkdir -p /mnt/disk
mount -t ext4 /dev/loop7 /mnt/disk
mkdir -p /mnt/disk/secret
echo 'disk secret' > /mnt/disk/secret/b.txt
echo 'disk public' > /mnt/disk/pub.txt
sync

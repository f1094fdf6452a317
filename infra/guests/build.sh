#!/bin/sh
# Build the test guest's initramfs from this Debian system's own packages (busybox-static,
# the cloud kernel's virtio-net, virtio-scsi, SCSI disk and ISO 9660 modules): no download. Usage: build.sh SRC_DIR OUT_DIR
set -eu
src=$1
out=$2
kernel=$(ls /lib/modules | sort | tail -n 1)
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/bin" "$root/etc" "$root/lib/modules" "$root/proc" "$root/sys" "$root/dev" "$root/tmp"
cp /bin/busybox "$root/bin/busybox"
# virtio-net for its NIC; virtio-scsi, the CD-ROM and ISO 9660 for Nova's config drive (its metadata);
# the SCSI disk driver for the volumes Nova attaches on the same virtio-scsi controller
for module in net/core/failover drivers/net/net_failover drivers/net/virtio_net \
  drivers/scsi/scsi_common drivers/scsi/scsi_mod drivers/scsi/virtio_scsi drivers/cdrom/cdrom \
  drivers/scsi/sr_mod drivers/scsi/sd_mod fs/isofs/isofs; do
  xz -dc "/lib/modules/$kernel/kernel/$module.ko.xz" > "$root/lib/modules/$(basename "$module").ko"
done
install -m 0755 "$src/init.sh" "$root/init"
install -m 0755 "$src/udhcpc.script" "$root/etc/udhcpc.script"
mkdir -p "$out"
(cd "$root" && find . | sort | cpio -o -H newc --reproducible --quiet) | gzip -n -1 > "$out/initrd.gz"
cp "/boot/vmlinuz-$kernel" "$out/vmlinuz"

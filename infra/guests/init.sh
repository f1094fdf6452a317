#!/bin/busybox sh
# PID 1 of the hatang test guest: a busybox initramfs that QEMU boots with a Debian kernel.
# What it does is read from the kernel command line, and every result is one line on the
# serial console starting with "HATANG <name>", which is how the tests read it:
#   hatang.name=NAME             how the guest names itself in its lines
#   hatang.listen=PORT,...       TCP listeners answering "hatang-NAME-PORT"
#   hatang.probe=PROBE,...       probed every second: icmp4:ADDR, icmp6:ADDR, tcp:ADDR:PORT
#   hatang.spoof=ADDR/LEN        an address the guest takes without being given it;
#                                probes spoof4:ADDR ping from it
#   hatang.disk=SERIAL:MARK      waits for the SCSI disk whose serial starts with SERIAL (a Cinder
#                                volume's id), says what its first bytes hold, writes MARK there
#                                and reads it back from the disk
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
insmod /lib/modules/failover.ko; insmod /lib/modules/net_failover.ko
# csum=0 gso=0: the guest computes its own checksums; with the host's offload (a tap with vnet_hdr,
# as libvirt opens it) OVS's userspace datapath would forward TCP with incomplete checksums
insmod /lib/modules/virtio_net.ko csum=0 gso=0

arg() { sed -n "s/.*hatang\.$1=\([^ ]*\).*/\1/p" /proc/cmdline; }
NAME=$(arg name)
say() { echo "HATANG $NAME $*"; }

ip link set lo up
ip link set eth0 up
say "boot"
if udhcpc -i eth0 -n -q -t 10 -T 1 -s /etc/udhcpc.script >/dev/null 2>&1; then say "dhcp4 ok"; else say "dhcp4 fail"; fi
# SLAAC: the kernel forms a global address from the router's advertisement by itself.
for _ in 1 2 3 4 5 6 7 8 9 10; do
  ip -6 addr show dev eth0 scope global | grep -q inet6 && break
  sleep 1
done
say "addr $(ip -o addr show dev eth0 | awk '{print $4}' | tr '\n' ' ')"

# Its metadata from Nova's config drive (ISO 9660 on a virtio-scsi CD-ROM), when it has one.
for module in scsi_common scsi_mod virtio_scsi cdrom sr_mod isofs; do insmod "/lib/modules/$module.ko"; done
if [ -n "$(ls /sys/class/scsi_host 2>/dev/null)" ]; then
  for _ in 1 2 3 4 5 6 7 8 9 10; do [ -b /dev/sr0 ] && break; sleep 1; done
  mkdir -p /mnt/config
  if mount -t iso9660 -o ro /dev/sr0 /mnt/config 2>/dev/null; then
    meta=/mnt/config/openstack/latest/meta_data.json
    net=/mnt/config/openstack/latest/network_data.json
    field() { sed -n "s/.*\"$1\": *\"\([^\"]*\)\".*/\1/p" "$2"; }
    say "metadata uuid=$(field uuid $meta) project=$(field project_id $meta) mac=$(field ethernet_mac_address $net)"
  else
    say "metadata none"
  fi
fi

DISK=$(arg disk)
if [ -n "$DISK" ]; then
  serial=${DISK%%:*}
  mark=${DISK#*:}
  insmod /lib/modules/sd_mod.ko
  dev=
  for _ in $(seq 90); do
    for block in /sys/block/sd*; do
      # VPD page 0x80 (the unit serial number) starts with NUL bytes, which busybox's grep stops at
      tr -d '\000' < "$block/device/vpd_pg80" 2>/dev/null | grep -qF "$serial" && dev=/dev/${block##*/} && break 2
    done
    sleep 1
  done
  if [ -z "$dev" ]; then
    say "disk $serial missing"
  else
    # the first 64 bytes, printable characters only: a mark an earlier guest wrote, or nothing
    found=$(dd if="$dev" bs=64 count=1 2>/dev/null | tr -cd 'A-Za-z0-9-')
    say "disk $serial found ${found:-blank}"
    printf '%s' "$mark" | dd of="$dev" bs=64 count=1 conv=sync,fsync 2>/dev/null
    echo 3 > /proc/sys/vm/drop_caches
    said=$(dd if="$dev" bs=64 count=1 2>/dev/null | tr -cd 'A-Za-z0-9-')
    say "disk $serial wrote ${said:-blank}"
  fi
fi

for port in $(arg listen | tr ',' ' '); do nc -ll -p "$port" -e echo "hatang-$NAME-$port" & done
SPOOF=$(arg spoof)
[ -n "$SPOOF" ] && ip addr add "$SPOOF" dev eth0

probe() {
  kind=${1%%:*}
  rest=${1#*:}
  case $kind in
    icmp4) ping -c 1 -W 1 "$rest" ;;
    icmp6) ping -6 -c 1 -W 1 "$rest" ;;
    spoof4) ping -c 1 -W 1 -I "${SPOOF%/*}" "$rest" ;;
    tcp) nc -w 2 "${rest%:*}" "${rest##*:}" </dev/null | grep -q "^hatang-" ;;
    *) return 2 ;;
  esac >/dev/null 2>&1
}
round=0
while true; do
  round=$((round + 1))
  for p in $(arg probe | tr ',' ' '); do
    if probe "$p"; then result=ok; else result=fail; fi
    say "round=$round probe=$p $result"
  done
  sleep 1
done

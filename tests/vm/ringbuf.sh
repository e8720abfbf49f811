# vm suite: a full ring buffer loses events, never decisions, and the loss is counted and logged.
# vigil-vm-args: --vigild-args --ringbuf-size=4096
. /tests/vm/lib.sh
N=60
pid=$(cat /run/vigild.pid)
mkdir -p /tmp/r
cp /bin/busybox /tmp/r/true

# With vigild stopped nobody drains the 4 KiB ring (room for about 11 events).
outside kill -STOP "$pid"
denied=0
i=0
while [ $i -lt $N ]; do
	/tmp/r/true 2> /dev/null || denied=$((denied + 1))
	i=$((i + 1))
done
outside kill -CONT "$pid"
[ $denied = $N ] && ok "every exec was still denied while events were lost ($denied/$N)" ||
	not_ok "every exec was still denied while events were lost" "$denied/$N denied"

expect_event "loss record written once vigild resumed" '"type":"ringbuf_drops"'
logged=$(grep -c '"path":"/tmp/r/true"' "$EVENTS")
lost=$(grep '"type":"ringbuf_drops"' "$EVENTS" | sed 's/.*"total":\([0-9]*\).*/\1/' | tail -n 1)
echo "# logged $logged, lost $lost of $N"
[ "$lost" -ge $((N - 20)) ] && ok "most events counted as lost ($lost)" || not_ok "most events counted as lost" "lost=$lost"
# Every decision is accounted for: logged or counted (other in-scope events may be lost too).
[ $((logged + lost)) -ge $N ] && ok "logged + lost covers every decision ($logged + $lost >= $N)" ||
	not_ok "logged + lost covers every decision" "$logged + $lost < $N"
grep -q "events lost" /out/vigild.log && ok "vigild says so in its log" || not_ok "vigild says so in its log" "$(cat /out/vigild.log)"
finish

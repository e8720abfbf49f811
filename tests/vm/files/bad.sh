#!/tmp/x/interp sh
echo bad-script-ran

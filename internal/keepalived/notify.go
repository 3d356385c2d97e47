package keepalived

import (
	"errors"
	"os"
	"path/filepath"
)

// NotifyLog is the file, in the directory given to WriteNotifyScript, that
// the notify script appends to.
const NotifyLog = "notify.log"

// WriteNotifyScript writes dir/notify.sh, a notify script for keepalived
// (and for examples/vrrpd, whose -notify calls it the same way) that
// appends one line per call to dir/notify.log: the time as epoch seconds
// with nanoseconds, then its arguments TYPE NAME STATE PRIORITY. It
// returns the script's path. ReadNotifyLog parses the record.
func WriteNotifyScript(dir string) (string, error) {
	script := filepath.Join(dir, "notify.sh")
	text := "#!/bin/sh\necho \"$(date +%s.%N) $*\" >> " + filepath.Join(dir, NotifyLog) + "\n"
	if err := os.WriteFile(script, []byte(text), 0o700); err != nil {
		return "", err
	}
	return script, nil
}

// ReadNotifyLog returns what the script WriteNotifyScript wrote into dir
// recorded so far, in the order it recorded it: nothing (and no error)
// before the first call. A line that does not parse is an error.
func ReadNotifyLog(dir string) ([]Transition, error) {
	b, err := os.ReadFile(filepath.Join(dir, NotifyLog))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return parseTransitions(b)
}

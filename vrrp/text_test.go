package vrrp

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestTextRoundTrip: the enums marshal to their names (JSON status pages
// read them) and back.
func TestTextRoundTrip(t *testing.T) {
	type all struct {
		S Stats
		T State
		F Family
	}
	in := all{S: Stats{NewMasterReason: ReasonPreempted, ProtoErrReason: ProtoErrChecksum, MasterTransitions: 3}, T: Fault, F: IPv6}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"preempted"`, `"checksumError"`, `"Fault"`, `"IPv6"`} {
		if !json.Valid(b) || !strings.Contains(string(b), want) {
			t.Errorf("JSON %s lacks %s", b, want)
		}
	}
	var out all
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(in, out); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	var r Reason
	if err := r.UnmarshalText([]byte("bogus")); err == nil {
		t.Error("UnmarshalText(bogus) succeeded")
	}
}

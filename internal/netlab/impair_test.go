package netlab

import (
	"math"
	"testing"
	"time"
)

func TestImpairmentValidate(t *testing.T) {
	for _, c := range []struct {
		im Impairment
		ok bool
	}{
		{Impairment{}, true},
		{Impairment{Delay: time.Second, Jitter: time.Millisecond, Loss: 1, Duplicate: 0.5, Reorder: 0.1, ReorderDelay: time.Millisecond, Limit: 5}, true},
		{Impairment{Delay: -1}, false},
		{Impairment{Jitter: -1}, false},
		{Impairment{ReorderDelay: -1}, false},
		{Impairment{Limit: -1}, false},
		{Impairment{Loss: 1.5}, false},
		{Impairment{Duplicate: -0.1}, false},
		{Impairment{Reorder: math.NaN(), ReorderDelay: time.Millisecond}, false},
		{Impairment{Reorder: 0.1}, false}, // no ReorderDelay
	} {
		if err := c.im.Validate(); (err == nil) != c.ok {
			t.Errorf("%+v: Validate() = %v, want ok %v", c.im, err, c.ok)
		}
	}
	if got := (Impairment{}).limit(); got != defaultLimit {
		t.Errorf("default limit %d, want %d", got, defaultLimit)
	}
}
